"""Every LSTM, BiLSTM and GRU execution path equals the layers' readable step functions (float64).

Paths: the fused kernel (unpadded; with ``lengths`` unpacked, or packed when the
final cell state is an output), the plain step loops (activations without a
kernel, GRU before-multiplication), and the recordings: the compiled loop, the
Python step loop, the kernel + batched reconstruction (autograd off and on).
Reference: :func:`dltk.layers.lstm.lstm_step` / :func:`dltk.layers.gru.gru_step`
run over each sequence alone (``tests/recurrent_reference.py``).
Tolerance float64 atol 1e-12, rtol 1e-10; float32 atol 1e-5, rtol 1e-4.
"""

from __future__ import annotations

import pytest
import torch

import dltk
from dltk.layers import _lstm_kernel as K
from dltk.layers import _recurrent_run as run
from dltk.layers.gru import GRU_SIGNALS, gru_step

from .recurrent_reference import _run, gru_reference, lstm_reference
from .test_lstm_kernel import needs_kernel

TOL = {"atol": 1e-12, "rtol": 1e-10}
D, H = 3, 5
LENGTHS = [6, 2, 4, 5]
RECORD_PATHS = ["compiled", "compiled-grad", "python", "reconstruct", "reconstruct-grad"]
MODES = ["after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication"]


def padded_input(lengths) -> torch.Tensor:
    """(4, 6, D) float64 requiring grad; with lengths, NaN at the padded steps (their content must never matter)."""
    x = torch.randn(4, 6, D, dtype=torch.float64)
    if lengths is not None:
        for b, n in enumerate(lengths):
            x[b, n:] = float("nan")
    return x.requires_grad_(True)


def force(monkeypatch, path: str) -> list:
    """Make the layers take ``path``; returns a list that collects one entry per compiled-loop call."""
    calls: list = []
    for name in ("lstm_record_compiled", "gru_record_compiled"):
        f = getattr(run, name)
        monkeypatch.setattr(run, name, lambda *a, f=f: calls.append(1) or f(*a))
    monkeypatch.setattr(run, "compiled_ok", lambda x: path.startswith("compiled") and K.usable(x))
    monkeypatch.setattr(run, "step_loop_pays", lambda *a: path.startswith(("compiled", "python")))
    return calls


def record(layer, x, L, path, monkeypatch, ref=None) -> tuple:
    """Record every signal through ``path``; with autograd (``*-grad``) also compare the gradients of
    a loss on every recorded signal and the outputs with the same loss on the reference ``ref``."""
    calls = force(monkeypatch, path)
    if path.endswith("-grad"):
        x = x.detach().clone().requires_grad_(True)
        rec = dltk.record(layer, x, lengths=L, keep_graph=True)
        params = list(layer.parameters())
        sigs = {k: v for k, v in rec[layer.label].items() if k != "output"}
        outs = rec.output if isinstance(rec.output, tuple) else (rec.output,)
        weights = {k: torch.randn_like(v) for k, v in sigs.items()}
        loss = sum((v * weights[k]).sum() for k, v in sigs.items()) + sum(o.pow(2).sum() for o in outs[1:])
        grads = torch.autograd.grad(loss, [x, *params])
        if ref is not None:
            ref_x = ref.pop("_x")
            ref_loss = sum((ref[k] * w).sum() for k, w in weights.items())
            ref_loss = ref_loss + sum(ref[k].pow(2).sum() for k in ("hT", "cT")[: len(outs) - 1])
            for a, b in zip(grads, torch.autograd.grad(ref_loss, [ref_x, *params])):
                torch.testing.assert_close(a, b, **TOL)
        assert all(g.isfinite().all() for g in grads)
    else:
        with torch.no_grad():
            rec = dltk.record(layer, x, lengths=L)
    assert bool(calls) == path.startswith("compiled"), f"path {path!r} not taken"
    return rec.output, {k: v for k, v in rec[layer.label].items() if k != "output"}


def reference(fn, layer, x, L, path) -> tuple[dict, torch.Tensor]:
    """The step-function reference; for a ``*-grad`` path with the graph to ``x`` (a leaf requiring grad)."""
    if not path.endswith("-grad"):
        with torch.no_grad():
            return fn(layer, x, L), x
    x = x.detach().clone().requires_grad_(True)
    return {**fn(layer, x, L), "_x": x}, x


