"""lstmLayer: float64 match with torch.nn.LSTM (or an explicit step reference), signals, lengths, states, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dltk
from dltk.errors import LayerInputError, OptionError
from dltk.layers import _recurrent_rebuild as rebuild
from dltk.layers import _recurrent_run as R
from dltk.layers._recurrent_rebuild import linear_scan, linear_scan_reference
from dltk.layers.lstm import lstm_step

D, H = 3, 4


def torch_lstm(layer: dltk.layers.LSTM, bidirectional: bool = False) -> nn.LSTM:
    """nn.LSTM with the layer's weights (MATLAB's one bias -> bias_ih, bias_hh = 0)."""
    ref = nn.LSTM(layer.input_size, layer.num_hidden_units, batch_first=True, bidirectional=bidirectional).double()
    n = 4 * layer.num_hidden_units
    with torch.no_grad():
        for k, sfx in enumerate(["_l0", "_l0_reverse"][: 1 + bidirectional]):
            getattr(ref, "weight_ih" + sfx).copy_(layer.input_weights[k * n : (k + 1) * n])
            getattr(ref, "weight_hh" + sfx).copy_(layer.recurrent_weights[k * n : (k + 1) * n])
            getattr(ref, "bias_ih" + sfx).copy_(layer.bias[k * n : (k + 1) * n])
            getattr(ref, "bias_hh" + sfx).zero_()
    return ref


def step_reference(layer, x, h, c, gate, state):
    """Float64 LSTM recursion by the layer's readable step function (MATLAB's equations)."""
    W, Rw, b = layer.input_weights, layer.recurrent_weights, layer.bias
    hs, gates = [], []
    for t in range(x.shape[1]):
        s = lstm_step(x[:, t], h, c, W, Rw, b, gate, state)
        h, c = s["hidden_state"], s["cell_state"]
        hs.append(h)
        gates.append(tuple(s[n] for n in ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state")))
    return torch.stack(hs, 1), h, c, gates


def make(**kw) -> dltk.layers.LSTM:
    return dltk.lstmLayer(H, InputSize=D, **kw).double()


@pytest.mark.parametrize("mode", ["sequence", "last"])
def test_matches_torch_lstm_outputs_states_and_gradients(mode):
    layer = make(OutputMode=mode, HasStateOutputs=True, BiasInitializer="narrow-normal")
    ref = torch_lstm(layer)
    x = torch.randn(2, 5, D, dtype=torch.float64, requires_grad=True)
    y, h, c = layer(x)
    yr, (hr, cr) = ref(x)
    yr = yr if mode == "sequence" else yr[:, -1]
    torch.testing.assert_close(y, yr, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(h, hr[0], atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(c, cr[0], atol=1e-12, rtol=1e-10)
    g = torch.randn_like(y)
    gx, gW, gR, gb = torch.autograd.grad((y * g).sum() + h.sum() + c.sum(), [x, *layer.parameters()])
    gxr, gWr, gRr, gbr = torch.autograd.grad(
        (yr * g).sum() + hr.sum() + cr.sum(), [x, ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0]
    )
    for a, b in [(gx, gxr), (gW, gWr), (gR, gRr), (gb, gbr)]:
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize(
    "gate,state", [("hard-sigmoid", "tanh"), ("sigmoid", "softsign"), ("hard-sigmoid", "softsign")]
)
def test_other_activations_match_step_reference_with_gradients(gate, state):
    layer = make(
        GateActivationFunction=gate,
        StateActivationFunction=state,
        HiddenState=torch.randn(H),
        CellState=torch.randn(H, 1),
    )
    x = torch.randn(3, 6, D, dtype=torch.float64, requires_grad=True) * 3
    gfn = R.hard_sigmoid if gate == "hard-sigmoid" else torch.sigmoid
    sfn = (lambda v: v / (1 + v.abs())) if state == "softsign" else torch.tanh
    h0 = layer.hidden_state.double().expand(3, H)
    c0 = layer.cell_state.double().expand(3, H)
    yr, _, _, _ = step_reference(layer, x, h0, c0, gfn, sfn)
    y = layer(x)
    torch.testing.assert_close(y, yr, atol=1e-12, rtol=1e-10)
    grads = torch.autograd.grad(y.pow(2).sum(), [x, *layer.parameters()])
    grads_r = torch.autograd.grad(yr.pow(2).sum(), [x, *layer.parameters()])
    for a, b in zip(grads, grads_r):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-9)


def test_hard_sigmoid_definition():
    x = torch.tensor([-3.0, -2.5, -1.0, 0.0, 2.0, 2.5, 4.0])
    assert R.hard_sigmoid(x).tolist() == pytest.approx([0.0, 0.0, 0.3, 0.5, 0.9, 1.0, 1.0])


@pytest.mark.parametrize("path", ["kernel+reconstruct", "steps"])
@pytest.mark.parametrize("gate,state", [("sigmoid", "tanh"), ("hard-sigmoid", "softsign")])
def test_recorded_gates_reproduce_states_and_equal_plain_run(monkeypatch, path, gate, state):
    monkeypatch.setattr(R, "step_loop_pays", lambda *a: path == "steps")
    layer = make(GateActivationFunction=gate, StateActivationFunction=state, CellState=torch.randn(H))
    x = torch.randn(3, 7, D, dtype=torch.float64)
    plain = layer(x)
    with torch.no_grad():
        rec = dltk.record(layer, x)
    s = rec["lstm"]
    torch.testing.assert_close(rec.output, plain.detach(), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(s["hidden_state"], plain.detach(), atol=1e-12, rtol=1e-10)
    sfn = R.STATE_FUNCTIONS[state]
    c = layer.cell_state.double().expand(3, H)
    for t in range(7):
        i, f, g, o = (s[n][:, t] for n in ("input_gate", "forget_gate", "cell_candidate", "output_gate"))
        c = f * c + i * g
        torch.testing.assert_close(s["cell_state"][:, t], c, atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(s["hidden_state"][:, t], o * sfn(c), atol=1e-12, rtol=1e-10)
    _, _, _, gates = step_reference(
        layer, x, torch.zeros(3, H, dtype=torch.float64), layer.cell_state.double(), R.GATE_FUNCTIONS[gate], sfn
    )
    torch.testing.assert_close(s["forget_gate"][:, 3], gates[3][1], atol=1e-12, rtol=1e-10)
    pre = s["gates_pre"]
    assert pre.shape == (3, 7, 4 * H)
    torch.testing.assert_close(R.GATE_FUNCTIONS[gate](pre[..., H : 2 * H]), s["forget_gate"])


def test_recording_with_grad_and_keep_graph_and_float32():
    layer = dltk.lstmLayer(H, InputSize=D)
    x = torch.randn(2, 80, D)
    rec = dltk.record(layer, x, keep_graph=True)  # long narrow: log-depth scan path
    assert rec["lstm"]["cell_state"].requires_grad
    torch.testing.assert_close(rec.output, layer(x), atol=1e-6, rtol=1e-5)
    c = torch.zeros(2, H)
    s = rec["lstm"]
    for t in range(80):
        c = s["forget_gate"][:, t] * c + s["input_gate"][:, t] * s["cell_candidate"][:, t]
    torch.testing.assert_close(s["cell_state"][:, -1], c, atol=1e-5, rtol=1e-5)


def test_recording_only_requested_signals():
    layer = make()
    x = torch.randn(2, 5, D, dtype=torch.float64)
    rec = dltk.record(layer, x, signals=["output_gate"])
    assert list(rec["lstm"]) == ["output_gate"]
    full = dltk.record(layer, x)["lstm"]["output_gate"]
    torch.testing.assert_close(rec["lstm"]["output_gate"], full)


def test_lengths_equal_running_each_sequence_alone():
    layer = make(OutputMode="last", HasStateOutputs=True)
    seqs = [torch.randn(n, D, dtype=torch.float64) for n in (5, 2, 4)]
    X, L = dltk.sequences.pad_sequences(seqs)
    y, h, c = layer(X, lengths=L)
    ys, _, _ = dltk.lstmLayer(H, InputSize=D, OutputMode="sequence", HasStateOutputs=True).double()(X)
    for b, s in enumerate(seqs):
        yb, hb, cb = layer(s[None])
        torch.testing.assert_close(y[b], yb[0], atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(h[b], hb[0], atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(c[b], cb[0], atol=1e-12, rtol=1e-10)
    rec = dltk.record(layer, X, lengths=L)
    seq_layer = make(OutputMode="sequence")
    seq_layer.load_state_dict(layer.state_dict())
    out = seq_layer(X, lengths=L)
    assert (out[1, 2:] == 0).all() and (rec["lstm"]["forget_gate"][1, 2:] == 0).all()
    torch.testing.assert_close(rec["lstm"]["hidden_state"][0], seq_layer(seqs[0][None])[0])
    assert ys.shape == (3, 5, H)


def test_matlab_views_share_storage():
    layer = make(BiasInitializer="zeros")
    assert layer.InputWeights.shape == (4 * H, D) and layer.RecurrentWeights.shape == (4 * H, H)
    assert layer.Bias.shape == (4 * H, 1)
    with torch.no_grad():
        layer.InputWeights[H, 0] = 7.0
        layer.Bias[H + 1, 0] = 3.0
    assert layer.input_weights[H, 0] == 7.0 and layer.bias[H + 1] == 3.0
    layer.RecurrentWeights = torch.ones(4 * H, H)
    assert (layer.recurrent_weights == 1).all()


def test_initializers_defaults():
    layer = dltk.lstmLayer(H, InputSize=D)
    assert layer.bias.tolist() == [0.0] * H + [1.0] * H + [0.0] * (2 * H)
    R_f = layer.RecurrentWeights[H : 2 * H]
    torch.testing.assert_close(R_f @ R_f.T, torch.eye(H), atol=1e-5, rtol=0)
    a = (6 / (D + 4 * H)) ** 0.5
    assert layer.InputWeights.abs().max() <= a
    given = dltk.lstmLayer(H, InputWeights=torch.ones(4 * H, D))
    assert given.InputSize == D and (given.InputWeights == 1).all()


def test_lazy_input_size_and_description():
    layer = dltk.lstmLayer(100, "OutputMode", "last")
    assert layer.input_weights is None and layer.InputSize == "auto"
    assert layer(torch.randn(2, 3, 12)).shape == (2, 100)
    assert layer.InputSize == 12
    assert layer.description() == "100 LSTM hidden units, OutputMode 'last'"


def test_option_errors():
    with pytest.raises(OptionError, match=r"lstmLayer: invalid OutputMode 'lst'. Allowed values: 'sequence', 'last'"):
        dltk.lstmLayer(10, OutputMode="lst")
    with pytest.raises(OptionError, match="GateActivationFunction"):
        dltk.lstmLayer(10, GateActivationFunction="relu")
    with pytest.raises(OptionError, match="HasStateInputs"):
        dltk.lstmLayer(10, HasStateInputs=True, HiddenState=torch.zeros(10))
    with pytest.raises(OptionError, match="4-element"):
        dltk.lstmLayer(10, InputWeightsLearnRateFactor=[1, 2])
    layer = dltk.lstmLayer(10, BiasLearnRateFactor=[1, 2, 3, 4], Name="l", InputSize=2)
    assert layer.learn_factors()["bias"] == ((1.0, 2.0, 3.0, 4.0), 0.0)
    with pytest.raises(OptionError, match="NumHiddenUnits"):
        dltk.lstmLayer(0)


def test_input_errors_name_layer_and_both_notations():
    layer = make(Name="lstm_1")
    with pytest.raises(LayerInputError, match=r"lstmLayer 'lstm_1'.*\(B, T, 3\) BTC \[MATLAB 3×B×T CBT\].*\(2, 5\)"):
        layer(torch.randn(2, 5, dtype=torch.float64))
    with pytest.raises(LayerInputError, match=r"C is 4, expected 3"):
        layer(torch.randn(2, 5, 4, dtype=torch.float64))
    with pytest.raises(LayerInputError, match="floating-point"):
        layer(torch.ones(2, 5, 3, dtype=torch.long))
    with pytest.raises(LayerInputError, match="lengths"):
        layer(torch.randn(2, 5, 3, dtype=torch.float64), lengths=torch.tensor([6, 2]))


def test_state_ports_and_stateful_prediction():
    layer = make(HasStateInputs=True, HasStateOutputs=True)
    assert layer.InputNames == ["in", "hidden", "cell"] and layer.OutputNames == ["out", "hidden", "cell"]
    x = torch.randn(2, 6, D, dtype=torch.float64)
    h0, c0 = torch.randn(2, H, dtype=torch.float64), torch.randn(2, H, dtype=torch.float64)
    y, h, c = layer(x, h0, c0)
    ref = torch_lstm(layer)
    yr, (hr, cr) = ref(x, (h0[None], c0[None]))
    torch.testing.assert_close(y, yr)
    with pytest.raises(LayerInputError):
        layer(x, h0[:, :2], c0)
    # stateful: two halves with update_state == the whole sequence
    s = make(OutputMode="sequence", HasStateOutputs=True)
    whole = s(x)[0]
    first, h1, c1 = s(x[:, :3])
    s.update_state(h1, c1)
    assert s.HiddenState.shape == (H, 2)
    second = s(x[:, 3:])[0]
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    s.reset_state()
    assert s.HiddenState is None
    torch.testing.assert_close(s(x)[0], whole)


@pytest.mark.parametrize("T", [1, 5, 16, 17, 50, 101, 1000])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("how", ["new", "in-place", "strided", "graph"])
@pytest.mark.parametrize("BH", [(2, 3), (4, 70)], ids=["thin", "wide"])
def test_linear_scan_equals_step_recursion(T, reverse, how, BH):
    """Every chunking (T = K·L and a remainder, several levels), both directions, written in place into u,
    on strided views (gate blocks of one buffer), and with autograd (the out-of-place scan); the stacked
    scan of few values a step (B·H ≤ THIN) and the two-pass scan. f holds exact zeros and ones."""
    B, H = BH
    torch.manual_seed(T)
    fu = torch.rand(B, T, 2, H, dtype=torch.float64)
    fu[:, :, 1] = torch.randn(B, T, H, dtype=torch.float64)
    fu[:, ::7, 0, 0] = 0.0  # a forget gate of exactly 0 or 1 (no division may appear)
    fu[:, 3::5, 0, -1] = 1.0
    f, u = (fu[:, :, 0], fu[:, :, 1]) if how == "strided" else (fu[:, :, 0].contiguous(), fu[:, :, 1].contiguous())
    c0 = torch.randn(B, H, dtype=torch.float64, requires_grad=how == "graph")
    ref = linear_scan_reference(f, u, c0, reverse)
    if how == "in-place":
        u = u.clone()
        got = linear_scan(f, u, c0, out=u, reverse=reverse)
        assert got is u
    else:
        got = linear_scan(f, u, c0, reverse=reverse)
    torch.testing.assert_close(got, ref, atol=1e-13, rtol=1e-12)
    if how == "graph":
        g, gr = (torch.autograd.grad(v.pow(2).sum(), c0)[0] for v in (got, ref))
        torch.testing.assert_close(g, gr, atol=1e-13, rtol=1e-12)


@pytest.mark.parametrize("T", [16, 40, 100, 1000, 1003])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_linear_scan_float32_as_accurate_as_the_step_recursion(T, reverse):
    """float32: the chunked scans' error against float64 stays that of the float32 step recursion."""
    torch.manual_seed(T)
    for B, H in ((1, 64), (4, 70)):  # the stacked scan (B·H ≤ THIN) and the two-pass scan
        assert rebuild._stacked(T, B * H) == (H == 64)
        f, u, c0 = torch.rand(B, T, H), torch.randn(B, T, H), torch.randn(B, H)
        f[:, ::9] = 1.0
        f[:, 4::11] = 0.0
        exact = linear_scan_reference(f.double(), u.double(), c0.double(), reverse)
        step = (linear_scan_reference(f, u, c0, reverse).double() - exact).abs().max()
        got = (linear_scan(f, u, c0, reverse=reverse).double() - exact).abs().max()
        assert got <= 4 * step + 1e-6, (B, H, got, step)


