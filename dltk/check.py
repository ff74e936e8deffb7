"""Exercise checks for the lessons (``dltk.check``).

Each check prints friendly feedback — what is right, what is wrong, and what
was expected — and returns ``True``/``False``; it never raises on a wrong
answer (students experiment), except :func:`accuracy`, which guards a
lesson's claims: if a training cell does not reach the accuracy the lesson
states, it raises so the lesson tests fail.

Example::

    dltk.check.equal("number of LSTM learnables", answer, 4 * 100 * (12 + 100 + 1))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._config import config

__all__ = ["equal", "close", "shape", "true", "layer_types", "accuracy", "Feedback"]


class Feedback:
    """The result of a check: truthy when correct; shows as text or HTML."""

    def __init__(self, ok: bool, message: str) -> None:
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return ("✅ " if self.ok else "❌ ") + self.message

    def _repr_html_(self) -> str:
        from html import escape

        color = "#1a7f37" if self.ok else "#cf222e"
        mark = "✅" if self.ok else "❌"
        return f"<div style='color:{color}'>{mark} {escape(self.message)}</div>"


def _shape_of(x: Any) -> tuple[int, ...] | None:
    s = getattr(x, "shape", None)
    return tuple(int(d) for d in s) if s is not None else None


def equal(what: str, answer: Any, expected: Any, hint: str = "") -> Feedback:
    """Exact equality (numbers, text, tuples, arrays)."""
    try:
        ok = bool(np.array_equal(np.asarray(answer, dtype=object), np.asarray(expected, dtype=object)))
    except Exception:  # noqa: BLE001
        ok = answer == expected
    if ok:
        return Feedback(True, f"{what}: correct ({answer!r}).")
    return Feedback(False, f"{what}: got {answer!r}, which is not right. {hint}".strip())


def close(what: str, answer: Any, expected: Any, tol: float = 1e-4, hint: str = "") -> Feedback:
    """Numerical closeness with an absolute/relative tolerance ``tol``."""
    a = np.asarray(answer.detach().cpu() if hasattr(answer, "detach") else answer, dtype=float)
    e = np.asarray(expected.detach().cpu() if hasattr(expected, "detach") else expected, dtype=float)
    if a.shape != e.shape:
        return Feedback(False, f"{what}: shape {a.shape} but expected shape {e.shape}. {hint}".strip())
    err = float(np.max(np.abs(a - e))) if a.size else 0.0
    if np.allclose(a, e, atol=tol, rtol=tol):
        return Feedback(True, f"{what}: correct (max difference {err:.2g}).")
    return Feedback(False, f"{what}: off by up to {err:.3g} (tolerance {tol}). {hint}".strip())


def shape(what: str, answer: Any, expected: Sequence[int], hint: str = "") -> Feedback:
    """The shape of a tensor/array (or a shape tuple given directly)."""
    got = _shape_of(answer) or tuple(answer)
    if tuple(got) == tuple(expected):
        return Feedback(True, f"{what}: shape {tuple(got)} is right.")
    return Feedback(False, f"{what}: shape {tuple(got)}, expected a different shape. {hint}".strip())


def true(what: str, condition: bool, hint: str = "") -> Feedback:
    """A condition the student's work must satisfy."""
    return Feedback(bool(condition), f"{what}: " + ("yes." if condition else f"not yet. {hint}".strip()))


def layer_types(what: str, layers: Sequence[Any], expected: Sequence[str], hint: str = "") -> Feedback:
    """The MATLAB constructor names of a layer array, in order."""
    got = [getattr(la, "matlab_name", type(la).__name__) for la in layers]
    if got == list(expected):
        return Feedback(True, f"{what}: the layer array is right.")
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            return Feedback(False, f"{what}: layer {i + 1} is {g}, expected {e}. {hint}".strip())
    return Feedback(False, f"{what}: {len(got)} layers, expected {len(expected)}. {hint}".strip())


def accuracy(what: str, value: float, claimed: float, fast_claimed: float | None = None) -> Feedback:
    """Guard a lesson's claim: ``value`` must reach ``claimed``.

    In fast mode (``DLTK_FAST=1``, used by the tests) the bar is
    ``fast_claimed`` (default: ``claimed``). Raises ``AssertionError`` when the
    claim fails, so a lesson that promises an accuracy it does not reach fails
    its test.
    """
    bar = fast_claimed if (config.fast and fast_claimed is not None) else claimed
    if value >= bar:
        return Feedback(True, f"{what}: {value:.3f} ≥ {bar:g} as the lesson says.")
    raise AssertionError(f"{what}: {value:.3f} is below the {bar:g} this lesson claims.")