def check(out, sigs, ref, layer, states: bool, tol=TOL, lengths=None):
    y, *st = out if states else (out,)
    if layer.output_mode == "last":  # each sequence's own last step (a BiLSTM's backward half: its output there)
        L = [ref["output"].shape[1]] * y.shape[0] if lengths is None else lengths
        ref = {**ref, "output": torch.stack([ref["output"][b, n - 1] for b, n in enumerate(L)])}
    torch.testing.assert_close(y.detach(), ref["output"], **tol)
    if states:
        torch.testing.assert_close(st[0].detach(), ref["hT"], **tol)
        if len(st) > 1:
            torch.testing.assert_close(st[1].detach(), ref["cT"], **tol)
    if sigs is not None:
        assert set(sigs) == set(layer.signals)
        for n, v in sigs.items():
            torch.testing.assert_close(v.detach(), ref[n], **tol, msg=lambda m, n=n: f"{n}: {m}")


def lstm_layer(
    bi: bool, states: bool, acts: tuple[str, str] = ("sigmoid", "tanh"), mode: str = "sequence"
) -> dltk.layers.LSTM:
    make, n = (dltk.bilstmLayer, 2 * H) if bi else (dltk.lstmLayer, H)
    return make(
        H,
        InputSize=D,
        HasStateOutputs=states,
        OutputMode=mode,
        HiddenState=torch.randn(n),
        CellState=torch.randn(n),
        BiasInitializer="narrow-normal",
        GateActivationFunction=acts[0],
        StateActivationFunction=acts[1],
    ).double()


