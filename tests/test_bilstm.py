"""bilstmLayer: float64 match with torch.nn.LSTM(bidirectional=True), MATLAB 'last' semantics, lengths, signals."""

from __future__ import annotations

import pytest
import torch

import dltk
from dltk.layers import _recurrent_run as R

from .test_lstm import step_reference, torch_lstm

D, H = 3, 4


def make(**kw) -> dltk.layers.BiLSTM:
    return dltk.bilstmLayer(H, InputSize=D, BiasInitializer="narrow-normal", **kw).double()


@pytest.mark.parametrize("mode", ["sequence", "last"])
def test_matches_torch_bidirectional_lstm_with_gradients(mode):
    layer = make(OutputMode=mode, HasStateOutputs=True)
    assert layer.InputWeights.shape == (8 * H, D) and layer.Bias.shape == (8 * H, 1)
    ref = torch_lstm(layer, bidirectional=True)
    x = torch.randn(2, 5, D, dtype=torch.float64, requires_grad=True)
    y, h, c = layer(x)
    yr, (hr, cr) = ref(x)
    if mode == "last":  # MATLAB: [h_fwd(T); h_bwd at original step T]
        yr = torch.cat([yr[:, -1, :H], yr[:, -1, H:]], 1)
    torch.testing.assert_close(y, yr, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(h, torch.cat([hr[0], hr[1]], 1), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(c, torch.cat([cr[0], cr[1]], 1), atol=1e-12, rtol=1e-10)
    grads = torch.autograd.grad(y.pow(2).sum() + h.sum(), [x, *layer.parameters()])
    gr = torch.autograd.grad(yr.pow(2).sum() + hr.sum(), [x, *ref.parameters()])
    torch.testing.assert_close(grads[0], gr[0], atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(grads[1], torch.cat([gr[1], gr[5]]), atol=1e-12, rtol=1e-10)  # W
    torch.testing.assert_close(grads[2], torch.cat([gr[2], gr[6]]), atol=1e-12, rtol=1e-10)  # R
    torch.testing.assert_close(grads[3], torch.cat([gr[3], gr[7]]), atol=1e-12, rtol=1e-10)  # b


def test_last_backward_half_has_seen_only_last_step():
    layer = make(OutputMode="last")
    x = torch.randn(2, 6, D, dtype=torch.float64)
    y = layer(x)
    back = dltk.lstmLayer(H, InputSize=D).double()
    with torch.no_grad():
        back.input_weights.copy_(layer.input_weights[4 * H :])
        back.recurrent_weights.copy_(layer.recurrent_weights[4 * H :])
        back.bias.copy_(layer.bias[4 * H :])
    torch.testing.assert_close(y[:, H:], back(x[:, -1:])[:, 0])


@pytest.mark.parametrize("act", [{}, {"StateActivationFunction": "softsign", "GateActivationFunction": "hard-sigmoid"}])
def test_padded_batch_equals_each_sequence_alone(act):
    layer = make(HasStateOutputs=True, **act)
    seqs = [torch.randn(n, D, dtype=torch.float64) for n in (6, 2, 4)]
    X, L = dltk.sequences.pad_sequences(seqs, value=5.0)
    y, h, c = layer(X, lengths=L)
    rec = dltk.record(layer, X, lengths=L)
    for b, s in enumerate(seqs):
        yb, hb, cb = layer(s[None])
        n = len(s)
        torch.testing.assert_close(y[b, :n], yb[0], atol=1e-12, rtol=1e-10)
        assert (y[b, n:] == 0).all()
        torch.testing.assert_close(h[b], hb[0], atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(c[b], cb[0], atol=1e-12, rtol=1e-10)
        alone = dltk.record(layer, s[None])["bilstm"]
        for sig in ("backward_forget_gate", "backward_cell_state", "forward_output_gate"):
            torch.testing.assert_close(rec["bilstm"][sig][b, :n], alone[sig][0], atol=1e-12, rtol=1e-10)
    last = make(OutputMode="last", **act)
    last.load_state_dict(layer.state_dict())
    torch.testing.assert_close(last(X, lengths=L)[1], torch.cat([y[1, 1, :H], y[1, 1, H:]]))


@pytest.mark.parametrize("steps", [False, True])
def test_signals_separated_in_original_time_order(monkeypatch, steps):
    monkeypatch.setattr(R, "step_loop_pays", lambda *a: steps)
    layer = make(CellState=torch.randn(2 * H))
    x = torch.randn(2, 5, D, dtype=torch.float64)
    y = layer(x)
    with torch.no_grad():
        rec = dltk.record(layer, x)
    s = rec["bilstm"]
    assert set(layer.signals) <= set(s)
    torch.testing.assert_close(rec.output, y.detach(), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(s["forward_hidden_state"], y[..., :H].detach())
    torch.testing.assert_close(s["backward_hidden_state"], y[..., H:].detach())
    # backward gates at original t, recomputed with the explicit recursion on the reversed sequence
    back = dltk.lstmLayer(H, InputSize=D).double()
    with torch.no_grad():
        back.input_weights.copy_(layer.input_weights[4 * H :])
        back.recurrent_weights.copy_(layer.recurrent_weights[4 * H :])
        back.bias.copy_(layer.bias[4 * H :])
    c0 = layer.cell_state[H:].double().expand(2, H)
    _, _, _, gates = step_reference(
        back, x.flip(1), torch.zeros(2, H, dtype=torch.float64), c0, torch.sigmoid, torch.tanh
    )
    for t in range(5):  # reversed step t is original step 4 - t
        torch.testing.assert_close(s["backward_forget_gate"][:, 4 - t], gates[t][1], atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(s["backward_cell_state"][:, 4 - t], gates[t][4], atol=1e-12, rtol=1e-10)


def test_description_factors_and_states():
    layer = dltk.bilstmLayer(10, "OutputMode", "last", "BiasL2Factor", [0] * 8)
    assert layer.description() == "10 BiLSTM hidden units, OutputMode 'last'"
    assert layer.bias_l2_factor == (0.0,) * 8
    with pytest.raises(dltk.OptionError, match="20×1"):
        dltk.bilstmLayer(10, HiddenState=torch.zeros(10))
