"""The compiled LSTM recording loop (dltk/layers/_lstm_kernel.py) equals the pure-PyTorch paths; fallback works.

Float64 throughout (tolerance atol 1e-12, rtol 1e-10) except the float32 check
against the plain run (atol 1e-5, rtol 1e-4: the float32 loop uses PyTorch's
fast exp, ~2e-6 relative).
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest
import torch

import dltk
from dltk.layers import _lstm_kernel as K
from dltk.layers import _recurrent_run as R

D, H = 3, 5
TOL = {"atol": 1e-12, "rtol": 1e-10}
CAN_BUILD = (
    shutil.which("c++") is not None
    and torch.backends.cpu.get_cpu_capability() in K._FLAGS
    and (shutil.which("ninja") is not None or importlib.util.find_spec("ninja") is not None)
)
needs_kernel = pytest.mark.skipif(
    not CAN_BUILD or bool(os.environ.get("DLTK_NO_LSTM_KERNEL")),
    reason="no C++ compiler/ninja, unsupported CPU or DLTK_NO_LSTM_KERNEL set: fallback only",
)


def _layer(bi: bool, h: int = H, d: int = D, **kw) -> dltk.layers.LSTM:
    make = dltk.bilstmLayer if bi else dltk.lstmLayer
    n = 2 * h if bi else h
    layer = make(h, InputSize=d, HasStateOutputs=True, CellState=torch.randn(n), HiddenState=torch.randn(n), **kw)
    return layer.double()


def _record(layer, x, lengths, path: str, monkeypatch) -> tuple:
    """Record every signal through ``path``: 'compiled', 'python' (step loop) or 'reconstruct'."""
    calls = []
    compiled = R.lstm_record_compiled
    monkeypatch.setattr(R, "lstm_record_compiled", lambda *a: calls.append(1) or compiled(*a))
    monkeypatch.setattr(R, "step_loop_pays", lambda *a: path != "reconstruct")
    monkeypatch.setattr(R, "compiled_ok", lambda x: path == "compiled" and K.usable(x))
    with torch.no_grad():
        rec = dltk.record(layer, x, lengths=lengths)
    assert bool(calls) == (path == "compiled"), f"path {path!r} not taken"
    return rec.output, rec[layer.label]


@needs_kernel
def test_kernel_builds_where_a_compiler_exists():
    assert K.op() is not None, K._state["reason"]


@needs_kernel
@pytest.mark.parametrize("bi", [False, True], ids=["lstm", "bilstm"])
@pytest.mark.parametrize("lengths", [None, [6, 2, 4, 6]], ids=["full", "lengths"])
@pytest.mark.parametrize(
    "h, d",
    [(H, D), (72, D), (72, 40)],
    ids=["own-matvec", "blas", "blas-projected-input"],  # B·4H·(D+H) > 65536: BLAS per step; D ≥ 32, B < 64: x·Wᵀ once
)
def test_compiled_loop_equals_python_loop_and_reconstruction(monkeypatch, bi, lengths, h, d):
    torch.manual_seed(1)
    layer = _layer(bi, h, d)
    x = torch.randn(4, 6, d, dtype=torch.float64)
    L = None if lengths is None else torch.tensor(lengths)
    plain = layer(x, lengths=L)
    out_k, sig_k = _record(layer, x, L, "compiled", monkeypatch)
    for path in ("python", "reconstruct"):
        out, sig = _record(layer, x, L, path, monkeypatch)
        for a, b in zip(out_k, out):  # output sequence, final hidden and cell states
            torch.testing.assert_close(a, b, **TOL)
        assert set(sig_k) == set(sig) == {*layer.signals, "output"}
        for name in sig:
            torch.testing.assert_close(sig_k[name], sig[name], **TOL, msg=f"{name} vs {path}")
    for a, b in zip(out_k, plain):
        torch.testing.assert_close(a, b.detach(), **TOL)
    if L is not None:  # padded steps are zero in every signal
        assert all((v[1, 2:] == 0).all() for v in sig_k.values())


@needs_kernel
def test_compiled_gates_reproduce_states_and_only_wanted_signals_are_made(monkeypatch):
    torch.manual_seed(2)
    layer = _layer(False, OutputMode="last")
    x = torch.randn(2, 5, D, dtype=torch.float64)
    monkeypatch.setattr(R, "step_loop_pays", lambda *a: True)
    with torch.no_grad():
        rec = dltk.record(layer, x, signals=["forget_gate", "cell_state"])
    assert set(rec["lstm"]) == {"forget_gate", "cell_state"}
    with torch.no_grad():
        s = dltk.record(layer, x)["lstm"]
    c = layer.cell_state.double().expand(2, H)
    for t in range(5):
        i, f, g, o = (s[n][:, t] for n in ("input_gate", "forget_gate", "cell_candidate", "output_gate"))
        c = f * c + i * g
        torch.testing.assert_close(s["cell_state"][:, t], c, **TOL)
        torch.testing.assert_close(s["hidden_state"][:, t], o * torch.tanh(c), **TOL)
    pre = s["gates_pre"]
    torch.testing.assert_close(torch.sigmoid(pre[..., :H]), s["input_gate"], **TOL)
    torch.testing.assert_close(torch.tanh(pre[..., 2 * H : 3 * H]), s["cell_candidate"], **TOL)
    torch.testing.assert_close(rec.output[0], s["hidden_state"][:, -1], **TOL)


@needs_kernel
def test_compiled_float32_close_to_plain_run_and_padding_never_leaks(monkeypatch):
    torch.manual_seed(3)
    layer = dltk.bilstmLayer(16, InputSize=D)
    x = torch.randn(4, 9, D)
    x[1, 5:] = float("nan")  # padding content must not matter
    L = torch.tensor([9, 5, 9, 1])
    monkeypatch.setattr(R, "step_loop_pays", lambda *a: True)
    with torch.no_grad():
        plain = layer(x, lengths=L)
        rec = dltk.record(layer, x, lengths=L)
    torch.testing.assert_close(rec.output, plain, atol=1e-5, rtol=1e-4)
    for name, v in rec["bilstm"].items():
        assert not v.isnan().any(), name
        assert (v[1, 5:] == 0).all() and (v[3, 1:] == 0).all(), name


def test_fallback_when_the_kernel_cannot_be_built(monkeypatch):
    """No compiler (simulated by DLTK_NO_LSTM_KERNEL): op() is None and recording falls back, same numbers."""
    monkeypatch.setenv("DLTK_NO_LSTM_KERNEL", "1")
    monkeypatch.setattr(K, "_state", {"op": None, "tried": False, "reason": ""})
    assert K.op() is None and "DLTK_NO_LSTM_KERNEL" in K._state["reason"]
    assert not R.compiled_ok(torch.zeros(1, 1, D))
    assert not R.step_loop_pays(1, 1, 64, 4, torch.zeros(1, 1, 1))  # back to the cost model: reconstruction
    monkeypatch.setattr(R, "lstm_record_compiled", lambda *a: pytest.fail("compiled loop used without a kernel"))
    torch.manual_seed(4)
    layer = _layer(True)
    x = torch.randn(3, 4, D, dtype=torch.float64)
    L = torch.tensor([4, 3, 1])
    plain = layer(x, lengths=L)
    for steps in (True, False):  # forced step loop (python) and the default choice (reconstruction)
        monkeypatch.setattr(R, "step_loop_pays", lambda *a, steps=steps: steps)
        with torch.no_grad():
            rec = dltk.record(layer, x, lengths=L)
        for a, b in zip(rec.output, plain):
            torch.testing.assert_close(a, b.detach(), **TOL)


def test_kernel_not_used_for_other_dtypes_devices_or_activations(monkeypatch):
    assert not K.usable(torch.zeros(1, 1, 1, dtype=torch.bfloat16))
    assert not K.usable(torch.zeros(1, 1, 1, device="meta"))
    monkeypatch.setattr(R, "lstm_record_compiled", lambda *a: pytest.fail("compiled loop used for softsign"))
    monkeypatch.setattr(R, "step_loop_pays", lambda *a: True)
    layer = dltk.lstmLayer(H, InputSize=D, StateActivationFunction="softsign").double()
    x = torch.randn(2, 3, D, dtype=torch.float64)
    with torch.no_grad():
        rec = dltk.record(layer, x)
    torch.testing.assert_close(rec.output, layer(x).detach(), **TOL)


def test_failed_build_is_remembered_on_disk(monkeypatch, tmp_path, capsys):
    """A compiler error falls back, and later processes do not retry the build (a marker file)."""
    from torch.utils import cpp_extension

    calls = []

    def broken(*a, **kw):
        calls.append(1)
        raise RuntimeError("c++: not found")

    monkeypatch.delenv("DLTK_NO_LSTM_KERNEL", raising=False)
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(K, "_SOURCE", K._SOURCE + "// test variant\n")
    monkeypatch.setattr(cpp_extension, "load_inline", broken)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    for _ in range(2):
        monkeypatch.setattr(K, "_state", {"op": None, "tried": False, "reason": ""})
        assert K.op() is None
    assert len(calls) == 1 and "earlier build failed" in K._state["reason"]
    assert "compiling the LSTM/GRU recording loops" in capsys.readouterr().err
    assert list(tmp_path.glob("*/dltk_build_failed.txt"))


@needs_kernel
def test_compiled_loop_split_across_threads_equals_python_loop(monkeypatch):
    """B·H above 8192: the element-wise loop is split over rows (at::parallel_for) when threads allow."""
    torch.manual_seed(5)
    layer = _layer(True, 256)
    x = torch.randn(40, 3, D, dtype=torch.float64)
    L = torch.randint(1, 4, (40,))
    out_k, sig_k = _record(layer, x, L, "compiled", monkeypatch)
    out, sig = _record(layer, x, L, "python", monkeypatch)
    for a, b in zip(out_k, out):
        torch.testing.assert_close(a, b, **TOL)
    for name in sig:
        torch.testing.assert_close(sig_k[name], sig[name], **TOL, msg=name)


@needs_kernel
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
def test_compiled_backward_through_time_passes_gradcheck(reverse, lengths):
    """The C++ backward of the recording loop (autograd on) against finite differences, every output's gradient."""
    torch.manual_seed(6)
    B, T, d, h = 3, 5, 2, 3
    L = None if lengths is None else torch.tensor(lengths)
    args = [
        torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        for shape in ((B, T, d), (4 * h, d), (4 * h, h), (4 * h,), (B, h), (B, h))
    ]

    def f(*a):
        return tuple(r for r in K._LSTMRecord.apply(*a, L, reverse, True) if r.numel())

    assert torch.autograd.gradcheck(f, args)


