"""A refused recording allocates nothing first: the budget error comes before any signal buffer exists
and before the recording loop runs.

"Before" is measured, not assumed: a TorchDispatchMode sees every tensor operation (also those a C++
kernel calls through the dispatcher) and every new storage. Until the budget error, ``dltk.record``
may do no more than a plain forward pass of the same layer does: same bytes (plus 1 MB), about the same
number of operations (a time-step loop would add thousands).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import dltk
from dltk.errors import RecordingBudgetError

B, T, D, H = 16, 500, 12, 100
SIGNAL = B * T * H * 4  # bytes of one (B, T, H) float32 signal: 3.2 MB; the budget is 1 MB


class AllocationSpy(TorchDispatchMode):
    """Counts operations and the bytes of every new storage they create (views are not new)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.bytes = 0
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        def storages(tree):  # noqa: ANN001, ANN202
            return {
                t.untyped_storage().data_ptr()
                for t in tree_flatten(tree)[0]
                if isinstance(t, torch.Tensor) and t.layout == torch.strided
            }

        before = storages((args, kwargs))
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.layout == torch.strided:
                if t.untyped_storage().data_ptr() not in before:
                    n = t.untyped_storage().nbytes()
                    self.bytes += n
                    self.largest = max(self.largest, n)
        return out


LAYERS = {
    "lstm": lambda: dltk.lstmLayer(H),
    "bilstm": lambda: dltk.bilstmLayer(H),
    "gru": lambda: dltk.gruLayer(H),
    "lstm_last": lambda: dltk.lstmLayer(H, OutputMode="last"),
}


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_budget_error_before_allocation(kind, grad):
    torch.manual_seed(0)
    layer = LAYERS[kind]()
    X = torch.randn(B, T, D)
    with torch.set_grad_enabled(grad):
        layer(X)  # warm up (lazy sizes, kernels) outside the measurement
        with AllocationSpy() as plain:
            layer(X)
        with AllocationSpy() as spy, pytest.raises(RecordingBudgetError, match=r"over the budget of 1\.0 MB"):
            dltk.record(layer, X, budget_mb=1)
    assert spy.largest < SIGNAL or spy.largest <= plain.largest, (spy.largest, plain.largest)
    assert spy.bytes <= plain.bytes + 2**20, (
        f"{spy.bytes / 2**20:.1f} MB before the error, plain pass {plain.bytes / 2**20:.1f} MB"
    )
    assert spy.ops <= plain.ops + 50, f"{spy.ops} operations before the error (plain pass {plain.ops}): a loop ran"
    # nothing stayed attached: the same layer records fine with a budget that fits
    rec = dltk.record(layer, X[:2, :10], budget_mb=1)
    assert rec.nbytes > 0


def test_refused_recording_stores_no_signal(monkeypatch):
    from dltk.introspect import recording

    stored = []
    real = recording.Recorder.store
    monkeypatch.setattr(recording.Recorder, "store", lambda self, *a, **k: (stored.append(a[1]), real(self, *a, **k)))
    with pytest.raises(RecordingBudgetError):
        dltk.record(dltk.lstmLayer(H), torch.randn(B, T, D), budget_mb=1)
    assert stored == []