def test_linear_scan_takes_the_stacked_scan_for_thin_long_sequences(monkeypatch):
    """(1, 1000, 64): the stacked scan over several levels; wider ones keep the two-pass scan."""
    calls = []
    stacked = rebuild._scan_stacked
    monkeypatch.setattr(rebuild, "_scan_stacked", lambda *a: calls.append(a[1].shape) or stacked(*a))
    linear_scan(torch.rand(1, 1000, 64), torch.randn(1, 1000, 64), torch.zeros(1, 64))
    assert len(calls) >= 2 and calls[0] == (1, 1000, 64)  # level 1, then the scan over the chunk ends
    calls.clear()
    linear_scan(torch.rand(4, 1000, 70), torch.randn(4, 1000, 70), torch.zeros(4, 70))
    assert not calls
    monkeypatch.setattr(rebuild, "STACKED_MAX", 1000 * 64 - 1)  # a buffer over the cap: the two-pass scan
    rebuild._chunk.cache_clear()
    f, u, c0 = (torch.rand(1, 1000, 64), torch.randn(1, 1000, 64), torch.zeros(1, 64))
    f, u, c0 = f.double(), u.double(), c0.double()
    torch.testing.assert_close(linear_scan(f, u, c0), linear_scan_reference(f, u, c0), atol=1e-13, rtol=1e-12)
    assert (1, 1000, 64) not in calls  # (the scan over the chunk ends may be stacked again)
    rebuild._chunk.cache_clear()
