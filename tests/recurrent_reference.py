"""The float64 reference for every recurrent fast path: the layers' own readable step functions, one sequence at a time.

:func:`dltk.layers.lstm.lstm_step` and :func:`dltk.layers.gru.gru_step` are the
ten-line definitions; here they run over each sequence alone (its own length,
a BiLSTM's backward direction from the sequence's own end), so lengths, padding
and direction handling are checked against the plainest possible loop.
"""

from __future__ import annotations

import torch

from dltk.layers._recurrent_run import GATE_FUNCTIONS, STATE_FUNCTIONS
from dltk.layers.gru import GRU_SIGNALS, gru_step
from dltk.layers.lstm import LSTM_SIGNALS, lstm_step


def _initial(stored, B: int, n: int, like: torch.Tensor) -> torch.Tensor:
    if stored is None:
        return like.new_zeros(B, n)
    s = stored.to(like)
    return s.expand(B, n) if s.ndim == 1 else s


def _run(step, names, x, h0, c0, lengths, reverse):
    """One direction over each sequence alone; signals (B, T, ·) with zeros at padded steps, final h, c."""
    B, T, _ = x.shape
    sig: dict[str, torch.Tensor] = {}
    hT, cT = [], []
    for b in range(B):
        L = T if lengths is None else int(lengths[b])
        h, c = h0[b : b + 1], None if c0 is None else c0[b : b + 1]
        for t in range(L - 1, -1, -1) if reverse else range(L):
            s = step(x[b : b + 1, t], h, c)
            for n in names:
                if n not in sig:
                    sig[n] = x.new_zeros(B, T, s[n].shape[-1])
                sig[n][b, t] = s[n][0]
            h, c = s["hidden_state"], s.get("cell_state")
        hT.append(h[0])
        cT.append(None if c is None else c[0])
    return sig, torch.stack(hT), (None if c0 is None else torch.stack(cT))


def lstm_reference(layer, x: torch.Tensor, lengths: torch.Tensor | None = None) -> dict:
    """Every signal of an LSTM/BiLSTM layer (keys as recorded), plus 'output' (B, T, dirs·H), 'hT', 'cT' (B, dirs·H)."""
    gate = GATE_FUNCTIONS[layer.gate_activation_function]
    state = STATE_FUNCTIONS[layer.state_activation_function]
    H, dirs = layer.num_hidden_units, layer._dirs
    h0 = _initial(layer.hidden_state, x.shape[0], dirs * H, x)
    c0 = _initial(layer.cell_state, x.shape[0], dirs * H, x)
    res: dict[str, torch.Tensor] = {}
    outs, hs, cs = [], [], []
    for k in range(dirs):
        W, R, b = (p[k * 4 * H : (k + 1) * 4 * H] for p in (layer.input_weights, layer.recurrent_weights, layer.bias))

        def step(x_t, h, c, W=W, R=R, b=b):
            return lstm_step(x_t, h, c, W, R, b, gate, state)

        hk, ck = h0[:, k * H : (k + 1) * H], c0[:, k * H : (k + 1) * H]
        sig, hT, cT = _run(step, LSTM_SIGNALS, x, hk, ck, lengths, reverse=k == 1)
        prefix = "" if dirs == 1 else ("forward_", "backward_")[k]
        res.update({prefix + n: v for n, v in sig.items()})
        outs.append(sig["hidden_state"])
        hs.append(hT)
        cs.append(cT)
    res.update(output=torch.cat(outs, -1), hT=torch.cat(hs, -1), cT=torch.cat(cs, -1))
    return res


def gru_reference(layer, x: torch.Tensor, lengths: torch.Tensor | None = None) -> dict:
    """Every signal of a GRU layer, plus 'output' (B, T, H) and 'hT' (B, H)."""
    gate = GATE_FUNCTIONS[layer.gate_activation_function]
    state = STATE_FUNCTIONS[layer.state_activation_function]
    W, R, b, mode = layer.input_weights, layer.recurrent_weights, layer.bias, layer.reset_gate_mode

    def step(x_t, h, c):
        return gru_step(x_t, h, W, R, b, mode, gate, state)

    h0 = _initial(layer.hidden_state, x.shape[0], layer.num_hidden_units, x)
    sig, hT, _ = _run(step, GRU_SIGNALS, x, h0, None, lengths, reverse=False)
    return {**sig, "output": sig["hidden_state"], "hT": hT}
