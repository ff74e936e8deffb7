"""Property test: bad input to any layer ends in a dltk error naming the layer — or a valid result.

For every registered LayerCase, hypothesis takes the case's good inputs and
spoils one of them: wrong rank, wrong size of one axis (batch included),
integer or bool dtype, an empty batch, a NaN or ±Inf entry. Output layers get
the same treatment for ``loss(y, targets)`` (targets included). Allowed endings:

* a :class:`dltk.errors.DltkError` whose message names the layer (MATLAB name or label);
* a valid result (a tensor or tuple of tensors) — documented as valid for every
  spoil except an impossible rank: a layer may accept other sizes (convolutions,
  activations), other ranks it supports, an empty batch, and integer inputs
  where it takes indices (embeddings, unpooling indices, class targets).
  NaN in → NaN out is the valid result for most layers (as in PyTorch and MATLAB);
  finding where a NaN first appears is the job of ``Recording.first_nonfinite``.

A rank outside 2–5 (no dltk layout has it) must raise a DltkError. Anything
else — a raw ``RuntimeError``/``IndexError`` from torch, a warning, a
``TypeError`` — is a failure.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dltk.errors import DltkError
from dltk.testing import battery
from tests.cases import all_cases

CASES = all_cases()
KINDS = ("rank", "size", "dtype", "empty", "nonfinite")
VALID_RANKS = range(2, 6)


def _spoil(x: torch.Tensor, kind: str, data: st.DataObject) -> tuple[torch.Tensor, bool, str]:
    """A spoiled copy of ``x``; also whether it must raise and a description."""
    shape = list(x.shape)
    if kind == "rank":
        rank = data.draw(st.sampled_from([r for r in range(0, 8) if r != x.ndim]), label="rank")
        new = (shape + [2] * 8)[:rank] if rank > x.ndim else shape[:rank]
        return (
            torch.zeros(new, dtype=x.dtype).normal_() if x.is_floating_point() else torch.zeros(new, dtype=x.dtype),
            rank not in VALID_RANKS,
            f"rank {rank} {tuple(new)}",
        )
    if kind == "size" and x.ndim:
        axis = data.draw(st.integers(0, x.ndim - 1), label="axis")
        size = data.draw(st.integers(1, shape[axis] + 3).filter(lambda s: s != shape[axis]), label="size")
        shape[axis] = size
        y = torch.randn(shape, dtype=torch.float64) if x.is_floating_point() else torch.zeros(shape, dtype=x.dtype)
        return y, False, f"axis {axis} of size {size}: {tuple(shape)}"
    if kind == "dtype":
        dt = data.draw(st.sampled_from([torch.int64, torch.int32, torch.uint8, torch.bool]), label="dtype")
        return x.detach().abs().round().to(dt), False, f"dtype {dt}"
    if kind == "empty" and x.ndim:
        return x[:0].detach().clone(), False, f"empty batch {(0, *shape[1:])}"
    if kind == "nonfinite" and x.is_floating_point() and x.numel():
        y = x.detach().clone()
        i = data.draw(st.integers(0, y.numel() - 1), label="index")
        v = data.draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]), label="value")
        y.view(-1)[i] = v
        return y, False, f"{v} at flat index {i}"
    return x, False, "unchanged"


def _valid(result: Any) -> bool:
    if isinstance(result, torch.Tensor):
        return True
    return isinstance(result, (tuple, list)) and all(isinstance(r, torch.Tensor) for r in result)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_bad_input_ends_in_dltk_error_or_valid_result(case: Any, data: st.DataObject) -> None:
    layer = battery.build(case)
    inputs = battery.case_inputs(case)
    is_output = getattr(layer, "is_output_layer", False)
    targets = battery.case_targets(case)
    if is_output and targets is not None:
        inputs, call = [*inputs, targets], layer.loss
    else:
        call = lambda *xs: layer(*xs, **case.kwargs)  # noqa: E731
    which = data.draw(st.integers(0, len(inputs) - 1), label="which input")
    if not isinstance(inputs[which], torch.Tensor):
        return
    kind = data.draw(st.sampled_from(KINDS), label="kind")
    bad, must_raise, what = _spoil(inputs[which], kind, data)
    inputs[which] = bad
    where = f"{case.id}: input {which + 1} with {what}"
    names = [n for n in (getattr(layer, "matlab_name", ""), layer.label) if n]
    try:
        with torch.no_grad(), battery.single_thread():
            result = call(*inputs)
    except DltkError as err:
        assert any(n in str(err) for n in names), f"{where}: the error does not name the layer {names}: {err}"
        return
    except Exception as err:  # noqa: BLE001 - exactly what this test hunts
        raise AssertionError(f"{where}: raised {type(err).__name__} (not a dltk error): {err}") from None
    assert not must_raise, f"{where}: no error for an input no layout has"
    assert _valid(result), f"{where}: returned {type(result).__name__}, not a tensor"