@needs_kernel
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
@pytest.mark.parametrize("mode", [0, 1, 2], ids=["after", "before", "rbias"])
def test_gru_compiled_backward_through_time_passes_gradcheck(mode, reverse, lengths):
    """The GRU loop's C++ backward (every ResetGateMode) against finite differences, every output's gradient."""
    torch.manual_seed(7)
    B, T, d, h = 3, 5, 2, 3
    L = None if lengths is None else torch.tensor(lengths)
    nb = 6 * h if mode == 2 else 3 * h
    args = [
        torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        for shape in ((B, T, d), (3 * h, d), (3 * h, h), (nb,), (B, h))
    ]

    def f(*a):
        return tuple(r for r in K._GRURecord.apply(*a, L, mode, reverse, True) if r.numel())

    assert torch.autograd.gradcheck(f, args)


_NO_COMPILER = r"""
import sys, torch, dltk
from dltk.layers import _lstm_kernel as K
torch.manual_seed(0)
for layer in (dltk.bilstmLayer(4, InputSize=3), dltk.gruLayer(4, InputSize=3)):
    layer = layer.double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        rec = dltk.record(layer, x)
        plain = layer(x)
    assert torch.allclose(rec.output, plain, atol=1e-12, rtol=1e-10)
    assert len(rec[layer.label]) == len(layer.signals) + 1
assert K.op() is None
print("fallback:", K._state["reason"])
"""


def test_failed_build_without_a_compiler_leaves_the_fallback_working(tmp_path):
    """A real build attempt with no C++ compiler on PATH (fresh extensions dir, subprocess): one notice, then
    the recordings fall back with the same numbers."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PATH": str(tmp_path), "TORCH_EXTENSIONS_DIR": str(tmp_path / "ext"), "CXX": "c++"}
    env.pop("DLTK_NO_LSTM_KERNEL", None)
    r = subprocess.run([sys.executable, "-c", _NO_COMPILER], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "fallback:" in r.stdout
    reason = r.stdout.split("fallback:")[1]
    assert "capability" in reason or "ninja" in reason or "rror" in reason
    if "capability" not in reason and "ninja is not installed" not in reason:  # a build was attempted
        assert r.stderr.count("compiling the LSTM/GRU recording loops") == 1
