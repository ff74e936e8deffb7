"""Execute a lesson notebook in a fresh kernel (used by the tests and the lesson report).

A lesson's exercises are found by cell tags (CONTRIBUTING.md, "Lesson cells"):
``exercise`` (the student's cell, a placeholder ``answer = ...``), ``check``
(the next code cell, ``dltk.check`` calls), ``solution`` (a markdown cell whose
first ```` ```python ```` block replaces the exercise cell's source) and
``predict``. Realistic wrong answers live in the exercise cell's metadata::

    "metadata": {"tags": ["exercise"], "dltk": {"wrong": ["answer = (12, 32, 50)", ...]}}

:func:`run_lesson` with ``mode="course"`` runs one kernel through three passes:

1. **student** — the lesson as a student gets it (every exercise untouched);
2. **solutions** — every cell again, each exercise replaced by its solution,
   in strict mode (``dltk.check.strict()``: a wrong or unattempted answer
   raises). This is also the "Run All twice" check: widgets and figures must
   survive a second run in the same kernel;
3. **wrong answers** — for each exercise and each recorded wrong answer: the
   wrong source, then the exercise's check cell (strict mode off).

Marker cells around every check cell record which ``dltk.check`` results it
produced, and a last probe cell prints them as JSON (``DLTK_RESULTS``) with
the value each solution assigned (so the tests can make sure no message gives
the right answer away), the kernel's peak memory and any error a widget
callback swallowed.
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parents[1] / "lessons"


SETUP = "_dltk_marks = []  # test harness: which check results each check cell produced\n_dltk_values = {}"

MARK = "_dltk_marks.append(({pass_!r}, {k}, {edge!r}, len(__import__('dltk.check').check.results())))"

# After a solution cell ran: the plain values it assigned (the answer a message must not reveal).
VALUES = """
def _dltk_plain(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float, str)):
        return repr(v)
    plain = (int, float, str)
    if isinstance(v, (tuple, list)) and v and all(isinstance(e, plain) and not isinstance(e, bool) for e in v):
        return repr(v)
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return repr(v.item())
    return None
_dltk_values[{k}] = [r for r in (_dltk_plain(globals().get(n)) for n in {names!r}) if r is not None]
"""

# Appended after the lesson: every check result, widget callbacks' errors, peak memory.
PROBE = """
import json as _json, resource as _r, sys as _s
import dltk.check as _chk
_errs = []
if "dltk.widgets" in _s.modules:
    _errs = list(getattr(_s.modules["dltk.widgets"], "callback_errors", lambda: [])())
_res = [{"status": f.status, "message": f.message, "hint": getattr(f, "hint", ""), "what": f.what}
        for f in _chk.results()]
print("DLTK_RESULTS " + _json.dumps({"results": _res, "marks": _dltk_marks, "values": _dltk_values}))
print(f"DLTK_PEAK_RSS_MB {_r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1024}")
assert not _errs, f"widget callbacks raised: {_errs}"
"""


@dataclass
class Exercise:
    """One exercise of a lesson: cell indices, the solution's source and the recorded wrong answers."""

    index: int  # exercise cell
    check: int | None  # the check cell (the next code cell, tagged ``check``)
    solution: int | None  # the solution markdown cell
    solution_source: str | None
    wrong: list[str]


@dataclass
class CheckResult:
    status: str
    message: str
    hint: str
    what: str


@dataclass
class LessonRun:
    path: Path
    seconds: float
    peak_mb: float
    notebook: nbformat.NotebookNode
    exercises: list[Exercise] = field(default_factory=list)
    #: ``{pass: {exercise k: [CheckResult]}}`` (k = -1: every result of the pass); the wrong
    #: answers under ``"wrong"``, keyed ``(exercise k, wrong answer j)``
    checks: dict = field(default_factory=dict)
    #: every ``dltk.check`` result, in order
    results: list[CheckResult] = field(default_factory=list)
    #: ``{exercise k: [repr of each plain value the solution assigned]}``
    values: dict = field(default_factory=dict)


def lesson_paths() -> list[Path]:
    """Every lesson notebook, in course order (``04_`` before ``04b_``)."""
    return sorted(LESSONS.glob("[0-9][0-9]*_*.ipynb"))


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def solution_code(markdown: str) -> str | None:
    """The first ```` ```python ```` block of a solution cell, or None."""
    m = re.search(r"```python[ \t]*\n(.*?)```", markdown, re.S)
    return m.group(1).rstrip() + "\n" if m else None


