"""The widgets and views on a student's own PyTorch model (issue 12, "Seeing and diagnosing").

The values a widget shows are those of ``dltk.record(model, X)`` (compared exactly: the
widget reads the same tensors); the reverse direction of a bidirectional ``nn.LSTM`` is shown
in its own step order (step t = input time T − 1 − t), and its previous state is checked against
the recording; ``close()`` frees like the other widgets.
"""

from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest
import torch
from torch import nn

import dltk
from dltk.errors import OptionError
from dltk.viz import GateHeatmaps, ModuleTree
from dltk.widgets import LSTMStepper, NetworkExplorer


class Encoder(nn.Module):
    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=batch_first)


class Classifier(nn.Module):
    """The shape of a student's model: an encoder holding an nn.LSTM, a head reading the last step."""

    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.encoder = Encoder(batch_first)
        self.head = nn.Sequential(nn.Linear(10, 4), nn.ReLU(), nn.Linear(4, 2))

    def forward(self, x: torch.Tensor, hx: tuple | None = None) -> torch.Tensor:
        y, _ = self.encoder.lstm(x, hx)
        last = y[:, -1] if self.encoder.lstm.batch_first else y[-1]
        return self.head(last)


@pytest.fixture()
def model_x():
    torch.manual_seed(0)
    return Classifier(), torch.randn(3, 6, 3)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


# ------------------------------------------------------------------ the stepper
@pytest.mark.parametrize("lstm_layer", [0, 1])
@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_stepper_shows_the_recorded_layer_and_direction(model_x, lstm_layer, direction):
    model, X = model_x
    rec = dltk.record(model, X)
    w = LSTMStepper(model, X, layer="encoder.lstm", lstm_layer=lstm_layer, direction=direction, interactive=False)
    sfx = f"_l{lstm_layer}" + ("_reverse" if direction == "reverse" else "")
    assert w.signal_names["forget_gate"] == "forget_gate" + sfx
    sigs = rec["encoder.lstm"]
    T = X.shape[1]
    for step in (0, 2, T - 1):
        w.observation.value = 1
        w.time.value = step
        t = T - 1 - step if direction == "reverse" else step
        assert w.input_time[step] == t
        for key, sig in LSTMStepper.READOUT:
            np.testing.assert_allclose(w.diagram.values[key], _np(sigs[sig + sfx][1, t, [0]]), rtol=0, atol=1e-7)
        # the previous state is the one the direction saw before: t-1 forward, t+1 reverse, zeros first
        prev = t + 1 if direction == "reverse" else t - 1
        want = _np(sigs["cell_state" + sfx][1, prev, [0]]) if step > 0 else np.zeros(1)
        np.testing.assert_allclose(w.diagram.values["c_prev"], want, rtol=0, atol=1e-7)
        assert f"data-input-time='{t}'" in w.readout.value
        assert f"data-recorded='forget_gate{sfx}'" in w.readout.value
    # the input shown is what entered that stacked layer at that input time
    w.time.value = 1
    t = T - 2 if direction == "reverse" else 1
    x_in = (
        X[1, t]
        if lstm_layer == 0
        else torch.cat([sigs["hidden_state_l0"][1, t], sigs["hidden_state_l0_reverse"][1, t]])
    )
    np.testing.assert_allclose(w.diagram.values["x"], _np(x_in), rtol=0, atol=1e-7)
    w.close()


def test_stepper_gate_equations_hold_on_what_it_shows(model_x):
    """c_t = f⊙c_{t−1} + i⊙g and h_t = o⊙tanh(c_t) on the diagram's numbers (reverse direction, layer 1)."""
    model, X = model_x
    w = LSTMStepper(model, X, layer="encoder.lstm", lstm_layer=1, direction="backward", units=(0, 3), interactive=False)
    for step in range(X.shape[1]):
        w.step(step)
        v = w.diagram.values
        np.testing.assert_allclose(v["c"], v["f"] * v["c_prev"] + v["i"] * v["g"], atol=1e-5)
        np.testing.assert_allclose(v["h"], v["o"] * np.tanh(v["c"]), atol=1e-5)
    w.close()


