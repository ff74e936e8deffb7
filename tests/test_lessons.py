"""Every lesson runs in a fresh kernel in fast mode: as a student gets it, with the solutions, and
every exercise's check rejects its recorded wrong answers.

One kernel per lesson (:func:`tests.lesson_runner.run_lesson`, ``mode="course"``):

1. the lesson as shipped — no error, every exercise check says "not attempted yet",
   no check says wrong, every prediction cell's result is revealed;
2. all cells again with each exercise replaced by its folded solution, in strict mode
   (a wrong or unattempted answer raises) — every check passes; this second run in the
   same kernel also catches widgets and figures that break when a lesson is re-run;
3. each recorded wrong answer (``metadata.dltk.wrong`` of the exercise cell), followed by
   the exercise's check cell — the check must say wrong (❌), give a hint, and its message
   must not contain the right answer.

"The right answer", for the last rule: the ``repr`` of every plain value (number, text, or a
tuple/list of them) the solution assigns, matched as a whole token — for text without case.

A cell error, a lesson claim that fails (``dltk.check.accuracy`` raises) or an error
swallowed by a widget callback fails the test. Run times and memory are reported by
``python -m benchmarks.lesson_report``, not asserted here.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from .lesson_runner import LESSONS, lesson_paths, run_lesson, tags

pytestmark = pytest.mark.notebooks

ERROR_MARKERS = ("Error displaying widget", "Traceback (most recent call last)")


def reveals_answer(message: str, values: list[str]) -> str | None:
    """The first of ``values`` (reprs of the right answer) that ``message`` contains as a whole token."""
    for r in values:
        text = r[1:-1] if len(r) >= 2 and r[0] == r[-1] and r[0] in "'\"" else r
        if not text.strip():
            continue
        if re.search(rf"(?<![\w.]){re.escape(text)}(?!\w|\.\d)", message, re.I if text != r else 0):
            return r
    return None


def test_reveals_answer_rule():
    assert reveals_answer("got 18, which is not right.", ["8"]) is None
    assert reveals_answer("got 18; the answer is 8.", ["8"]) == "8"
    assert reveals_answer("pad on the LEFT", ["'left'"]) == "'left'"
    assert reveals_answer("left-over", ["'left'"]) == "'left'"  # '-' is a token boundary: counts
    assert reveals_answer("leftover", ["'left'"]) is None
    assert reveals_answer("shape (32, 50, 12) is right", ["(32, 50, 12)"]) == "(32, 50, 12)"
    assert reveals_answer("1.25 is close", ["1.5"]) is None


def course_problems(run) -> list[str]:
    """What is wrong with a lesson run in ``mode="course"`` (empty when it teaches by asking as it should)."""
    path = run.path
    student, solutions = run.checks["student"], run.checks["solutions"]
    problems = [f"as shipped, a check says wrong: {r.message}" for r in student[-1] if r.status == "wrong"]
    n_predict = sum("predict" in tags(c) for c in nbformat.read(path, as_version=4).cells)
    revealed = sum(r.status == "revealed" for r in student[-1])
    if revealed < n_predict:
        problems.append(f"{n_predict} prediction cells but {revealed} results revealed")
    for k, ex in enumerate(run.exercises):
        name = f"exercise {k + 1} (cell {ex.index})"
        if ex.check is None:
            continue  # test_course reports the missing check cell
        got = student.get(k, [])
        if not got or any(r.status != "not attempted" for r in got):
            problems.append(f"{name}, as shipped: {[(r.status, r.message) for r in got] or 'no check ran'}")
        got = solutions.get(k, [])
        if ex.solution_source is not None and (not got or any(r.status != "correct" for r in got)):
            problems.append(f"{name}, with its solution: {[(r.status, r.message) for r in got] or 'no check ran'}")
        for j, src in enumerate(ex.wrong):
            got = run.checks.get("wrong", {}).get((k, j), [])
            wrong = [r for r in got if r.status == "wrong"]
            if not wrong:
                problems.append(f"{name}, wrong answer {src!r} passes: {[(r.status, r.message) for r in got]}")
            for r in wrong:
                if not r.hint.strip():
                    problems.append(f"{name}, wrong answer {src!r}: no hint in {r.message!r}")
                shown = reveals_answer(r.message, run.values.get(k, []))
                if shown:
                    problems.append(f"{name}, wrong answer {src!r}: the message gives {shown} away: {r.message!r}")
    return problems


@pytest.mark.parametrize("path", lesson_paths(), ids=lambda p: p.stem)
def test_lesson_as_student_with_solutions_and_wrong_answers(path):
    run = run_lesson(path, fast=True, mode="course")
    for cell in run.notebook.cells:
        for out in cell.get("outputs", []):
            text = json.dumps(out)
            for marker in ERROR_MARKERS:
                assert marker not in text, f"{path.name}: output contains {marker!r}: {text[:500]}"

    problems = course_problems(run)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


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


def test_the_course_checks_can_fail(tmp_path):
    """A tiny lesson with every fault the course test looks for: each one is reported."""
    import nbformat as nbf

    def code(src, tags=(), wrong=()):
        c = nbf.v4.new_code_cell(src)
        c.metadata["tags"] = list(tags)
        if wrong:
            c.metadata["dltk"] = {"wrong": list(wrong)}
        return c

    def solution(src):
        c = nbf.v4.new_markdown_cell(f"<details><summary>Solution</summary>\n\n```python\n{src}\n```\n</details>")
        c.metadata["tags"] = ["solution"]
        return c

    cells = [
        code("import dltk"),
        code("answer = 4", ["exercise"], ["answer = 5"]),  # ships filled in: its check is not "not attempted"
        code('dltk.check.equal("a", answer, 4, hint="think")', ["check"]),
        solution("answer = 4"),
        code("answer = ...", ["exercise"], ["answer = 8"]),  # the check accepts this wrong answer
        code('dltk.check.true("b", answer if answer is ... else answer > 5, hint="more")', ["check"]),
        solution("answer = 7"),
        code("answer = ...", ["exercise"], ["answer = 2"]),  # a hint that gives the answer away
        code('dltk.check.equal("c", answer, 3, hint="it is 3")', ["check"]),
        solution("answer = 3"),
        code("answer = ...", ["exercise"], ["answer = 1"]),  # a wrong answer without a hint
        code('dltk.check.equal("d", answer, 6)', ["check"]),
        solution("answer = 6"),
        code("prediction = ...", ["predict"]),  # never revealed
    ]
    path = tmp_path / "99_faults.ipynb"
    nbf.write(nbf.v4.new_notebook(cells=cells), path)
    found = "\n".join(course_problems(run_lesson(path, fast=True, mode="course")))
    assert "exercise 1 (cell 1), as shipped" in found
    assert "exercise 2 (cell 4), wrong answer 'answer = 8' passes" in found
    assert "exercise 3 (cell 7), wrong answer 'answer = 2': the message gives 3 away" in found
    assert "exercise 4 (cell 10), wrong answer 'answer = 1': no hint" in found
    assert "1 prediction cells but 0 results revealed" in found
