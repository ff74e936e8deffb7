"""Every lesson runs top to bottom in fast mode, twice, in a fresh kernel.

A cell error, an exercise/accuracy claim that fails (``dltk.check.accuracy``
raises) or an error swallowed by a widget callback fails the test. Run times
and memory are reported by ``make lesson-report`` (benchmarks), not asserted here.
"""

from __future__ import annotations

import json

import pytest

from .lesson_runner import LESSONS, lesson_paths, run_lesson

pytestmark = pytest.mark.notebooks

ERROR_MARKERS = ("Error displaying widget", "Traceback (most recent call last)")


@pytest.mark.parametrize("path", lesson_paths(), ids=lambda p: p.stem)
def test_lesson_runs_twice_in_fast_mode(path):
    run = run_lesson(path, fast=True, rerun=True)
    for cell in run.notebook.cells:
        for out in cell.get("outputs", []):
            text = json.dumps(out)
            for marker in ERROR_MARKERS:
                assert marker not in text, f"{path.name}: output contains {marker!r}: {text[:500]}"


def test_there_are_lessons_and_an_index():
    paths = lesson_paths()
    assert len(paths) >= 13, [p.name for p in paths]
    index = (LESSONS / "README.md").read_text()
    for p in paths:
        assert p.name in index, f"lessons/README.md does not list {p.name}"


def test_lessons_are_committed_without_outputs():
    dirty = []
    for p in LESSONS.glob("**/*.ipynb"):
        nb = json.loads(p.read_text())
        for c in nb["cells"]:
            if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None):
                dirty.append(p.name)
                break
    assert not dirty, f"strip outputs before committing (make strip): {dirty}"