def test_stepper_time_major_model_and_given_initial_state():
    torch.manual_seed(1)
    model = Classifier(batch_first=False)
    X = torch.randn(6, 2, 3)  # (T, B, C): nn.LSTM's default layout
    h0, c0 = torch.randn(4, 2, 5), torch.randn(4, 2, 5)
    rec = dltk.record(model, X, (h0, c0))
    w = LSTMStepper(model, (X, (h0, c0)), layer="encoder.lstm", lstm_layer=1, interactive=False)
    w.observation.value = 1
    w.time.value = 0
    np.testing.assert_allclose(w.diagram.values["c_prev"], _np(c0[2, 1, [0]]), atol=1e-7)  # l1 forward = index 2
    np.testing.assert_allclose(w.diagram.values["h_prev"], _np(h0[2, 1, [0]]), atol=1e-7)
    np.testing.assert_allclose(w.diagram.values["i"], _np(rec["encoder.lstm"]["input_gate_l1"][1, 0, [0]]), atol=1e-7)
    w.close()
    w = LSTMStepper(model, (X, (h0, c0)), layer="encoder.lstm", interactive=False)
    w.observation.value = 1
    w.time.value = 4
    np.testing.assert_allclose(w.diagram.values["x"], _np(X[4, 1]), atol=1e-7)  # (T, B, C) read as (B, T, C)
    w.close()


def test_stepper_finds_the_first_lstm_and_takes_a_recording(model_x):
    model, X = model_x
    w = LSTMStepper(model, X, interactive=False)
    assert w.layer == "encoder.lstm" and w.signal_names["hidden_state"] == "hidden_state_l0"
    w.close()
    rec = dltk.record(model, X)
    w = LSTMStepper(rec, lstm_layer=1, direction="reverse", interactive=False)
    w.time.value = 0
    np.testing.assert_allclose(
        w.diagram.values["h"], _np(rec["encoder.lstm"]["hidden_state_l1_reverse"][0, -1, [0]]), atol=1e-7
    )
    w.close()
    one = nn.Sequential(nn.LSTM(3, 4, batch_first=True))  # one layer, one direction: the plain names
    w = LSTMStepper(one, X, interactive=False)
    assert w.layer == "0" and w.signal_names["forget_gate"] == "forget_gate"
    w.close()


def test_stepper_clear_errors(model_x):
    model, X = model_x
    with pytest.raises(OptionError, match="lstm_layer=1, direction='reverse'"):
        LSTMStepper(model, X, layer="encoder.lstm", lstm_layer=2, interactive=False)
    with pytest.raises(OptionError, match="direction must be"):
        LSTMStepper(model, X, layer="encoder.lstm", direction="left", interactive=False)
    with pytest.raises(OptionError, match="no module 'encoder.lsmt'"):
        LSTMStepper(model, X, layer="encoder.lsmt", interactive=False)
    proj = nn.Sequential(nn.LSTM(3, 6, proj_size=2, batch_first=True))
    with warnings.catch_warnings(), pytest.raises(OptionError, match="proj_size"):
        warnings.simplefilter("ignore", UserWarning)  # "LSTM with projections is not supported with oneDNN"
        LSTMStepper(proj, X, interactive=False)