def find_exercises(nb) -> list[Exercise]:
    """The exercises of a notebook, each with its check and solution cells (None where missing)."""
    cells = nb.cells
    out = []
    for i, c in enumerate(cells):
        if c.cell_type != "code" or "exercise" not in tags(c):
            continue
        check = next((j for j in range(i + 1, len(cells)) if cells[j].cell_type == "code"), None)
        if check is not None and "check" not in tags(cells[check]):
            check = None
        nxt = next((j for j in range(i + 1, len(cells)) if "exercise" in tags(cells[j])), len(cells))
        sol = next((j for j in range(i + 1, nxt) if "solution" in tags(cells[j])), None)
        wrong = list(c.get("metadata", {}).get("dltk", {}).get("wrong", []))
        out.append(Exercise(i, check, sol, solution_code(cells[sol].source) if sol is not None else None, wrong))
    return out


def assigned_names(source: str) -> list[str]:
    """Names a cell assigns at top level (``answer = ...``, ``a, b = ...``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        targets += [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name) and n.id not in names:
                    names.append(n.id)
    return names


def _code(src: str, hidden: bool = True) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(src)
    if hidden:
        cell.metadata["dltk_harness"] = True
    return cell


def _pass(cells, exercises: list[Exercise], name: str, solutions: bool) -> list:
    by_index = {e.index: (k, e) for k, e in enumerate(exercises)}
    by_check = {e.check: k for k, e in enumerate(exercises) if e.check is not None}
    out = [_code(MARK.format(pass_=name, k=-1, edge="start"))]  # k = -1: the whole pass
    for i, c in enumerate(cells):
        if c.cell_type != "code":
            out.append(c)
            continue
        if i in by_check:
            out.append(_code(MARK.format(pass_=name, k=by_check[i], edge="start")))
        if solutions and i in by_index and by_index[i][1].solution_source is not None:
            k, e = by_index[i]
            out.append(_code(e.solution_source, hidden=False))
            out.append(_code(VALUES.format(k=k, names=assigned_names(e.solution_source))))
        else:
            out.append(_code(c.source, hidden=False))
        if i in by_check:
            out.append(_code(MARK.format(pass_=name, k=by_check[i], edge="end")))
    return out + [_code(MARK.format(pass_=name, k=-1, edge="end"))]


def _wrong_pass(cells, exercises: list[Exercise]) -> list:
    out = [_code("import dltk.check as _c\n_c.strict(False)")]
    for k, e in enumerate(exercises):
        if e.check is None:
            continue
        for j, src in enumerate(e.wrong):
            tag = f"wrong {k} {j}"
            out.append(_code(MARK.format(pass_=tag, k=k, edge="start")))
            out.append(_code(src, hidden=False))
            out.append(_code(cells[e.check].source, hidden=False))
            out.append(_code(MARK.format(pass_=tag, k=k, edge="end")))
    return out


def run_lesson(path: Path, fast: bool = True, mode: str = "course", timeout: int = 600) -> LessonRun:
    """Run ``path`` top to bottom in a fresh kernel.

    ``mode``: ``"student"`` (the lesson as shipped, once), ``"solutions"``
    (solutions substituted, strict mode) or ``"course"`` (student pass, then
    the solutions pass and the wrong answers, in the same kernel).
    """
    nb = nbformat.read(path, as_version=4)
    cells = list(nb.cells)
    exercises = find_exercises(nb)
    new = [_code(SETUP)]
    if mode in ("student", "course"):
        new += _pass(cells, exercises, "student", solutions=False)
    if mode in ("solutions", "course"):
        new += [_code("import dltk.check as _c\n_c.strict(True)")]
        new += _pass(cells, exercises, "solutions", solutions=True)
        new += _wrong_pass(cells, exercises)
    nb.cells = new + [_code(PROBE)]
    env_before = {k: os.environ.get(k) for k in ("DLTK_FAST", "DLTK_CHECK_STRICT")}
    os.environ["DLTK_FAST"] = "1" if fast else "0"
    os.environ.pop("DLTK_CHECK_STRICT", None)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(LESSONS)}}
        )
        t0 = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - t0
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    peak, data = 0.0, {"results": [], "marks": [], "values": {}}
    text = "".join(out.get("text", "") for out in nb.cells[-1].get("outputs", []))
    for line in text.splitlines():
        if line.startswith("DLTK_PEAK_RSS_MB "):
            peak = float(line.split()[1])
        if line.startswith("DLTK_RESULTS "):
            data = json.loads(line[len("DLTK_RESULTS ") :])
    results = [CheckResult(**r) for r in data["results"]]
    checks: dict = {}
    starts: dict = {}
    for pass_, k, edge, n in data["marks"]:
        if edge == "start":
            starts[(pass_, k)] = n
            continue
        got = results[starts.pop((pass_, k)) : n]
        if pass_.startswith("wrong "):
            _, kk, j = pass_.split()
            checks.setdefault("wrong", {})[(int(kk), int(j))] = got
        else:
            checks.setdefault(pass_, {}).setdefault(k, []).extend(got)
    values = {int(k): v for k, v in data["values"].items()}
    return LessonRun(path, seconds, peak, nb, exercises, checks, results, values)