@pytest.mark.parametrize("mode", ["sequence", "last"])
@pytest.mark.parametrize("acts", [("sigmoid", "tanh"), ("hard-sigmoid", "softsign")], ids=["fused", "loop"])
@pytest.mark.parametrize("states", [False, True], ids=["no-state-out", "state-out"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("bi", [False, True], ids=["lstm", "bilstm"])
def test_lstm_plain_run_equals_step_function(bi, lengths, states, acts, mode):
    torch.manual_seed(0)
    layer = lstm_layer(bi, states, acts, mode)
    x = padded_input(lengths)
    L = None if lengths is None else torch.tensor(lengths)
    ref = lstm_reference(layer, x, L)
    out = layer(x, lengths=L)
    check(out, None, ref, layer, states, lengths=lengths)
    # gradients too: the same loss through both
    y = out[0] if states else out
    yr = (
        ref["output"]
        if mode == "sequence"
        else torch.stack([ref["output"][b, n - 1] for b, n in enumerate(lengths or [6] * 4)])
    )
    g = torch.autograd.grad(y.pow(2).sum(), [x, layer.recurrent_weights])
    gr = torch.autograd.grad(yr.pow(2).sum(), [x, layer.recurrent_weights])
    for a, b in zip(g, gr):
        torch.testing.assert_close(a, b, **TOL)
    if lengths is not None:
        assert (g[0][1, 2:] == 0).all()


@pytest.mark.parametrize("path", RECORD_PATHS)
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("bi", [False, True], ids=["lstm", "bilstm"])
def test_lstm_recording_paths_equal_step_function(monkeypatch, bi, lengths, path):
    if path.startswith("compiled") and not K.usable(torch.zeros(1)):
        pytest.skip("no compiled loop here")
    torch.manual_seed(1)
    layer = lstm_layer(bi, True)
    x = padded_input(lengths).detach()
    L = None if lengths is None else torch.tensor(lengths)
    ref, x = reference(lstm_reference, layer, x, L, path)
    out, sigs = record(layer, x, L, path, monkeypatch, ref)
    check(out, sigs, ref, layer, True)


@pytest.mark.parametrize("path", ["python", "reconstruct"])
def test_lstm_recording_other_activations_equal_step_function(monkeypatch, path):
    torch.manual_seed(2)
    layer = lstm_layer(True, True, ("hard-sigmoid", "softsign"))
    x = torch.randn(4, 6, D, dtype=torch.float64) * 3
    L = torch.tensor(LENGTHS)
    out, sigs = record(layer, x, L, path, monkeypatch)
    check(out, sigs, lstm_reference(layer, x, L), layer, True)


def gru_layer(
    mode: str, states: bool, acts: tuple[str, str] = ("sigmoid", "tanh"), out: str = "sequence"
) -> dltk.layers.GRU:
    return dltk.gruLayer(
        H,
        InputSize=D,
        OutputMode=out,
        ResetGateMode=mode,
        HasStateOutputs=states,
        HiddenState=torch.randn(H),
        BiasInitializer="narrow-normal",
        GateActivationFunction=acts[0],
        StateActivationFunction=acts[1],
    ).double()


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled-loop", "python-loop"])
@pytest.mark.parametrize("out_mode", ["sequence", "last"])
@pytest.mark.parametrize("states", [False, True], ids=["no-state-out", "state-out"])
@pytest.mark.parametrize("acts", [("sigmoid", "tanh"), ("hard-sigmoid", "softsign")], ids=["sigmoid", "other"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("mode", MODES)
def test_gru_plain_run_equals_step_function(monkeypatch, mode, lengths, acts, states, out_mode, compiled):
    """The plain run: the fused kernel; before-multiplication (no PyTorch kernel) by the compiled loop
    with its C++ backward where it is built, else by the Python step loop — both held to the reference."""
    if compiled and not K.usable(torch.zeros(1)):
        pytest.skip("no compiled loop here")
    if not compiled:
        monkeypatch.setattr(run, "compiled_ok", lambda x: False)
    torch.manual_seed(3)
    layer = gru_layer(mode, states, acts, out_mode)
    x = padded_input(lengths)
    L = None if lengths is None else torch.tensor(lengths)
    ref = gru_reference(layer, x, L)
    out = layer(x, lengths=L)
    check(out, None, ref, layer, states, lengths=lengths)
    y, hT = out if states else (out, None)
    yr = ref["output"] if out_mode == "sequence" else ref["hT"]
    g = torch.autograd.grad(y.pow(2).sum() + (0 if hT is None else hT.sum()), [x, layer.recurrent_weights, layer.bias])
    gr = torch.autograd.grad(
        yr.pow(2).sum() + (ref["hT"].sum() if states else 0), [x, layer.recurrent_weights, layer.bias]
    )
    for a, b in zip(g, gr):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("path", ["compiled", "compiled-grad", "python", "reconstruct", "reconstruct-grad"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("mode", MODES)
def test_gru_recording_paths_equal_step_function(monkeypatch, mode, lengths, path):
    if path.startswith("compiled") and not K.usable(torch.zeros(1)):
        pytest.skip("no compiled loop here")
    torch.manual_seed(4)
    layer = gru_layer(mode, True)
    x = padded_input(lengths).detach()
    L = None if lengths is None else torch.tensor(lengths)
    ref, x = reference(gru_reference, layer, x, L, path)
    out, sigs = record(layer, x, L, path, monkeypatch, ref)
    check(out, sigs, ref, layer, True)


@needs_kernel
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("h", [H, 72], ids=["own-matvec", "blas"])  # B·3H·H > 65536: BLAS per step
def test_gru_compiled_loop_float64_and_float32(monkeypatch, mode, h):
    torch.manual_seed(5)
    layer = dltk.gruLayer(h, InputSize=D, ResetGateMode=mode, HasStateOutputs=True, BiasInitializer="narrow-normal")
    x = torch.randn(5, 7, D)
    x[1, 3:] = float("nan")  # padding content must not matter
    L = torch.tensor([7, 3, 5, 1, 7])
    for dtype, tol in ((torch.float64, TOL), (torch.float32, {"atol": 1e-5, "rtol": 1e-4})):
        layer, x = layer.to(dtype), x.to(dtype)
        ref = gru_reference(layer.double(), x.double(), L)
        layer = layer.to(dtype)
        out, sigs = record(layer, x, L, "compiled", monkeypatch)
        check(out, sigs, {k: v.to(dtype) for k, v in ref.items()}, layer, True, tol)
        assert all((v[1, 3:] == 0).all() and (v[3, 1:] == 0).all() for v in sigs.values())


@pytest.mark.parametrize("make", [dltk.lstmLayer, dltk.bilstmLayer, dltk.gruLayer])
def test_states_follow_the_layer_dtype_and_device(make):
    """HiddenState/CellState are buffers: .double() converts them (it kept float32 before)."""
    kw = {"CellState": torch.ones(2 * H)} if make is dltk.bilstmLayer else {}
    kw = {"CellState": torch.ones(H)} if make is dltk.lstmLayer else kw
    n = 2 * H if make is dltk.bilstmLayer else H
    layer = make(H, InputSize=D, HiddenState=torch.ones(n), **kw).double()
    states = [layer.hidden_state, layer._initial_hidden] + (
        [layer.cell_state, layer._initial_cell] if "CellState" in kw else []
    )
    assert all(s.dtype == torch.float64 for s in states)
    layer.HiddenState = torch.zeros(n, dtype=torch.float32)  # set after the conversion: the layer's dtype
    assert layer.hidden_state.dtype == torch.float64
    layer.reset_state()
    assert layer.hidden_state.dtype == torch.float64 and (layer.hidden_state == 1).all()
    layer.update_state(torch.zeros(2, n, dtype=torch.float32), torch.zeros(2, n, dtype=torch.float32))
    assert layer.hidden_state.dtype == torch.float64
    assert "hidden_state" not in layer.state_dict()  # the saved format is unchanged
    assert layer.float().hidden_state.dtype == torch.float32
    meta = layer.to("meta")
    assert meta.hidden_state.device.type == "meta"


@pytest.mark.parametrize("out_mode", ["sequence", "last"])
@pytest.mark.parametrize("make", [dltk.lstmLayer, dltk.bilstmLayer, dltk.gruLayer])
def test_length_aware_run_without_packing_equals_the_packed_run(monkeypatch, make, out_mode):
    """The default length-aware path (no packing) gives the packed path's numbers, gradients included."""
    torch.manual_seed(7)
    layer = make(H, InputSize=D, OutputMode=out_mode, BiasInitializer="narrow-normal").double()
    x = padded_input(LENGTHS)
    L = torch.tensor(LENGTHS)
    calls = []
    fused = run.run_fused

    def packed(kind, x, hx, params, bi, lengths, train, final_states=True, last_only=False):
        calls.append(kind)
        if kind == "gru":  # the packed call the layers made before
            from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

            p = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            h = hx.index_select(1, p.sorted_indices)
            res = torch.gru(p.data, p.batch_sizes, h, params, True, 1, 0.0, train, bi)
            y, _ = pad_packed_sequence(type(p)(res[0], p.batch_sizes, p.sorted_indices, p.unsorted_indices), True)
            y = torch.nn.functional.pad(y, (0, 0, 0, x.shape[1] - y.shape[1]))
            return (y[torch.arange(len(lengths)), lengths - 1] if last_only else y), (None,)
        return fused(kind, x, hx, params, bi, lengths, train, True, last_only)

    y = layer(x, lengths=L)
    g = torch.autograd.grad(y.pow(2).sum(), [x, *layer.parameters()])
    monkeypatch.setattr(run, "run_fused", packed)
    yp = layer(x, lengths=L)
    gp = torch.autograd.grad(yp.pow(2).sum(), [x, *layer.parameters()])
    assert calls
    torch.testing.assert_close(y, yp, **TOL)
    for a, b in zip(g, gp):
        torch.testing.assert_close(a, b, **TOL)


@needs_kernel
@pytest.mark.parametrize("mode", [0, 1, 2], ids=MODES)
def test_gru_compiled_loop_reverse_runs_each_sequence_backwards(mode):
    """``gru_record(reverse=True)`` (a bidirectional ``nn.GRU``'s backward direction) equals the forward
    loop over each sequence reversed within its own length, read back in original time order."""
    from dltk.layers._sequence_masks import reversal_index, reverse_within

    torch.manual_seed(6)
    B, T = 4, 7
    f64 = {"dtype": torch.float64}
    x, h0 = torch.randn(B, T, D, **f64), torch.randn(B, H, **f64)
    W, R, bx, bh = torch.randn(3 * H, D, **f64), torch.randn(3 * H, H, **f64), torch.randn(3 * H, **f64), None
    bh = torch.randn(3 * H, **f64) if mode == 2 else None
    for L in (None, torch.tensor([7, 3, 5, 1])):
        h, hT, sigs = K.gru_record(x, h0, W, R, bx, bh, mode, L, [True] * 5, reverse=True)
        lens = torch.full((B,), T) if L is None else L
        idx = reversal_index(lens, T, x.device)
        hf, hTf, sigs_f = K.gru_record(reverse_within(x, lens, idx), h0, W, R, bx, bh, mode, L, [True] * 5)
        torch.testing.assert_close(hT, hTf, **TOL)
        for a, b in zip([h, *sigs], [hf, *sigs_f]):
            torch.testing.assert_close(a, reverse_within(b, lens, idx), **TOL)
        assert (sigs[0] - sigs_f[0]).abs().max() > 0.1  # the two runs differ step by step: really reversed


@needs_kernel
@pytest.mark.parametrize("kind", ["lstm", "bilstm", "gru"])
def test_compiled_loop_saturated_units_stay_finite_float32(monkeypatch, kind):
    """Unnormalized data (|pre-activation| in the thousands): the compiled float32 activations saturate
    to 0 / ±1 like torch.sigmoid / torch.tanh, never NaN (an exp overflow to inf once gave inf·0 = NaN)."""
    torch.manual_seed(8)
    layer = gru_layer(MODES[2], True) if kind == "gru" else lstm_layer(kind == "bilstm", True)
    x = torch.randn(4, 6, D, dtype=torch.float64) * 3000  # gate pre-activations ~±1e3..1e4
    ref = (gru_reference if kind == "gru" else lstm_reference)(layer, x, None)
    layer, x = layer.float(), x.float()
    out, sigs = record(layer, x, None, "compiled", monkeypatch)
    assert all(torch.isfinite(v).all() for v in sigs.values())
    check(out, sigs, {k: v.float() for k, v in ref.items()}, layer, True, {"atol": 1e-5, "rtol": 1e-4})


@needs_kernel
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("h", [H, 72], ids=["own-matvec", "blas"])  # B·2H·H > 65536: BLAS per step
@pytest.mark.parametrize("mode", MODES)
def test_gru_compiled_backward_equals_step_function_gradients(mode, h, reverse):
    """The compiled GRU loop with autograd (C++ backward through time, both per-step product paths, both
    directions, lengths) gives the gradients autograd takes through ``gru_step`` run over each sequence alone,
    for a loss on every recorded signal and h_T."""
    torch.manual_seed(8)
    B, T, k = 8, 7, MODES.index(mode)
    L = torch.tensor([7, 3, 5, 1, 7, 2, 6, 4])
    f64 = {"dtype": torch.float64}
    nb = 6 * h if k == 2 else 3 * h
    x, h0, b = torch.randn(B, T, D, **f64), torch.randn(B, h, **f64), 0.5 * torch.randn(nb, **f64)
    W, R = torch.randn(3 * h, D, **f64), torch.randn(3 * h, h, **f64) / h**0.5
    leaves = [v.requires_grad_(True) for v in (x, W, R, b, h0)]
    bx, bh = (b[: 3 * h], b[3 * h :]) if k == 2 else (b, None)
    _, hT, sigs = K.gru_record(x, h0, W, R, bx, bh, k, L, [True] * 5, reverse=reverse)
    weights = [torch.randn_like(v) for v in sigs]
    loss = sum((v * w).sum() for v, w in zip(sigs, weights)) + hT.pow(2).sum()
    grads = torch.autograd.grad(loss, leaves)

    def step(x_t, hp, c):
        return gru_step(x_t, hp, W, R, b, mode)

    ref, hT_ref, _ = _run(step, GRU_SIGNALS, x, h0, None, L, reverse)
    ref_loss = sum((ref[n] * w).sum() for n, w in zip(GRU_SIGNALS, weights)) + hT_ref.pow(2).sum()
    for name, a, e in zip("x W R b h0".split(), grads, torch.autograd.grad(ref_loss, leaves)):
        torch.testing.assert_close(a, e, **TOL, msg=lambda m, name=name: f"d{name}: {m}")


LONG = [40, 17, 33, 1]  # T = 40: the chunked scan (chunks, carries and a remainder) in both directions


def _long_check(layer, make_ref, path, monkeypatch, lengths, dtype, signals=None):
    torch.manual_seed(8)
    x = torch.randn(4, 40, D, dtype=torch.float64)
    L = None if lengths is None else torch.tensor(lengths)
    if L is not None:
        for b, n in enumerate(lengths):
            x[b, n:] = float("nan")
    ref = make_ref(layer, x, L)
    layer = layer.to(dtype)
    force(monkeypatch, path)
    with torch.no_grad():
        rec = dltk.record(layer, x.to(dtype), lengths=L, signals=signals)
    tol = TOL if dtype == torch.float64 else {"atol": 1e-5, "rtol": 1e-4}
    sigs = {k: v for k, v in rec[layer.label].items() if k != "output"}
    assert set(sigs) == set(signals or layer.signals) - {"output"}
    for n, v in sigs.items():
        torch.testing.assert_close(v, ref[n].to(dtype), **tol, msg=lambda m, n=n: f"{n}: {m}")
    y = rec.output[0] if isinstance(rec.output, tuple) else rec.output
    torch.testing.assert_close(y, ref["output"].to(dtype), **tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("path", ["python", "reconstruct"])
@pytest.mark.parametrize("lengths", [None, LONG], ids=["full", "lengths"])
@pytest.mark.parametrize("bi", [False, True], ids=["lstm", "bilstm"])
def test_long_lstm_recordings_equal_step_function(monkeypatch, bi, lengths, path, dtype):
    """Long sequences through the in-place paths without autograd (tanh as 1 − 2σ(−2a) on exactly scaled rows,
    the in-place chunked scan, the Python loop run backwards in place), float64 and float32."""
    _long_check(lstm_layer(bi, True), lstm_reference, path, monkeypatch, lengths, dtype)


@pytest.mark.parametrize(
    "signals",
    [["forget_gate"], ["cell_state"], ["cell_candidate", "output_gate"], ["gates_pre"], ["hidden_state"]],
    ids=lambda s: "+".join(s),
)
@pytest.mark.parametrize("bi", [False, True], ids=["lstm", "bilstm"])
def test_lstm_reconstruction_of_some_signals_equals_step_function(monkeypatch, bi, signals):
    """Only the gate blocks the wanted signals need are rebuilt (the cell state needs i, f, g)."""
    layer = lstm_layer(bi, True)
    names = [p + s for p in (layer._prefixes if bi else [""]) for s in signals]
    _long_check(layer, lstm_reference, "reconstruct", monkeypatch, LONG, torch.float64, names)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("path", ["python", "reconstruct"])
@pytest.mark.parametrize("mode", MODES)
def test_long_gru_recordings_equal_step_function(monkeypatch, mode, path, dtype):
    _long_check(gru_layer(mode, True), gru_reference, path, monkeypatch, LONG, dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("acts", [("sigmoid", "tanh"), ("hard-sigmoid", "softsign")], ids=["sigmoid", "other"])
def test_gru_signals_without_autograd_equal_the_graph_version(mode, acts):
    """:func:`gru_signals` in place (autograd off) equals its out-of-place version (autograd on), every mode and
    wanted subset, also where the layers now record by the step loop (before-multiplication)."""
    from dltk.layers._recurrent_rebuild import gru_signals

    torch.manual_seed(9)
    B, T = 3, 20
    f64 = {"dtype": torch.float64}
    x, hs, h0 = torch.randn(B, T, D, **f64), torch.randn(B, T, H, **f64).tanh(), torch.randn(B, H, **f64)
    W, R, bx = torch.randn(3 * H, D, **f64), torch.randn(3 * H, H, **f64), torch.randn(3 * H, **f64)
    bh = torch.randn(3 * H, **f64) if mode == MODES[2] else None
    gate, state = run.GATE_FUNCTIONS[acts[0]], run.STATE_FUNCTIONS[acts[1]]
    for want in (
        [True] * 5,
        [False, True, False, False, False],
        [False, False, True, False, False],
        [False] * 3 + [True, False],
    ):
        with torch.no_grad():
            fast = gru_signals(x, hs, h0, W, R, bx, bh, mode, want, gate, state)
        Wg = W.detach().clone().requires_grad_(True)
        slow = gru_signals(x, hs, h0, Wg, R, bx, bh, mode, want, gate, state)
        for a, b in zip(fast, slow):
            assert (a is None) == (b is None)
            if a is not None:
                torch.testing.assert_close(a, b.detach(), **TOL)