# ------------------------------------------------------------------ the explorer
def test_explorer_lists_the_module_tree_in_call_order(model_x):
    class Backwards(nn.Module):  # defined in one order, called in another
        def __init__(self) -> None:
            super().__init__()
            self.out = nn.Linear(4, 2)
            self.mid = nn.Tanh()
            self.first = nn.Linear(3, 4)

        def forward(self, x):
            return self.out(self.mid(self.first(x)))

    torch.manual_seed(0)
    m, X = Backwards(), torch.randn(5, 3)
    rec = dltk.record(m, X)
    w = NetworkExplorer(m, X, interactive=False)
    assert w.order == ["first", "mid", "out"]
    assert isinstance(w.graph, ModuleTree) and w.graph.names == ["first", "mid", "out"]
    assert w.layer.options == ("first", "mid", "out")
    w.observation.value = 2
    w.layer.value = "first"
    assert w.graph.selected == "first"
    # the readout's statistics are those of the recording
    y = _np(rec["first"]["output"][2])
    assert f"<td data-stat='mean'>{y.mean():.4f}</td>" in w.readout.value
    assert f"<td data-stat='max'>{y.max():.4f}</td>" in w.readout.value
    # clicking a box chooses its module
    w.graph.fig.canvas.draw()
    box = w.graph.boxes["out"]
    (x0, y0), (x1, y1) = box.get_window_extent().get_points()
    from matplotlib.backend_bases import MouseEvent

    w._on_click(MouseEvent("button_press_event", w.graph.fig.canvas, (x0 + x1) / 2, (y0 + y1) / 2))
    assert w.layer.value == "out"
    w.close()


def test_explorer_shows_the_lstm_signals_and_the_black_boxes(model_x):
    class WithCustom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(2))
            self.lstm = nn.LSTM(3, 2, batch_first=True)

        def forward(self, x):
            return self.lstm(x)[0] * self.w

    torch.manual_seed(0)
    m = nn.Sequential(WithCustom(), nn.Flatten())
    X = torch.randn(2, 4, 3)
    w = NetworkExplorer(m, X, layer="0.lstm", interactive=False)
    assert w.order[:2] == ["0", "0.lstm"]  # the parent's forward begins first
    assert "forget_gate" in w.signals_view.names
    assert "output only" in [t.get_text() for t in w.graph.ax.texts if "output" in t.get_text()][0]
    w.close()


# ------------------------------------------------------------------ views
def test_gate_heatmaps_show_every_layer_and_direction(model_x):
    model, X = model_x
    rec = dltk.record(model, X)
    h = GateHeatmaps(rec, "encoder.lstm", observation=2)
    assert set(h.directions) == {"l0", "l0_reverse", "l1", "l1_reverse"}
    img = h.images[("l1_reverse", "forget_gate")].get_array()
    np.testing.assert_allclose(np.asarray(img), _np(rec["encoder.lstm"]["forget_gate_l1_reverse"][2].T), atol=1e-7)


# ------------------------------------------------------------------ closing frees
@pytest.mark.parametrize("kind", ["stepper", "explorer"])
def test_close_frees_the_recording_and_the_model(model_x, kind):
    model, X = model_x

    def build():
        if kind == "stepper":
            return LSTMStepper(model, X, layer="encoder.lstm", lstm_layer=1, interactive=False)
        return NetworkExplorer(model, X, cache=2, interactive=False)

    w = build()
    rec = weakref.ref(w.rec)
    ref = weakref.ref(w)
    w.close()
    del w
    gc.collect()
    assert ref() is None and rec() is None
    assert not model._forward_hooks and not model._forward_pre_hooks
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in model.modules())


# ------------------------------------------------------------------ ∂loss/∂c_t (record(..., differentiable=True))
def _reference_cell_grad(m: nn.LSTM, X: torch.Tensor, loss_fn, t_eps: tuple[int, int, int] | None = None, eps=0.0):
    """Float64 reference: a plain step loop of a one-layer LSTM with a perturbation δ added to c_t.

    Returns (loss, ∂loss/∂δ = ∂loss/∂c_t) — or, with ``t_eps`` = (b, t, j), the loss with c_t[b, j] moved by eps.
    """
    W, R = m.weight_ih_l0, m.weight_hh_l0
    bias = m.bias_ih_l0 + m.bias_hh_l0
    B, T, _ = X.shape
    H = m.hidden_size
    delta = torch.zeros(B, T, H, dtype=X.dtype, requires_grad=True)
    h = c = X.new_zeros(B, H)
    hs = []
    for t in range(T):
        z = X[:, t] @ W.t() + h @ R.t() + bias
        i, f, g, o = (
            torch.sigmoid(z[:, :H]),
            torch.sigmoid(z[:, H : 2 * H]),
            torch.tanh(z[:, 2 * H : 3 * H]),
            torch.sigmoid(z[:, 3 * H :]),
        )
        c = f * c + i * g + delta[:, t]
        if t_eps is not None and t == t_eps[1]:
            bump = torch.zeros_like(c)
            bump[t_eps[0], t_eps[2]] = eps
            c = c + bump
        h = o * torch.tanh(c)
        hs.append(h)
    loss = loss_fn(torch.stack(hs, 1))
    if t_eps is not None:
        return loss.detach(), None
    (grad,) = torch.autograd.grad(loss, delta)
    return loss.detach(), grad


