"""Exercise checks for the lessons (``dltk.check``).

A lesson's exercise cell starts with a placeholder (``answer = ...``); the
check below it then prints a friendly "not attempted yet" line and raises
nothing, so Run All of an untouched lesson ends without an error. Once the
student writes an answer, the check prints what is right or wrong with a hint
that helps without giving the answer away, and returns a :class:`Feedback`
(truthy when correct). Checks never reveal the expected value in a message.

Two functions are not exercise checks:

* :func:`prediction` reveals an experiment's result beside the student's
  prediction (cells tagged ``predict``): it never fails and never raises.
* :func:`accuracy` and :func:`claim` guard a claim the lesson's text makes (a
  number reached; a yes/no statement such as "equal to ``F.conv2d``"): they
  raise when the claim fails, so a lesson that promises what it does not show
  fails its test. They are not exercise checks and stay out of :func:`results`.

*Strict mode* (``DLTK_CHECK_STRICT=1`` or :func:`strict`) makes a wrong or
unattempted answer raise ``AssertionError`` with the same message: the tests
use it to run each lesson with its solutions substituted, and nbgrader's
autograded test cells use it to award or withhold points.

Every check appends its :class:`Feedback` to :func:`results`, which the
lesson tests read.

Example::

    answer = ...  # the number of learnables of lstm_2
    dltk.check.equal("learnables of lstm_2", answer, 90_400, hint="4H(D + H + 1), with D the input width")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._config import config

__all__ = [
    "equal",
    "close",
    "shape",
    "true",
    "layer_types",
    "sequences",
    "network_output",
    "analysis",
    "prediction",
    "accuracy",
    "claim",
    "attempted",
    "strict",
    "results",
    "reset_results",
    "Feedback",
]

#: status values of a :class:`Feedback`
CORRECT, WRONG, NOT_ATTEMPTED, REVEALED = "correct", "wrong", "not attempted", "revealed"

_results: list[Feedback] = []
_strict: list[bool] = [os.environ.get("DLTK_CHECK_STRICT", "").strip().lower() not in ("", "0", "false", "no")]


class Feedback:
    """The result of a check: truthy when correct; shows as text or HTML.

    Attributes: ``ok`` (bool), ``status`` (``"correct"``, ``"wrong"``,
    ``"not attempted"`` or ``"revealed"`` for a prediction), ``what``,
    ``message`` and ``hint`` (on a wrong answer: the hint given, else ``""``).
    """

    _marks = {CORRECT: "✅", WRONG: "❌", NOT_ATTEMPTED: "✏️", REVEALED: "🔎"}
    _colors = {CORRECT: "#1a7f37", WRONG: "#cf222e", NOT_ATTEMPTED: "#57606a", REVEALED: "#0550ae"}

    def __init__(self, ok: bool, message: str, status: str | None = None, what: str = "") -> None:
        self.ok, self.message, self.what = ok, message, what
        self.status = status or (CORRECT if ok else WRONG)
        self.hint = ""  # set on wrong answers: the help given without the answer

    @property
    def attempted(self) -> bool:
        return self.status != NOT_ATTEMPTED

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"{self._marks[self.status]} {self.message}"

    def _repr_html_(self) -> str:
        from html import escape

        color = self._colors[self.status]
        return f"<div style='color:{color}'>{self._marks[self.status]} {escape(self.message)}</div>"


def attempted(answer: Any) -> bool:
    """False for the placeholders an exercise cell starts with (``...`` or ``None``)."""
    return answer is not ... and answer is not None


def strict(on: bool = True) -> contextlib.AbstractContextManager:
    """Make wrong and unattempted answers raise ``AssertionError`` (grading, tests).

    Usable as a call (``dltk.check.strict()``) or as a context manager
    (``with dltk.check.strict(): ...``), which restores the previous mode.
    """
    before = _strict[0]
    _strict[0] = bool(on)

    @contextlib.contextmanager
    def _restore() -> Iterator[None]:
        try:
            yield
        finally:
            _strict[0] = before

    return _restore()


def results() -> list[Feedback]:
    """Every check's feedback since the kernel started (or since :func:`reset_results`)."""
    return list(_results)


def reset_results() -> None:
    _results.clear()


def _finish(fb: Feedback) -> Feedback:
    _results.append(fb)
    if _strict[0] and fb.status in (WRONG, NOT_ATTEMPTED):
        raise AssertionError(fb.message)
    return fb


def _not_attempted(what: str) -> Feedback:
    return _finish(
        Feedback(
            False,
            f"{what}: not attempted yet — replace the `...` in the cell above with your answer and run it again.",
            NOT_ATTEMPTED,
            what,
        )
    )


def _wrong(what: str, text: str, hint: str) -> Feedback:
    fb = Feedback(False, f"{what}: {text} {hint}".strip(), WRONG, what)
    fb.hint = hint  # the tests require a hint on every wrong answer
    return _finish(fb)


def _right(what: str, text: str) -> Feedback:
    return _finish(Feedback(True, f"{what}: {text}", CORRECT, what))


