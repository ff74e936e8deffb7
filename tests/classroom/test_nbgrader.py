"""A lesson released and autograded by nbgrader itself: one correct and one incorrect submission.

dltk only writes the nbgrader *source* notebook (dltk.classroom.to_nbgrader); nbgrader generates
the student version (solutions removed), and autogrades the two submissions in fresh kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dltk.classroom import release_assignment, to_nbgrader

ROOT = Path(__file__).resolve().parents[2]
LESSON = Path(os.environ.get("DLTK_GRADED_LESSON", "")) if os.environ.get("DLTK_GRADED_LESSON") else None

pytestmark = [pytest.mark.classroom, pytest.mark.timeout(1500)]


def _lesson() -> Path:
    return LESSON or next((ROOT / "lessons").glob("02_*.ipynb"))


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    # nbgrader calls the `alembic` command of its own environment
    env.update(
        DLTK_FAST="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1", PATH=f"{Path(sys.executable).parent}:{env['PATH']}"
    )
    res = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=1200
    )
    assert res.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def _graded_ids(nb) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def test_source_notebook_uses_nbgraders_metadata_and_markers():
    nb = nbformat.read(_lesson(), as_version=4)
    src = to_nbgrader(nb, assignment="lesson02")
    exercises = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
    sol = [c for c in src.cells if c.metadata.get("nbgrader", {}).get("solution")]
    tests = [c for c in src.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(sol) == len(tests) == len(exercises) >= 1
    for c in sol:
        assert c.source.startswith("### BEGIN SOLUTION\n") and c.source.rstrip().endswith("### END SOLUTION")
    for c in tests:
        assert c.metadata["nbgrader"]["locked"] and c.metadata["nbgrader"]["points"] == 1
        assert "dltk.check.strict()" in c.source
    assert not any("solution" in c.metadata.get("tags", []) for c in src.cells), "folded solutions must go"
    assert [c for c in src.cells if "predict" in c.metadata.get("tags", [])], "predictions stay in the assignment"


def test_nbgrader_generates_and_autogrades_a_lesson(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'dltk'\n"
        "c.ExecutePreprocessor.timeout = 600\n"
        "c.Execute.timeout = 600\n"
    )
    source = release_assignment(_lesson(), course, "lesson02")
    _nbgrader(course, "generate_assignment", "lesson02", "--force")
    release = course / "release" / "lesson02" / source.name
    student = nbformat.read(release, as_version=4)
    lesson = nbformat.read(_lesson(), as_version=4)
    src_nb = nbformat.read(source, as_version=4)

    # nbgrader removed every solution from the student version
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in src_nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for c in student.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid in solutions:
            assert "BEGIN SOLUTION" not in c.source and "NotImplementedError" in c.source

    wrong = [c.metadata["dltk"]["wrong"][0] for c in lesson.cells if "exercise" in c.metadata.get("tags", [])]

    def submission(name: str, answers: dict[str, str]) -> None:
        nb = nbformat.read(release, as_version=4)
        for c in nb.cells:
            gid = c.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                c.source = answers[gid]
        out = course / "submitted" / name / "lesson02" / release.name
        out.parent.mkdir(parents=True)
        nbformat.write(nb, out)

    right = {gid: s.replace("### BEGIN SOLUTION\n", "").replace("### END SOLUTION", "") for gid, s in solutions.items()}
    first = sorted(right)[0]
    submission("alice", right)  # every exercise right
    submission("bob", {**right, first: wrong[0]})  # the first exercise wrong
    for s in ("alice", "bob"):
        _nbgrader(course, "db", "student", "add", s)
    _nbgrader(course, "autograde", "lesson02", "--force")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        full = gb.find_submission("lesson02", "alice")
        part = gb.find_submission("lesson02", "bob")
        n = len(_graded_ids(src_nb))
        assert full.max_score == n
        assert full.score == n, f"the correct submission scored {full.score}/{n}"
        assert part.score == n - 1, f"the submission with one wrong answer scored {part.score}/{n}"
