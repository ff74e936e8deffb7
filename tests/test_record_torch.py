"""dltk.record of plain PyTorch models: every recognised module against an explicit float64
reference of its documented equations; outputs equal to the plain forward (float64: 1e-12)."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import dltk

D = torch.float64
TOL = {"atol": 1e-12, "rtol": 1e-10}


# ------------------------------------------------------------------ references
def _ref_rnn(m: nn.Module, x: torch.Tensor, h0=None, c0=None, lengths=None) -> dict:
    """Step-by-step reference of nn.LSTM/GRU/RNN on batch-first x (B, T, D): {(layer, dir): signals}.

    Each sequence runs over its own steps only (the backward direction from its own end).
    """
    mode, dirs, H = m.mode, 2 if m.bidirectional else 1, m.hidden_size
    P = getattr(m, "proj_size", 0) or H
    B, T, _ = x.shape
    Ls = [T] * B if lengths is None else [int(v) for v in lengths]
    out: dict = {}
    inp = x
    for k in range(m.num_layers):
        layer_out = torch.zeros(B, T, dirs * P, dtype=x.dtype)
        for d in range(dirs):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            W, R = getattr(m, "weight_ih" + sfx), getattr(m, "weight_hh" + sfx)
            b_i = getattr(m, "bias_ih" + sfx, None)
            b_h = getattr(m, "bias_hh" + sfx, None)
            b_i = torch.zeros(W.shape[0], dtype=x.dtype) if b_i is None else b_i
            b_h = torch.zeros(W.shape[0], dtype=x.dtype) if b_h is None else b_h
            Whr = getattr(m, "weight_hr" + sfx, None)
            names = {
                "LSTM": ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state"),
                "GRU": ("reset_gate", "update_gate", "candidate_state"),
            }.get(mode, ("pre_activation",))
            sig = {n: torch.zeros(B, T, H, dtype=x.dtype) for n in (*names, "hidden_state")}
            sig["hidden_state"] = torch.zeros(B, T, P, dtype=x.dtype)
            for b in range(B):
                idx = k * dirs + d
                h = torch.zeros(P, dtype=x.dtype) if h0 is None else h0[idx, b]
                c = torch.zeros(H, dtype=x.dtype) if c0 is None else c0[idx, b]
                steps = range(Ls[b]) if d == 0 else range(Ls[b] - 1, -1, -1)
                for t in steps:
                    xt = inp[b, t]
                    if mode == "LSTM":
                        z = W @ xt + b_i + R @ h + b_h
                        i, f, g, o = (
                            torch.sigmoid(z[:H]),
                            torch.sigmoid(z[H : 2 * H]),
                            torch.tanh(z[2 * H : 3 * H]),
                            torch.sigmoid(z[3 * H :]),
                        )  # noqa: E501
                        c = f * c + i * g
                        h = o * torch.tanh(c)
                        if Whr is not None:
                            h = Whr @ h
                        vals = {
                            "input_gate": i,
                            "forget_gate": f,
                            "cell_candidate": g,
                            "output_gate": o,
                            "cell_state": c,
                        }
                    elif mode == "GRU":
                        gx, gh = W @ xt + b_i, R @ h + b_h
                        r = torch.sigmoid(gx[:H] + gh[:H])
                        zz = torch.sigmoid(gx[H : 2 * H] + gh[H : 2 * H])
                        n = torch.tanh(gx[2 * H :] + r * gh[2 * H :])
                        h = (1 - zz) * n + zz * h
                        vals = {"reset_gate": r, "update_gate": zz, "candidate_state": n}
                    else:
                        pre = W @ xt + b_i + R @ h + b_h
                        h = torch.tanh(pre) if mode == "RNN_TANH" else torch.relu(pre)
                        vals = {"pre_activation": pre}
                    for n_, v in vals.items():
                        sig[n_][b, t] = v
                    sig["hidden_state"][b, t] = h
                    layer_out[b, t, d * P : (d + 1) * P] = h
            out[(k, d)] = sig
        inp = layer_out
    out["output"] = inp
    return out


def _check_against_ref(rec_sigs, m, ref, plain: bool) -> None:
    dirs = 2 if m.bidirectional else 1
    for k, d in itertools.product(range(m.num_layers), range(dirs)):
        sfx = f"_l{k}" + ("_reverse" if d else "")
        for name, want in ref[(k, d)].items():
            got = rec_sigs[name if plain else name + sfx]
            torch.testing.assert_close(got, want, **TOL, msg=lambda s, n=name + sfx: f"{n}: {s}")
            if plain:  # also answers to PyTorch's parameter naming
                assert rec_sigs[name + sfx] is got


LSTM_CASES = [
    dict(num_layers=1),
    dict(num_layers=1, batch_first=True),
    dict(num_layers=2, bidirectional=True, batch_first=True),
    dict(num_layers=3, batch_first=False),
    dict(num_layers=2, proj_size=3, bidirectional=True, batch_first=True),
    dict(num_layers=2, bias=False),
]


def _exact(grad: bool, kind: str = "LSTM") -> dict:
    """Exact where the module's own fused kernel runs (an RNN, or no compiled loop here); an LSTM or GRU may
    record by the compiled loop: the same numbers to float rounding."""
    return TOL if kind in ("LSTM", "GRU") or not grad else {"atol": 0, "rtol": 0}


@pytest.mark.parametrize("kw", LSTM_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("kind", ["LSTM", "LSTM-no-grad", "GRU", "GRU-no-grad", "RNN_TANH", "RNN_RELU"])
def test_recurrent_module_signals_match_a_float64_step_reference(kind: str, kw: dict) -> None:
    if kind[:4] != "LSTM" and "proj_size" in kw:
        pytest.skip("proj_size is LSTM only")
    grad = not kind.endswith("-no-grad")  # no grad: the compiled recording loops where available
    kind = kind.removesuffix("-no-grad")
    torch.manual_seed(0)
    if kind == "LSTM":
        m = nn.LSTM(4, 5, **kw)
    elif kind == "GRU":
        m = nn.GRU(4, 5, **kw)
    else:
        m = nn.RNN(4, 5, nonlinearity="tanh" if kind == "RNN_TANH" else "relu", **kw)
    m = m.double()
    xb = torch.randn(3, 6, 4, dtype=D)
    x = xb if m.batch_first else xb.transpose(0, 1)
    want_out, want_state = m(x)
    with torch.set_grad_enabled(grad):
        rec = dltk.record(m, x)
    got_out, got_state = rec.output
    torch.testing.assert_close(got_out, want_out, **_exact(grad, kind))  # the kernel's own numbers
    for a, b in zip(got_state if kind == "LSTM" else [got_state], want_state if kind == "LSTM" else [want_state]):
        torch.testing.assert_close(a, b, **_exact(grad, kind))
    ref = _ref_rnn(m, xb)
    plain = m.num_layers == 1 and not m.bidirectional
    _check_against_ref(rec["lstm" if kind == "LSTM" else "gru" if kind == "GRU" else "rnn"], m, ref, plain)
    torch.testing.assert_close(ref["output"], want_out if m.batch_first else want_out.transpose(0, 1), **TOL)


def test_lstm_gates_reproduce_c_and_h_and_final_states() -> None:
    torch.manual_seed(1)
    m = nn.LSTM(3, 6, num_layers=2, bidirectional=True, batch_first=True).double()
    x = torch.randn(4, 9, 3, dtype=D)
    h0, c0 = torch.randn(4, 4, 6, dtype=D), torch.randn(4, 4, 6, dtype=D)
    rec = dltk.record(m, x, (h0, c0))
    out, (hn, cn) = rec.output
    s = rec["lstm"]
    for k, d in itertools.product(range(2), range(2)):
        sfx = f"_l{k}" + ("_reverse" if d else "")
        i, f, g, o, c = (
            s[n + sfx] for n in ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state")
        )
        c_prev = (
            torch.cat([c0[2 * k + d][:, None], c[:, :-1]], 1)
            if d == 0
            else torch.cat([c[:, 1:], c0[2 * k + d][:, None]], 1)
        )
        torch.testing.assert_close(c, f * c_prev + i * g, **TOL)
        torch.testing.assert_close(s["hidden_state" + sfx], o * torch.tanh(c), **TOL)
        torch.testing.assert_close(c[:, -1 if d == 0 else 0], cn[2 * k + d], **TOL)
        torch.testing.assert_close(s["hidden_state" + sfx][:, -1 if d == 0 else 0], hn[2 * k + d], **TOL)
    torch.testing.assert_close(s["hidden_state_l1"], out[..., :6], **TOL)
    _check_against_ref(s, m, _ref_rnn(m, x, h0, c0), plain=False)


@pytest.mark.parametrize("kind", ["LSTM", "LSTM-no-grad", "GRU", "GRU-no-grad"])
def test_packed_sequence_input(kind: str) -> None:
    grad = not kind.endswith("-no-grad")
    kind = kind.removesuffix("-no-grad")
    torch.manual_seed(2)
    m = (nn.LSTM if kind == "LSTM" else nn.GRU)(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = torch.randn(4, 7, 3, dtype=D)
    lengths = torch.tensor([5, 7, 2, 7])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want_out, want_state = m(packed)
    with torch.set_grad_enabled(grad):
        rec = dltk.record(m, packed)
    got_out, got_state = rec.output
    torch.testing.assert_close(got_out.data, want_out.data, **_exact(grad, kind))
    assert torch.equal(got_out.sorted_indices, want_out.sorted_indices)
    for a, b in zip(got_state if kind == "LSTM" else [got_state], want_state if kind == "LSTM" else [want_state]):
        torch.testing.assert_close(a, b, **_exact(grad, kind))
    ref = _ref_rnn(m, x, lengths=lengths)
    _check_against_ref(rec[kind.lower()], m, ref, plain=False)  # padded steps are zeros in both
    padded, _ = pad_packed_sequence(want_out, batch_first=True)
    torch.testing.assert_close(rec[kind.lower()]["output"], padded, **_exact(grad, kind))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("batch_first", [True, False])
def test_inter_layer_dropout_in_training_mode_draws_what_the_module_draws(
    kind: str, grad: bool, batch_first: bool
) -> None:
    m = getattr(nn, kind)(3, 5, num_layers=3, dropout=0.5, batch_first=batch_first).double().train()
    x = torch.randn(2, 6, 3, dtype=D)
    torch.manual_seed(7)
    want, _ = m(x)
    torch.manual_seed(7)
    with torch.set_grad_enabled(grad):
        got, _ = dltk.record(m, x).output
    torch.testing.assert_close(got, want, **_exact(grad, kind))


def test_unbatched_input_and_plain_names() -> None:
    m = nn.GRU(3, 4).double()
    x = torch.randn(5, 3, dtype=D)  # (T, D), no batch
    rec = dltk.record(m, x)
    torch.testing.assert_close(rec.output[0], m(x)[0], **TOL)
    assert rec["gru"]["update_gate"].shape == (1, 5, 4)
    assert rec["gru"]["update_gate_l0"] is rec["gru"]["update_gate"]


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells_in_the_users_loop_are_stacked_along_time(cell: str) -> None:
    torch.manual_seed(3)
    c = getattr(nn, cell)(3, 4).double()

    class Loop(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = c

        def forward(self, x):  # x (B, T, D)
            h = None
            outs = []
            for t in range(x.shape[1]):
                h = self.cell(x[:, t], h)
                outs.append(h[0] if isinstance(h, tuple) else h)
            return torch.stack(outs, 1)

    model = Loop()
    x = torch.randn(2, 5, 3, dtype=D)
    rec = dltk.record(model, x)
    torch.testing.assert_close(rec.output, model(x), atol=0, rtol=0)
    mode = {"LSTMCell": "LSTM", "GRUCell": "GRU", "RNNCell": "RNN_TANH"}[cell]
    ref_mod = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN_TANH": nn.RNN}[mode](3, 4, batch_first=True).double()
    with torch.no_grad():
        ref_mod.weight_ih_l0.copy_(c.weight_ih), ref_mod.weight_hh_l0.copy_(c.weight_hh)
        ref_mod.bias_ih_l0.copy_(c.bias_ih), ref_mod.bias_hh_l0.copy_(c.bias_hh)
    ref = _ref_rnn(ref_mod, x)[(0, 0)]
    for name, want in ref.items():
        torch.testing.assert_close(rec["cell"][name], want, **TOL)


# ------------------------------------------------------------- other modules
def test_linear_conv_and_transposed_conv() -> None:
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
        nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
        nn.Flatten(),
        nn.Linear(2 * 10 * 10, 4),
    ).double()
    x = torch.randn(2, 2, 5, 5, dtype=D)
    rec = dltk.record(model, x)
    torch.testing.assert_close(rec.output, model(x), atol=0, rtol=0)
    conv, tconv, fc = model[0], model[1], model[3]
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    torch.testing.assert_close(rec["0"]["padded_input"], padded, atol=0, rtol=0)
    torch.testing.assert_close(rec["0"]["pre_bias"], F.conv2d(padded, conv.weight), **TOL)
    y0 = rec["0"]["output"]
    full = F.conv_transpose2d(y0, tconv.weight, None, 2, 0, 1)
    torch.testing.assert_close(rec["1"]["uncropped"], full, **TOL)
    torch.testing.assert_close(rec["1"]["pre_bias"], full[..., 1:11, 1:11], **TOL)
    flat = rec["2"]["output"]
    torch.testing.assert_close(rec["3"]["input_flat"], flat, atol=0, rtol=0)
    torch.testing.assert_close(rec["3"]["pre_bias"], flat @ fc.weight.t(), **TOL)
    assert rec["0"].layouts["padded_input"] == "BCHW"
    assert rec.unrecognised == []


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_statistics_and_buffers_unchanged(training: bool) -> None:
    torch.manual_seed(5)
    bn = nn.BatchNorm2d(3, momentum=0.2).double().train(training)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -0.2, 0.1])), bn.running_var.copy_(torch.tensor([2.0, 0.5, 1.0]))
        bn.weight.copy_(torch.tensor([1.5, 0.7, -1.0])), bn.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    x = torch.randn(4, 3, 5, 5, dtype=D) * 2 + 1
    rec = dltk.record(bn, x)
    for k, v in bn.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert bn.training is training
    s = rec["batchnorm2d"]
    if training:
        var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
        torch.testing.assert_close(s["batch_mean"], mean, **TOL)
        torch.testing.assert_close(s["batch_variance"], var, **TOL)
        n = x.numel() // 3
        torch.testing.assert_close(s["running_mean"], 0.8 * before["running_mean"] + 0.2 * mean, **TOL)
        torch.testing.assert_close(s["running_variance"], 0.8 * before["running_var"] + 0.2 * var * n / (n - 1), **TOL)
    else:
        mean, var = before["running_mean"], before["running_var"]
        assert "batch_mean" not in s
    xhat = (x - mean.view(1, 3, 1, 1)) / torch.sqrt(var.view(1, 3, 1, 1) + bn.eps)
    torch.testing.assert_close(s["normalized"], xhat, **TOL)
    want = bn(x)  # the plain call (it moves the running stats: that is the module's business)
    torch.testing.assert_close(rec.output, want, atol=0, rtol=0)


def test_layer_and_group_norm() -> None:
    torch.manual_seed(6)
    model = nn.Sequential(nn.GroupNorm(2, 4), nn.Flatten(2), nn.LayerNorm(9)).double()
    x = torch.randn(3, 4, 3, 3, dtype=D)
    rec = dltk.record(model, x)
    torch.testing.assert_close(rec.output, model(x), atol=0, rtol=0)
    xg = x.reshape(3, 2, -1)
    var, mean = torch.var_mean(xg, dim=2, correction=0)
    torch.testing.assert_close(rec["0"]["group_mean"], mean, **TOL)
    torch.testing.assert_close(rec["0"]["group_variance"], var, **TOL)
    torch.testing.assert_close(
        rec["0"]["normalized"], ((xg - mean[..., None]) / torch.sqrt(var[..., None] + 1e-5)).view_as(x), **TOL
    )
    z = rec["1"]["output"]
    var, mean = torch.var_mean(z, dim=-1, correction=0)
    torch.testing.assert_close(rec["2"]["mean"], mean, **TOL)
    torch.testing.assert_close(rec["2"]["normalized"], (z - mean[..., None]) / torch.sqrt(var[..., None] + 1e-5), **TOL)


def test_dropout_mask_is_the_modules_own_draw_and_prediction_mode_has_none() -> None:
    drop = nn.Dropout(0.4)
    x = torch.randn(5, 6, dtype=D)
    torch.manual_seed(8)
    want = drop(x)
    torch.manual_seed(8)
    rec = dltk.record(drop, x)
    torch.testing.assert_close(rec.output, want, atol=0, rtol=0)
    mask = rec["dropout"]["mask"]
    torch.testing.assert_close(want, x * mask / 0.6, **TOL)
    drop2 = nn.Dropout2d(0.5)
    x2 = torch.randn(3, 4, 2, 2, dtype=D)
    torch.manual_seed(9)
    want2 = drop2(x2)
    torch.manual_seed(9)
    torch.testing.assert_close(dltk.record(drop2, x2).output, want2, atol=0, rtol=0)
    assert "mask" not in dltk.record(drop.eval(), x)["dropout"]


def test_max_and_average_pooling_switches_and_counts() -> None:
    x = torch.randn(2, 3, 6, 6, dtype=D)
    mp = nn.MaxPool2d(3, stride=2, padding=1)
    rec = dltk.record(mp, x)
    y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    torch.testing.assert_close(rec.output, y, atol=0, rtol=0)
    assert torch.equal(rec["maxpool2d"]["indices"], idx)
    torch.testing.assert_close(
        F.max_unpool2d(y, rec["maxpool2d"]["indices"], 3, 2, 1, output_size=x.shape[2:]).ne(0).to(D).sum(),
        (rec["maxpool2d"]["switch_mask"] > 0).to(D).sum(),
    )  # noqa: E501
    assert float(rec["maxpool2d"]["switch_mask"].sum()) == y.numel()
    ap = nn.AvgPool2d(3, stride=2, padding=1)
    rec = dltk.record(ap, x)
    torch.testing.assert_close(rec.output, ap(x), atol=0, rtol=0)
    count = rec["avgpool2d"]["window_count"]
    assert count[0, 0, 0, 0] == 4 and count[0, 0, 1, 1] == 9
    rec = dltk.record(nn.AdaptiveMaxPool1d(2, return_indices=True), x[:, :, 0])
    assert torch.equal(rec["adaptivemaxpool1d"]["indices"], rec.output[1])


def test_embedding_activations_softmax() -> None:
    torch.manual_seed(10)
    model = nn.Sequential(
        nn.Embedding(10, 4), nn.ReLU(inplace=True), nn.LeakyReLU(), nn.ReLU6(), nn.Softmax(-1)
    ).double()
    ids = torch.tensor([[1, 2, 3], [4, 5, 9]])
    vec = model[0](ids).detach()
    rec = dltk.record(model, ids)
    torch.testing.assert_close(rec.output, model(ids), atol=0, rtol=0)
    assert torch.equal(rec["0"]["indices"], ids)
    # the in-place ReLU overwrote the embedding output: the recording kept the value before it
    torch.testing.assert_close(rec["0"]["vectors"], vec, atol=0, rtol=0)
    torch.testing.assert_close(rec["0"]["output"], vec, atol=0, rtol=0)
    assert torch.equal(rec["1"]["active"], vec > 0)
    r = torch.relu(vec)
    assert not rec["2"]["negative"].any()
    assert torch.equal(rec["3"]["clipped_low"], r < 0) and torch.equal(rec["3"]["clipped_high"], r >= 6)
    torch.testing.assert_close(rec["4"]["probabilities"], torch.softmax(rec["4"]["logits"], -1), **TOL)


@pytest.mark.parametrize("need_weights,average", [(True, True), (False, True), (True, False)])
def test_multihead_attention_weights_per_head(need_weights: bool, average: bool) -> None:
    torch.manual_seed(11)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double()
    q = torch.randn(3, 5, 8, dtype=D)
    k = torch.randn(3, 4, 8, dtype=D)
    want = mha(q, k, k, need_weights=need_weights, average_attn_weights=average)
    rec = dltk.record(mha, q, k, k, need_weights=need_weights, average_attn_weights=average)
    torch.testing.assert_close(rec.output[0], want[0], **TOL)
    assert (rec.output[1] is None) == (want[1] is None)
    if want[1] is not None:
        torch.testing.assert_close(rec.output[1], want[1], **TOL)
    w = rec["multiheadattention"]["attention_weights"]
    assert w.shape == (3, 2, 5, 4)
    Wq, Wk, _ = mha.in_proj_weight.chunk(3)
    bq, bk, _ = mha.in_proj_bias.chunk(3)
    Q = (q @ Wq.t() + bq).view(3, 5, 2, 4).transpose(1, 2)
    K = (k @ Wk.t() + bk).view(3, 4, 2, 4).transpose(1, 2)
    torch.testing.assert_close(w, torch.softmax(Q @ K.transpose(-1, -2) / 2.0, -1), **TOL)


def test_loss_modules_per_observation() -> None:
    x = torch.randn(6, 4, dtype=D)
    t = torch.tensor([0, 1, 2, 3, 0, 1])
    ce = nn.CrossEntropyLoss()
    rec = dltk.record(ce, x, t)
    torch.testing.assert_close(rec.output, ce(x, t), atol=0, rtol=0)
    s = rec["crossentropyloss"]
    torch.testing.assert_close(s["loss"], F.cross_entropy(x, t, reduction="none"), **TOL)
    assert torch.equal(s["correct"], x.argmax(1) == t)
    y = torch.randn(6, 3, 2, dtype=D)
    rec = dltk.record(nn.MSELoss(), y, torch.zeros_like(y))
    torch.testing.assert_close(rec["mseloss"]["loss"], (y**2).reshape(6, -1).mean(1), **TOL)


# -------------------------------------------------------- the model is not changed
class _Student(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential()
        self.encoder.lstm = nn.LSTM(3, 5, batch_first=True)
        self.bn = nn.BatchNorm1d(5)
        self.drop = nn.Dropout(0.3)
        self.scale = nn.Parameter(torch.ones(1))
        self.head = nn.Linear(5, 2)

    def forward(self, x, fail=False):
        y, _ = self.encoder.lstm(x)
        if fail:
            raise RuntimeError("the student's own bug")
        return self.head(self.drop(self.bn(y[:, -1]))) * self.scale


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + ("forward" in m.__dict__) for m in model.modules())


def test_model_unchanged_hooks_removed_and_errors_pass_through() -> None:
    torch.manual_seed(12)
    model = _Student().double().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 6, 3, dtype=D)
    rec = dltk.record(model, x)
    assert rec.layers[:1] == ["encoder.lstm"] and "head" in rec
    assert rec.unrecognised == ["_student"]  # its own parameter `scale` is computed with outside any module
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(m.training for m in model.modules())
    assert _hooks(model) == 0
    with pytest.raises(RuntimeError, match="the student's own bug"):
        dltk.record(model, x, fail=True)
    assert _hooks(model) == 0
    model.eval()
    rec = dltk.record(model, x)
    assert not any(m.training for m in model.modules())
    torch.testing.assert_close(rec.output, model(x), **TOL)  # its LSTM may run the compiled loop


def test_no_grad_and_autograd_gradients_unchanged() -> None:
    torch.manual_seed(13)
    model = _Student().double().eval()
    x = torch.randn(4, 6, 3, dtype=D)
    with torch.no_grad():
        rec = dltk.record(model, x)
    assert not rec["encoder.lstm"]["cell_state"].requires_grad
    model.zero_grad()
    model(x).sum().backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    rec = dltk.record(model, x, keep_graph=True)
    rec.output.sum().backward()
    for p, g in zip(model.parameters(), want):
        torch.testing.assert_close(p.grad, g, **TOL)
    # recorded signals are part of the graph: the gradient of c_t with respect to the input
    xg = x.clone().requires_grad_(True)
    rec = dltk.record(model, xg, keep_graph=True)
    (gx,) = torch.autograd.grad(rec["encoder.lstm"]["cell_state"][:, 2].sum(), xg)
    assert gx[:, :3].abs().sum() > 0 and gx[:, 3:].abs().sum() == 0  # c_2 depends on x_0 … x_2 only


def test_unrecognised_modules_are_black_boxes() -> None:
    class Odd(nn.Module):
        def forward(self, x):
            return x.flip(-1), {"aux": x}

    class Wrap(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.odd = Odd()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(self.odd(x)[0])

    model = Wrap()
    x = torch.randn(2, 3)
    rec = dltk.record(model, x)
    assert rec.unrecognised == ["odd"]
    torch.testing.assert_close(rec["odd"]["output"], x.flip(-1))
    assert rec.kinds["fc"] == "Linear"


def test_budget_refuses_before_allocating_and_leaves_no_hooks() -> None:
    model = nn.Sequential(nn.LSTM(8, 64, batch_first=True))
    with pytest.raises(dltk.RecordingBudgetError, match=r"7 signals of \(B, T, H\) = \(16, 200, 64\) of layer '0'"):
        dltk.record(model, torch.randn(16, 200, 8), budget_mb=0.5)
    assert _hooks(model) == 0
    rec = dltk.record(model, torch.randn(16, 200, 8), budget_mb=1, signals=["forget_gate"])
    assert rec["0"]["forget_gate"].shape == (16, 200, 64)


def test_layers_and_signals_filters_by_qualified_name() -> None:
    model = _Student().eval()
    x = torch.randn(2, 4, 3)
    rec = dltk.record(model, x, layers=["encoder.lstm"], signals=["forget_gate"])
    assert rec.layers == ["encoder.lstm"] and list(rec["encoder.lstm"]) == ["forget_gate"]
    with pytest.raises(ValueError, match=r"no layer named 'encoder.lstn'\. Layers: encoder\.lstm"):
        dltk.record(model, x, layers=["encoder.lstn"])
    with pytest.raises(ValueError, match=r"no signal 'forget_gat'\. Signals: forget_gate"):
        dltk.record(model, x, layers=["encoder.lstm"], signals=["forget_gat"])


def test_derived_signals_are_computed_when_read_and_survive_in_place_modules() -> None:
    torch.manual_seed(14)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(3)).double().eval()
    x = torch.randn(2, 2, 5, 5, dtype=D)
    y0 = F.conv2d(x, model[0].weight, model[0].bias, padding=1)
    rec = dltk.record(model, x)
    assert rec["0"].shape("pre_bias") == (2, 3, 5, 5)  # known before it is computed
    # the in-place ReLU overwrote the convolution's output after it was recorded: both survive
    torch.testing.assert_close(rec["0"]["output"], y0, **TOL)
    torch.testing.assert_close(rec["0"]["pre_bias"], y0 - model[0].bias.view(1, 3, 1, 1), **TOL)
    bn = model[2]
    want = (torch.relu(y0) - bn.running_mean.view(1, 3, 1, 1)) / torch.sqrt(bn.running_var.view(1, 3, 1, 1) + bn.eps)
    torch.testing.assert_close(rec["2"]["normalized"], want, **TOL)
    # their bytes count against the budget before anything is computed
    with pytest.raises(dltk.RecordingBudgetError, match="signal 'padded_input' of layer '0'"):
        dltk.record(model, torch.randn(64, 2, 64, 64, dtype=D), budget_mb=8)


def test_a_recurrent_module_whose_signals_cannot_be_rebuilt_says_so(monkeypatch):
    """The module still runs (same output), but the recording warns instead of coming back silently empty."""
    from dltk.introspect.torch_modules import recurrent as rec_mod

    def broken(self, probe, m, input, hx):
        raise RuntimeError("rebuild failed")

    monkeypatch.setattr(rec_mod.RecurrentModule, "_forward", broken)
    model = torch.nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    with pytest.warns(RuntimeWarning, match="could not be recorded"):
        rec = dltk.record(model, x)
    torch.testing.assert_close(rec.output[0], model(x)[0])


def test_relu_active_mask_survives_a_later_in_place_module() -> None:
    """``active`` is computed from the ReLU's output when first read: a later in-place module that
    overwrites that output (dropout zeroing units) must not change it."""
    torch.manual_seed(12)
    model = nn.Sequential(nn.Linear(6, 50), nn.ReLU(), nn.Dropout(0.5, inplace=True)).double().train()
    x = torch.randn(8, 6, dtype=D)
    rec = dltk.record(model, x)
    want = model[0](x).detach() > 0
    assert torch.equal(rec["1"]["active"], want)
    assert (rec.output[want] == 0).any()  # the dropout did zero active units in place