def _shape_of(x: Any) -> tuple[int, ...] | None:
    s = getattr(x, "shape", None)
    return tuple(int(d) for d in s) if s is not None else None


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    return np.asarray(x, dtype=float)


def _normalise(x: Any) -> Any:
    """Text compares without case or surrounding blanks; tuples like lists."""
    if isinstance(x, str):
        return x.strip().lower()
    if isinstance(x, (list, tuple)):
        return [_normalise(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
        return x.item()
    return x


def equal(what: str, answer: Any, expected: Any, hint: str = "") -> Feedback:
    """Equality of numbers, text (case and surrounding blanks ignored), lists/tuples, arrays.

    The message on a wrong answer repeats the student's answer and the hint,
    never the expected value.
    """
    if not attempted(answer):
        return _not_attempted(what)
    a, e = _normalise(answer), _normalise(expected)
    try:
        ok = bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(e, dtype=object)))
    except Exception:  # noqa: BLE001 - fall back to Python equality for anything numpy cannot hold
        ok = a == e
    if ok:
        return _right(what, f"correct ({answer!r}).")
    return _wrong(what, f"got {answer!r}, which is not right.", hint)


def close(what: str, answer: Any, expected: Any, tol: float = 1e-4, hint: str = "") -> Feedback:
    """Numerical closeness (absolute and relative tolerance ``tol``); shapes must agree."""
    if not attempted(answer):
        return _not_attempted(what)
    try:
        a = _as_array(answer)
    except (TypeError, ValueError):
        return _wrong(what, f"expected numbers, got {type(answer).__name__}.", hint)
    e = _as_array(expected)
    if a.shape != e.shape:
        return _wrong(what, f"your answer has shape {a.shape}, which is not the shape asked for.", hint)
    if not np.all(np.isfinite(a)):
        return _wrong(what, "your answer contains NaN or Inf.", hint)
    if np.allclose(a, e, atol=tol, rtol=tol):
        err = float(np.max(np.abs(a - e))) if a.size else 0.0
        return _right(what, f"correct (max difference {err:.2g}).")
    return _wrong(what, f"not within the tolerance {tol}.", hint)


def shape(what: str, answer: Any, expected: Sequence[int], hint: str = "") -> Feedback:
    """The shape of a tensor/array (or a shape tuple given directly)."""
    if not attempted(answer):
        return _not_attempted(what)
    got = _shape_of(answer)
    if got is None:
        try:
            got = tuple(int(d) for d in answer)
        except (TypeError, ValueError):
            return _wrong(what, f"expected a tensor or a shape tuple, got {type(answer).__name__}.", hint)
    if tuple(got) == tuple(int(d) for d in expected):
        return _right(what, f"shape {tuple(got)} is right.")
    return _wrong(what, f"shape {tuple(got)} is not the shape asked for.", hint)


def true(what: str, condition: Any, hint: str = "") -> Feedback:
    """A condition the student's work must satisfy (``...``/``None``: not attempted)."""
    if not attempted(condition):
        return _not_attempted(what)
    try:
        ok = bool(condition)
    except (ValueError, RuntimeError):  # an array of several truth values: ambiguous, not an error to raise
        return _wrong(what, "your condition holds several True/False values, not one; combine them with .all().", hint)
    if ok:
        return _right(what, "yes.")
    return _wrong(what, "not yet.", hint)


def layer_types(what: str, layers: Any, expected: Sequence[str], hint: str = "") -> Feedback:
    """The MATLAB constructor names of a layer array, in order."""
    if not attempted(layers):
        return _not_attempted(what)
    if not isinstance(layers, (list, tuple)):
        return _wrong(what, f"expected a list of layers, got {type(layers).__name__}.", hint)
    got = [getattr(la, "matlab_name", type(la).__name__) for la in layers]
    if got == list(expected):
        return _right(what, "the layer array is right.")
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            return _wrong(what, f"layer {i + 1} ({g}) is not what belongs there.", hint)
    return _wrong(what, f"{len(got)} layers: that is {'too many' if len(got) > len(expected) else 'too few'}.", hint)


def prediction(what: str, predicted: Any, actual: Any, tol: float | None = None, unit: str = "") -> Feedback:
    """Reveal an experiment's result beside the student's prediction (never raises).

    ``tol`` (absolute) makes a numeric prediction count as right when it is
    that close; text predictions compare without case. Without a prediction
    (``...``/``None``) the result is still shown, with a nudge to predict first
    next time.
    """
    shown = f"{actual:.4g}{unit}" if isinstance(actual, float) else f"{actual!r}{unit}"
    if not attempted(predicted):
        fb = Feedback(
            False, f"{what}: the experiment gives {shown}. (Write your prediction first next time.)", REVEALED, what
        )
        _results.append(fb)
        return fb
    if tol is not None:
        try:
            right = abs(float(predicted) - float(actual)) <= tol
        except (TypeError, ValueError):
            right = False
    else:
        try:
            right = bool(np.array_equal(np.asarray(_normalise(predicted)), np.asarray(_normalise(actual))))
        except Exception:  # noqa: BLE001 - a prediction never raises
            right = False
    verdict = "your prediction was right" if right else "not what you predicted — why? Look at the experiment again."
    fb = Feedback(
        right, f"{what}: you predicted {predicted!r}{unit}; the experiment gives {shown} — {verdict}", REVEALED, what
    )
    _results.append(fb)
    return fb


