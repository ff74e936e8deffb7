"""LayerCase entries for lstmLayer, bilstmLayer and gruLayer (every mode), run by the shared battery.

References are independent float64 computations: ``torch.nn.LSTM``/``torch.nn.GRU``
with the layer's weights copied in (MATLAB's single bias -> ``bias_ih``,
``bias_hh = 0``), or an explicit step recursion where PyTorch has no module
(softsign, hard-sigmoid, GRU before-multiplication).
"""

from __future__ import annotations

import torch
from torch import nn

from dltk.layers import GRU, LSTM, BiLSTM
from dltk.testing.case import Bench, LayerCase

from ._bench import seq

B, T, D, H = 2, 4, 3, 3
F64 = torch.float64
LENGTHS = torch.tensor([4, 2])


def _x() -> tuple[torch.Tensor]:
    return (torch.randn(B, T, D, dtype=F64),)


def _hard_sigmoid(v: torch.Tensor) -> torch.Tensor:
    return torch.clamp(0.2 * v + 0.5, 0, 1)


def _softsign(v: torch.Tensor) -> torch.Tensor:
    return v / (1 + v.abs())


_GATE = {"sigmoid": torch.sigmoid, "hard-sigmoid": _hard_sigmoid}
_STATE = {"tanh": torch.tanh, "softsign": _softsign}


def _lstm_dir(x, W, R, b, gate, state, lengths=None):
    """Explicit LSTM recursion over one direction; each sequence stops at its length."""
    n, hs = R.shape[1], []
    h = c = x.new_zeros(x.shape[0], n)
    for t in range(x.shape[1]):
        z = x[:, t] @ W.T + h @ R.T + b
        i, f, g, o = gate(z[:, :n]), gate(z[:, n : 2 * n]), state(z[:, 2 * n : 3 * n]), gate(z[:, 3 * n :])
        c_new = f * c + i * g
        h_new = o * state(c_new)
        m = torch.ones(x.shape[0], 1, dtype=torch.bool) if lengths is None else (lengths > t)[:, None]
        c, h = torch.where(m, c_new, c), torch.where(m, h_new, h)
        hs.append(h_new * m)
    return torch.stack(hs, 1)


def _last(y, lengths):
    return y[:, -1] if lengths is None else y[torch.arange(y.shape[0]), lengths - 1]


def lstm_reference(layer, x, lengths=None):
    gate, state = _GATE[layer.gate_activation_function], _STATE[layer.state_activation_function]
    n = 4 * H
    if gate is torch.sigmoid and state is torch.tanh and lengths is None:
        ref = nn.LSTM(D, H, batch_first=True, bidirectional=layer._dirs == 2).double()
        with torch.no_grad():
            for k, sfx in enumerate(["_l0", "_l0_reverse"][: layer._dirs]):
                getattr(ref, "weight_ih" + sfx).copy_(layer.input_weights[k * n : (k + 1) * n])
                getattr(ref, "weight_hh" + sfx).copy_(layer.recurrent_weights[k * n : (k + 1) * n])
                getattr(ref, "bias_ih" + sfx).copy_(layer.bias[k * n : (k + 1) * n])
                getattr(ref, "bias_hh" + sfx).zero_()
        y = ref(x)[0]
    else:
        parts = []
        for k in range(layer._dirs):
            W, R, b = (p[k * n : (k + 1) * n] for p in (layer.input_weights, layer.recurrent_weights, layer.bias))
            if k == 0:
                parts.append(_lstm_dir(x, W, R, b, gate, state, lengths))
            else:  # backward: run each sequence reversed within its own length
                L = [T] * x.shape[0] if lengths is None else lengths.tolist()
                xr = torch.stack([torch.cat([xb[:l].flip(0), xb[l:]]) for xb, l in zip(x, L)])
                yr = _lstm_dir(xr, W, R, b, gate, state, lengths)
                parts.append(torch.stack([torch.cat([yb[:l].flip(0), yb[l:]]) for yb, l in zip(yr, L)]))
        y = torch.cat(parts, -1)
    return y if layer.output_mode == "sequence" else _last(y, lengths)


