"""gruLayer: float64 match with torch.nn.GRU / an explicit step reference in every ResetGateMode; signals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dltk
from dltk.errors import OptionError
from dltk.layers import _recurrent_run as R

D, H = 3, 4
MODES = ["after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication"]


def step_reference(layer, x, h, gate=torch.sigmoid, state=torch.tanh):
    """Explicit float64 GRU recursion, MATLAB's equations per ResetGateMode."""
    W, Rw, b = layer.input_weights, layer.recurrent_weights, layer.bias
    mode = layer.reset_gate_mode
    bW, bR = (b[: 3 * H], b[3 * H :]) if mode == MODES[2] else (b, torch.zeros_like(b))
    hs, sig = [], []
    for t in range(x.shape[1]):
        gx = x[:, t] @ W.T + bW
        r = gate(gx[:, :H] + h @ Rw[:H].T + bR[:H])
        z = gate(gx[:, H : 2 * H] + h @ Rw[H : 2 * H].T + bR[H : 2 * H])
        if mode == MODES[1]:
            n = state(gx[:, 2 * H :] + (r * h) @ Rw[2 * H :].T)
        else:
            n = state(gx[:, 2 * H :] + r * (h @ Rw[2 * H :].T + bR[2 * H :]))
        h = (1 - z) * n + z * h
        hs.append(h)
        sig.append((r, z, n))
    return torch.stack(hs, 1), h, sig


def torch_gru(layer) -> nn.GRU:
    ref = nn.GRU(D, H, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(layer.input_weights)
        ref.weight_hh_l0.copy_(layer.recurrent_weights)
        ref.bias_ih_l0.copy_(layer.bias[: 3 * H])
        ref.bias_hh_l0.copy_(layer.bias[3 * H :] if layer.bias.numel() == 6 * H else torch.zeros(3 * H))
    return ref


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("out", ["sequence", "last"])
def test_matches_reference_with_gradients(mode, out):
    layer = dltk.gruLayer(
        H, InputSize=D, ResetGateMode=mode, OutputMode=out, HasStateOutputs=True, BiasInitializer="narrow-normal"
    ).double()
    assert layer.Bias.shape == ((6 if mode == MODES[2] else 3) * H, 1)
    x = torch.randn(2, 5, D, dtype=torch.float64, requires_grad=True)
    y, h = layer(x)
    if mode == MODES[1]:
        yr, hr, _ = step_reference(layer, x, torch.zeros(2, H, dtype=torch.float64))
        params_r = list(layer.parameters())
    else:
        ref = torch_gru(layer)
        yr, hr = ref(x)
        hr = hr[0]
        params_r = [ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0]
        # the reference's explicit equations agree with torch.nn.GRU too
        torch.testing.assert_close(step_reference(layer, x, torch.zeros(2, H, dtype=torch.float64))[0], yr)
    yr = yr if out == "sequence" else yr[:, -1]
    torch.testing.assert_close(y, yr, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(h, hr, atol=1e-12, rtol=1e-10)
    g = torch.autograd.grad(y.pow(2).sum() + h.sum(), [x, *layer.parameters()])
    gr = torch.autograd.grad(yr.pow(2).sum() + hr.sum(), [x, *params_r])
    torch.testing.assert_close(g[0], gr[0], atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(g[1], gr[1], atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(g[2], gr[2], atol=1e-12, rtol=1e-10)
    gb = gr[3] if mode == MODES[1] else (torch.cat([gr[3], gr[4]]) if mode == MODES[2] else gr[3])
    torch.testing.assert_close(g[3], gb, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("acts", [("sigmoid", "tanh"), ("hard-sigmoid", "softsign")])
def test_signals_reproduce_hidden_state_and_equal_plain(mode, acts):
    gate, state = acts
    layer = dltk.gruLayer(
        H,
        InputSize=D,
        ResetGateMode=mode,
        GateActivationFunction=gate,
        StateActivationFunction=state,
        HiddenState=torch.randn(H, 1),
    ).double()
    x = torch.randn(3, 6, D, dtype=torch.float64) * 2
    y = layer(x)
    rec = dltk.record(layer, x)
    s = rec["gru"]
    torch.testing.assert_close(rec.output, y.detach(), atol=1e-12, rtol=1e-10)
    h = layer.hidden_state.double().expand(3, H)
    _, _, ref_sig = step_reference(layer, x, h, R.GATE_FUNCTIONS[gate], R.STATE_FUNCTIONS[state])
    for t in range(6):
        r, z, n = s["reset_gate"][:, t], s["update_gate"][:, t], s["candidate_state"][:, t]
        torch.testing.assert_close(r, ref_sig[t][0].detach(), atol=1e-12, rtol=1e-10)
        h = (1 - z) * n + z * h
        torch.testing.assert_close(s["hidden_state"][:, t], h, atol=1e-12, rtol=1e-10)
    assert s["gates_pre"].shape == (3, 6, 3 * H)
    torch.testing.assert_close(R.STATE_FUNCTIONS[state](s["gates_pre"][..., 2 * H :]), s["candidate_state"])


@pytest.mark.parametrize("mode", MODES)
def test_lengths_equal_each_sequence_alone(mode):
    layer = dltk.gruLayer(H, InputSize=D, ResetGateMode=mode, OutputMode="last", HasStateOutputs=True).double()
    seqs = [torch.randn(n, D, dtype=torch.float64) for n in (4, 1, 3)]
    X, L = dltk.sequences.pad_sequences(seqs, value=-3.0)
    y, h = layer(X, lengths=L)
    for b, s in enumerate(seqs):
        yb, hb = layer(s[None])
        torch.testing.assert_close(y[b], yb[0], atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(h[b], hb[0], atol=1e-12, rtol=1e-10)


def test_options_and_description():
    with pytest.raises(OptionError, match="ResetGateMode"):
        dltk.gruLayer(5, ResetGateMode="after")
    with pytest.raises(OptionError, match="BiasInitializer"):
        dltk.gruLayer(5, BiasInitializer="unit-forget-gate")
    with pytest.raises(OptionError, match="CellState"):
        dltk.gruLayer(5, CellState=torch.zeros(5))
    g = dltk.gruLayer(5, "OutputMode", "last", "HasStateInputs", True, InputSize=2)
    assert g.InputNames == ["in", "hidden"] and g.description() == "5 GRU hidden units, OutputMode 'last'"
    assert (g.bias == 0).all() and g.InputWeights.shape == (15, 2) and g.RecurrentWeights.shape == (15, 5)
    y = g(torch.randn(2, 3, 2), torch.zeros(2, 5))
    assert y.shape == (2, 5)
    with torch.no_grad():
        g.InputWeights[0, 0] = 9.0
    assert g.input_weights[0, 0] == 9.0
