"""dltk.check.claim: a lesson's yes/no statement is guarded (raises when false) and is not an exercise result."""

from __future__ import annotations

import pytest

import dltk


def test_claim_passes_quietly_and_stays_out_of_the_results():
    dltk.check.reset_results()
    fb = dltk.check.claim("equal to F.conv2d", True)
    assert fb and "yes" in repr(fb)
    assert dltk.check.results() == []


def test_false_claim_raises_in_every_mode():
    for strict in (False, True):
        with dltk.check.strict(strict), pytest.raises(AssertionError, match="equal to F.conv2d.*lesson says so"):
            dltk.check.claim("equal to F.conv2d", False)