def gru_reference(layer, x, lengths=None):
    gate, state = _GATE[layer.gate_activation_function], _STATE[layer.state_activation_function]
    W, R, b = layer.input_weights, layer.recurrent_weights, layer.bias
    mode = layer.reset_gate_mode
    bW, bR = (b[: 3 * H], b[3 * H :]) if b.numel() == 6 * H else (b, torch.zeros_like(b))
    h, hs = x.new_zeros(x.shape[0], H), []
    for t in range(x.shape[1]):
        gx = x[:, t] @ W.T + bW
        gh = h @ R.T + bR
        r, z = gate(gx[:, :H] + gh[:, :H]), gate(gx[:, H : 2 * H] + gh[:, H : 2 * H])
        if mode == "before-multiplication":
            n = state(gx[:, 2 * H :] + (r * h) @ R[2 * H :].T)
        else:
            n = state(gx[:, 2 * H :] + r * gh[:, 2 * H :])
        h_new = (1 - z) * n + z * h
        m = torch.ones(x.shape[0], 1, dtype=torch.bool) if lengths is None else (lengths > t)[:, None]
        h = torch.where(m, h_new, h)
        hs.append(h_new * m)
    y = torch.stack(hs, 1)
    return y if layer.output_mode == "sequence" else _last(y, lengths)


_BAD = [
    ((torch.randn(B, D, dtype=F64),), "BTC"),
    ((torch.randn(B, T, D + 1, dtype=F64),), "C is 4, expected 3"),
    ((torch.ones(B, T, D, dtype=torch.long),), "floating-point"),
]
_LSTM_SIGS = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state")


def _lstm_case(
    cid: str, cls: type = LSTM, lengths: torch.Tensor | None = None, bench: Bench | None = None, **kw
) -> LayerCase:
    dirs = 2 if cls is BiLSTM else 1
    prefixes = [""] if dirs == 1 else ["forward_", "backward_"]
    shapes = {p + s: (B, T, H) for p in prefixes for s in _LSTM_SIGS}
    shapes.update({p + "gates_pre": (B, T, 4 * H) for p in prefixes})
    return LayerCase(
        id=f"{cls.matlab_name}-{cid}",
        make=lambda: cls(H, input_size=D, bias_initializer="narrow-normal", **kw),
        inputs=_x,
        reference=(lambda layer, x: lstm_reference(layer, x, lengths)),
        kwargs={} if lengths is None else {"lengths": lengths},
        signal_shapes=shapes,
        bad_inputs=_BAD,
        bench=bench,
    )


def _gru_case(cid: str, lengths: torch.Tensor | None = None, bench: Bench | None = None, **kw) -> LayerCase:
    return LayerCase(
        id=f"gruLayer-{cid}",
        make=lambda: GRU(H, input_size=D, bias_initializer="narrow-normal", **kw),
        inputs=_x,
        reference=(lambda layer, x: gru_reference(layer, x, lengths)),
        kwargs={} if lengths is None else {"lengths": lengths},
        signal_shapes={
            "reset_gate": (B, T, H),
            "update_gate": (B, T, H),
            "candidate_state": (B, T, H),
            "hidden_state": (B, T, H),
            "gates_pre": (B, T, 3 * H),
        },
        bad_inputs=_BAD,
        bench=bench,
    )


def _first_output(module: nn.Module):
    """The PyTorch RNN as a network calls it: its output sequence, without the final states."""
    return lambda x: module(x)[0]


CASES = [
    _lstm_case(
        "sequence",
        bench=Bench(
            make=lambda: LSTM(128),
            torch=lambda: _first_output(nn.LSTM(64, 128, batch_first=True)),
            inputs=lambda: [seq()],
        ),
    ),
    _lstm_case("last", output_mode="last"),
    _lstm_case("softsign", state_activation_function="softsign"),
    _lstm_case("hard-sigmoid-last", gate_activation_function="hard-sigmoid", output_mode="last"),
    _lstm_case("lengths-last", lengths=LENGTHS, output_mode="last"),
    _lstm_case(
        "sequence",
        cls=BiLSTM,
        bench=Bench(
            make=lambda: BiLSTM(128),
            torch=lambda: _first_output(nn.LSTM(64, 128, batch_first=True, bidirectional=True)),
            inputs=lambda: [seq()],
        ),
    ),
    _lstm_case("last", cls=BiLSTM, output_mode="last"),
    _lstm_case(
        "softsign-hard-sigmoid",
        cls=BiLSTM,
        state_activation_function="softsign",
        gate_activation_function="hard-sigmoid",
    ),
    _lstm_case("lengths", cls=BiLSTM, lengths=LENGTHS),
    _gru_case(
        "after-multiplication",
        bench=Bench(
            make=lambda: GRU(128),
            torch=lambda: _first_output(nn.GRU(64, 128, batch_first=True)),
            inputs=lambda: [seq()],
        ),
    ),
    _gru_case("before-multiplication", reset_gate_mode="before-multiplication"),
    _gru_case(
        "recurrent-bias-after-multiplication-last",
        reset_gate_mode="recurrent-bias-after-multiplication",
        output_mode="last",
    ),
    _gru_case("softsign-hard-sigmoid", state_activation_function="softsign", gate_activation_function="hard-sigmoid"),
    _gru_case("lengths-last", lengths=LENGTHS, output_mode="last"),
]
