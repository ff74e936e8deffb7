"""dltk.check: every check passes a right answer, fails a wrong one with its hint, says "not attempted"
for an untouched exercise (without raising), never shows the expected value; strict mode; results log."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltk
from dltk import check

HINT = "think about the gates"
SECRET = 90_400  # an expected value no wrong-answer message may show


@pytest.fixture(autouse=True)
def _lenient():
    """Each test starts in lenient mode with an empty results log (DLTK_CHECK_STRICT may be set outside)."""
    check.reset_results()
    with check.strict(False):
        yield
    check.reset_results()


def _wrong(fb, *secrets):
    assert not fb and fb.ok is False and fb.status == "wrong" and fb.attempted
    assert HINT in fb.message and str(fb).startswith("❌")
    for s in secrets:
        assert str(s) not in fb.message, (s, fb.message)
        assert str(s) not in fb._repr_html_()
    return fb


def _right(fb):
    assert fb and fb.ok is True and fb.status == "correct" and str(fb).startswith("✅")
    return fb


# (function, right answer, wrong answer, expected, extra kwargs); the expected values are chosen so that
# none of them appears inside the wrong answer's repr
LAYERS = [dltk.sequenceInputLayer(3), dltk.lstmLayer(4), dltk.fullyConnectedLayer(2)]
CASES = {
    "equal": (check.equal, 90_400, 90_401, SECRET, {}),
    "equal_text": (check.equal, " LSTM ", "gru", "lstm", {}),
    "equal_list": (check.equal, (1, 2, 3), [1, 2, 4], [1, 2, 3], {}),
    "equal_array": (check.equal, torch.tensor([5, 6]), np.array([5, 7]), np.array([5, 6]), {}),
    "close": (check.close, 0.123456, 0.2, 0.1234567, {"tol": 1e-4}),
    "close_array": (check.close, torch.tensor([0.25, 0.5]), [0.25, 0.75], np.array([0.25, 0.5]), {}),
    "shape": (check.shape, torch.zeros(7, 9, 31), (7, 31, 9), (7, 9, 31), {}),
    "shape_tuple": (check.shape, (7, 9, 31), (7, 9), (7, 9, 31), {}),
    "layer_types": (
        check.layer_types,
        LAYERS,
        [LAYERS[0], dltk.gruLayer(4), LAYERS[2]],
        ["sequenceInputLayer", "lstmLayer", "fullyConnectedLayer"],
        {},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_right_wrong_and_not_attempted(case):
    fn, right, wrong, expected, kw = CASES[case]
    _right(fn("q", right, expected, hint=HINT, **kw))
    fb = fn("q", wrong, expected, hint=HINT, **kw)
    secrets = [expected] if not isinstance(expected, (list, tuple, np.ndarray)) else []
    if case == "layer_types":
        secrets = ["lstmLayer"]  # the layer that belongs at the wrong position
    if case == "shape":
        secrets = ["(7, 9, 31)"]
    if case == "close":
        secrets = ["0.1234567", "0.1235"]
    _wrong(fb, *secrets)
    for placeholder in (..., None):
        na = fn("q", placeholder, expected, hint=HINT, **kw)
        assert not na and na.status == "not attempted" and not na.attempted
        assert "not attempted" in na.message and str(expected) not in na.message and HINT not in na.message
    assert [f.status for f in check.results()] == ["correct", "wrong", "not attempted", "not attempted"]
    assert all(f.what == "q" for f in check.results())


def test_true():
    _right(check.true("gates in (0, 1)", torch.rand(3).lt(1).all(), hint=HINT))
    _wrong(check.true("gates in (0, 1)", False, hint=HINT))
    _wrong(check.true("gates in (0, 1)", 0, hint=HINT))
    _wrong(check.true("gates in (0, 1)", torch.tensor(False), hint=HINT))
    # several truth values: a wrong answer that says how to fix it, never numpy's ambiguity error
    fb = _wrong(check.true("gates in (0, 1)", np.array([True, False]), hint=HINT))
    assert ".all()" in fb.message
    _wrong(check.true("gates in (0, 1)", torch.tensor([True, True]), hint=HINT))
    for placeholder in (..., None):
        assert check.true("gates in (0, 1)", placeholder, hint=HINT).status == "not attempted"


@pytest.mark.parametrize(
    "call",
    [
        lambda: check.equal("q", 3, 4),
        lambda: check.equal("q", "abc", 3),
        lambda: check.close("q", "abc", 0.5),
        lambda: check.close("q", [1.0, float("nan")], [1.0, 2.0]),
        lambda: check.close("q", [1.0], [1.0, 2.0]),
        lambda: check.shape("q", 5, (2, 3)),
        lambda: check.shape("q", torch.zeros(2), (2, 3)),
        lambda: check.layer_types("q", "lstmLayer", ["lstmLayer"]),
        lambda: check.layer_types("q", LAYERS[:2], [type(la).matlab_name for la in LAYERS]),
        lambda: check.layer_types("q", LAYERS, [type(la).matlab_name for la in LAYERS[:2]]),
        lambda: check.true("q", np.zeros(3)),
    ],
)
def test_wrong_answers_of_any_type_are_wrong_not_errors(call):
    fb = call()
    assert fb.status == "wrong" and not fb


def test_close_messages_never_show_the_expected_value():
    fb = check.close("loss after one step", 0.6931, 0.5004217, tol=1e-3, hint=HINT)
    _wrong(fb, "0.5004217", "0.5004", "0.50042")


def test_strict_mode_raises_on_wrong_and_unattempted_and_restores():
    with check.strict():
        assert check.equal("q", 1, 1)
        with pytest.raises(AssertionError, match=HINT) as err:
            check.equal("q", 2, SECRET, hint=HINT)
        assert str(SECRET) not in str(err.value)
        with pytest.raises(AssertionError, match="not attempted"):
            check.true("q", ...)
        with pytest.raises(AssertionError):
            check.true("q", False)
        with pytest.raises(AssertionError):
            check.close("q", 1.0, 2.0)
        with pytest.raises(AssertionError):
            check.shape("q", (1,), (2,))
        with pytest.raises(AssertionError):
            check.layer_types("q", [], ["lstmLayer"])
        # a prediction reveals, it never fails, even in strict mode
        assert check.prediction("q", 1, 2).status == "revealed"
    assert not check.true("q", False)  # back to lenient: no raise
    check.strict()  # the plain call form switches it on until switched off
    try:
        with pytest.raises(AssertionError):
            check.true("q", False)
    finally:
        check.strict(False)
    assert [f.status for f in check.results()].count("wrong") == 7


def test_prediction_reveals_and_never_raises():
    fb = check.prediction("final loss", 0.3, 0.31234, tol=0.05)
    assert fb and fb.status == "revealed" and "0.3123" in fb.message and "your prediction was right" in fb.message
    fb = check.prediction("final loss", 0.9, 0.31234, tol=0.05)
    assert not fb and "0.3123" in fb.message and "not what you predicted" in fb.message
    assert check.prediction("which gate", "Forget ", "forget")
    assert not check.prediction("which gate", "input", "forget")
    fb = check.prediction("which gate", ..., "forget")
    assert not fb and "'forget'" in fb.message and fb.what == "which gate"
    for odd in (np.array([1, 2]), [1, 2], "abc", object()):
        check.prediction("odd", odd, np.array([1, 2]))
        check.prediction("odd", odd, 0.5, tol=0.1)
    assert check.prediction("array", np.array([1, 2]), np.array([1, 2]))
    assert all(f.status == "revealed" for f in check.results())


def test_accuracy_guards_the_lesson_claim(monkeypatch):
    assert check.accuracy("test accuracy", 0.95, 0.9)
    with pytest.raises(AssertionError, match="below the 0.9"):
        check.accuracy("test accuracy", 0.85, 0.9)
    monkeypatch.setattr(dltk.config, "fast", True)
    assert check.accuracy("test accuracy", 0.85, 0.9, fast_claimed=0.8)
    with pytest.raises(AssertionError, match="below the 0.8"):
        check.accuracy("test accuracy", 0.75, 0.9, fast_claimed=0.8)
    monkeypatch.setattr(dltk.config, "fast", False)
    with pytest.raises(AssertionError, match="below the 0.9"):
        check.accuracy("test accuracy", 0.85, 0.9, fast_claimed=0.8)


def test_results_log_and_html():
    check.equal("a", 1, 1)
    check.true("b", ...)
    check.close("c", 1.0, 2.0)
    log = check.results()
    assert [(f.what, f.status) for f in log] == [("a", "correct"), ("b", "not attempted"), ("c", "wrong")]
    log.clear()  # a copy: the log itself is untouched
    assert len(check.results()) == 3
    assert "#cf222e" in check.results()[2]._repr_html_()
    check.reset_results()
    assert check.results() == []
    assert check.attempted(0) and check.attempted(False) and not check.attempted(...) and not check.attempted(None)