def accuracy(what: str, value: float, claimed: float, fast_claimed: float | None = None) -> Feedback:
    """Guard a lesson's claim: ``value`` must reach ``claimed``.

    In fast mode (``DLTK_FAST=1``, used by the tests) the bar is
    ``fast_claimed`` (default: ``claimed``). Raises ``AssertionError`` when the
    claim fails, so a lesson that promises an accuracy it does not reach fails
    its test.
    """
    bar = fast_claimed if (config.fast and fast_claimed is not None) else claimed
    if value >= bar:
        return Feedback(True, f"{what}: {value:.3f} ≥ {bar:g} as the lesson says.", CORRECT, what)
    raise AssertionError(f"{what}: {value:.3f} is below the {bar:g} this lesson claims.")


def sequences(what: str, answer: Any, expected: Sequence[Any], tol: float = 1e-6, hint: str = "") -> Feedback:
    """A list of sequences (arrays of possibly different lengths): count, each shape and each value.

    Example: a MATLAB cell array of C×T matrices converted to dltk's list of (T, C) arrays.
    """
    if not attempted(answer):
        return _not_attempted(what)
    try:
        got = [_as_array(a) for a in answer]
    except (TypeError, ValueError):
        return _wrong(what, f"expected a list of arrays, got {type(answer).__name__}.", hint)
    want = [_as_array(e) for e in expected]
    if len(got) != len(want):
        return _wrong(what, f"your list holds {len(got)} sequences, which is not the number asked for.", hint)
    for k, (a, e) in enumerate(zip(got, want)):
        if a.shape != e.shape:
            return _wrong(what, f"sequence {k + 1} has shape {a.shape}, which is not the shape asked for.", hint)
        if not np.allclose(a, e, atol=tol, rtol=tol):
            return _wrong(what, f"sequence {k + 1} has the right shape but the wrong values.", hint)
    return _right(what, f"all {len(got)} sequences are right.")


def network_output(what: str, layers: Any, x: Any, expected_shape: Sequence[int], hint: str = "") -> Feedback:
    """Build ``dltk.Network(layers)``, run ``x`` through it (eval mode) and check the output's shape.

    A network that cannot be built or run is a wrong answer with the error's
    message (never an exception in the student's notebook).
    """
    if not attempted(layers):
        return _not_attempted(what)
    import torch

    from .network import Network

    try:
        with torch.no_grad():
            out = Network(layers).eval()(x)
    except Exception as e:  # noqa: BLE001 - any failure of the student's network is feedback, not a crash
        return _wrong(what, f"the network does not run: {type(e).__name__}: {e}", hint)
    got = _shape_of(out)
    if got == tuple(int(d) for d in expected_shape):
        return _right(what, f"the output has shape {got}, as it should.")
    return _wrong(what, f"the output has shape {got}, which is not the shape asked for.", hint)


def analysis(what: str, layers: Any, hint: str = "", **analyze_options: Any) -> Feedback:
    """``dltk.analyzeNetwork(layers, **analyze_options)`` must find no errors (``task=``, ``Y=`` …).

    The message says how many errors analyzeNetwork reports and at which layers,
    not what they say (analyzeNetwork's own messages name the fix): run
    ``dltk.analyzeNetwork`` yourself to read them.
    """
    if not attempted(layers):
        return _not_attempted(what)
    from .network import analyzeNetwork

    try:
        report = analyzeNetwork(layers, **analyze_options)
    except Exception as e:  # noqa: BLE001 - a layer array analyzeNetwork cannot read is feedback, not a crash
        return _wrong(what, f"analyzeNetwork cannot read your layers: {type(e).__name__}: {e}", hint)
    if report.ok:
        return _right(what, "analyzeNetwork finds no errors.")
    where = sorted({name for issue in report.errors for name in issue.layers})
    n = len(report.errors)
    return _wrong(what, f"analyzeNetwork reports {n} error{'s' if n > 1 else ''} (at {', '.join(where)}).", hint)


def claim(what: str, condition: Any, detail: str = "") -> Feedback:
    """Guard a yes/no statement the lesson makes (``claim("equal to F.conv2d", torch.allclose(a, b))``).

    Shows "✅ what: yes" when ``condition`` is true; raises ``AssertionError``
    (naming the claim and ``detail``) when it is false, in every mode — the
    lesson's text would be wrong. Not an exercise check: not in :func:`results`.
    """
    if bool(condition):
        return Feedback(True, f"{what}: yes.", CORRECT, what)
    raise AssertionError(f"{what}: not true, although this lesson says so. {detail}".strip())