def test_differentiable_recording_gives_dloss_dc_t():
    torch.manual_seed(0)
    m = nn.LSTM(3, 4, batch_first=True).double()
    X = torch.randn(2, 6, 3, dtype=torch.float64)
    target = torch.randn(2, 6, 4, dtype=torch.float64)

    def loss_fn(y):
        return ((y - target) ** 2).sum() + y[:, -1].sum()

    rec = dltk.record(m, X, differentiable=True)
    y, _ = m(X)
    torch.testing.assert_close(rec.output[0], y, rtol=0, atol=1e-12)  # the output is the module's
    loss = loss_fn(rec.output[0])
    loss.backward()
    c = rec["lstm"]["cell_state"]
    ref_loss, ref = _reference_cell_grad(m, X, loss_fn)
    torch.testing.assert_close(loss.detach(), ref_loss, rtol=0, atol=1e-12)
    torch.testing.assert_close(c.grad, ref, rtol=1e-10, atol=1e-12)
    assert c.grad[:, 0].abs().sum() > 0  # the early steps get gradient through the later ones
    # one element against a central finite difference (float64, eps = 1e-6: agreement to ~1e-8)
    eps = 1e-6
    up, _ = _reference_cell_grad(m, X, loss_fn, (1, 2, 3), eps)
    down, _ = _reference_cell_grad(m, X, loss_fn, (1, 2, 3), -eps)
    assert abs(float((up - down) / (2 * eps)) - float(c.grad[1, 2, 3])) < 1e-7
    # the parameters get the gradients of a plain backward pass
    rec_grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    loss_fn(m(X)[0]).backward()
    for a, b in zip(rec_grads, (p.grad for p in m.parameters())):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_differentiable_recording_of_a_stacked_bidirectional_lstm():
    torch.manual_seed(1)
    model = Classifier().double()
    X = torch.randn(3, 5, 3, dtype=torch.float64)
    plain = dltk.record(model, X)
    rec = dltk.record(model, X, differentiable=True)
    torch.testing.assert_close(rec.output, model(X), rtol=0, atol=1e-12)
    for name in plain["encoder.lstm"]:
        torch.testing.assert_close(rec["encoder.lstm"][name], plain["encoder.lstm"][name], rtol=0, atol=1e-12)
    rec.output.sum().backward()
    g = rec["encoder.lstm"]
    # the head reads the last output step: the reverse direction of layer 1 sees it at its *first* step,
    # so its gradient reaches every step; the forward direction's cell state gets none after step T-1's read
    assert g["cell_state_l1_reverse"].grad.abs().sum() > 0 and g["forget_gate_l0"].grad.abs().sum() > 0
    assert torch.all(g["hidden_state_l1_reverse"].grad[:, :-1] == 0)
    assert not model._forward_hooks and all(not mm._forward_hooks for mm in model.modules())


@pytest.mark.parametrize("kind", ["stepper", "explorer"])
def test_widget_figures_on_a_torch_model_follow_the_figure_rules(model_x, kind):
    from dltk.viz import style

    model, X = model_x
    if kind == "stepper":
        w = LSTMStepper(model, X, layer="encoder.lstm", lstm_layer=1, direction="reverse", interactive=False)
    else:
        w = NetworkExplorer(model, X, layer="encoder.lstm", cache=2, interactive=False)
    try:
        problems = [p for k, v in enumerate(w.views) for p in style.figure_problems(v.fig, f"{kind} figure {k}")]
        assert not problems, "\n".join(problems)
    finally:
        w.close()
