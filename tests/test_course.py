"""The course as a whole (issue 11), read from the notebooks without running them.

* every lesson teaches by asking: at least one ``exercise`` cell, each with its ``check``
  cell right after it, a folded ``solution`` cell holding a ```` ```python ```` block and at
  least one recorded wrong answer (``metadata.dltk.wrong``); at least one ``predict`` cell
  whose result a later ``dltk.check.prediction`` call reveals; exercises start empty;
* every layer of ``dltk.catalog()`` is used in the code of at least one lesson;
* no lesson carries more than :data:`MAX_PLUMBING` lines of widget plumbing (see
  :func:`plumbing_lines`) — explorers live in ``dltk.widgets``;
* the student time of each lesson is stated once per notebook (``**Time:** ~N min``) and the
  index ``lessons/README.md`` repeats it; the index's total is their sum.
"""

from __future__ import annotations

import re

import nbformat
import pytest

import dltk

from .lesson_runner import LESSONS, find_exercises, lesson_paths, tags

MAX_PLUMBING = 15

#: a line of widget plumbing: building ipywidgets controls or matplotlib figures by hand
PLUMBING = re.compile(
    r"import ipywidgets|from ipywidgets|(?<!dltk\.)\b(?:W|ipywidgets|widgets)\.[A-Z]\w*\("
    r"|\.observe\(|\.on_click\(|\.add_subplot\(|\.subplots\(|\bFigure\(|FigureCanvasAgg\(|\(DltkWidget\)"
    r"|dltk\.widgets\.DltkWidget\)"
)


def _params():
    for p in lesson_paths():
        yield pytest.param(p, id=p.stem)


def _code(nb) -> str:
    """All code a lesson runs, solutions included."""
    parts = [c.source for c in nb.cells if c.cell_type == "code"]
    parts += [e.solution_source for e in find_exercises(nb) if e.solution_source]
    return "\n".join(parts)


def plumbing_lines(nb) -> list[str]:
    """Lines of lesson code cells that construct ipywidgets controls or matplotlib figures."""
    return [
        line.strip()
        for c in nb.cells
        if c.cell_type == "code"
        for line in c.source.splitlines()
        if PLUMBING.search(line) and not line.strip().startswith("#")
    ]


@pytest.mark.parametrize("path", list(_params()))
def test_lesson_teaches_by_asking(path):
    nb = nbformat.read(path, as_version=4)
    exercises = find_exercises(nb)
    assert exercises, f"{path.name}: no cell tagged 'exercise'"
    problems = []
    for k, e in enumerate(exercises, 1):
        src = nb.cells[e.index].source
        if e.check is None:
            problems.append(f"exercise {k}: the next code cell is not tagged 'check'")
        elif "dltk.check." not in nb.cells[e.check].source:
            problems.append(f"exercise {k}: its check cell calls no dltk.check function")
        if e.solution is None or e.solution_source is None:
            problems.append(f"exercise {k}: no 'solution' markdown cell with a ```python block")
        elif "<details>" not in nb.cells[e.solution].source:
            problems.append(f"exercise {k}: the solution is not folded (<details>)")
        if not e.wrong:
            problems.append(f"exercise {k}: no recorded wrong answer (metadata.dltk.wrong)")
        if "..." not in src and "None" not in src:
            problems.append(f"exercise {k}: does not start empty (a placeholder `...`): {src[:80]!r}")
    predicts = [i for i, c in enumerate(nb.cells) if "predict" in tags(c)]
    if not predicts:
        problems.append("no cell tagged 'predict'")
    for i in predicts:
        if "prediction = ..." not in nb.cells[i].source:
            problems.append(f"predict cell {i}: does not start as `prediction = ...`")
        if not any("dltk.check.prediction(" in c.source for c in nb.cells[i + 1 :] if c.cell_type == "code"):
            problems.append(f"predict cell {i}: no later dltk.check.prediction call reveals the result")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_every_catalog_layer_is_used_in_a_lesson():
    code = "\n".join(_code(nbformat.read(p, as_version=4)) for p in lesson_paths())
    missing = []
    for entry in dltk.catalog():
        if entry.dltk_class is None:
            continue
        names = [entry.matlab_name, entry.dltk_class.__name__]
        if not any(re.search(rf"\b{re.escape(n)}\b", code) for n in names):
            missing.append(entry.matlab_name)
    assert not missing, f"catalog layers no lesson uses: {sorted(missing)}"


def test_plumbing_rule_counts_what_it_should():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import ipywidgets as W\ns = W.IntSlider(3)\ns.observe(f, names='value')\n"
                "fig = Figure(figsize=(4, 3))\nax = fig.add_subplot(1, 1, 1)\nax.plot(x)\n"
                "w = dltk.widgets.NetworkExplorer(net, X)\n# W.Button( in a comment"
            )
        ]
    )
    assert len(plumbing_lines(nb)) == 5


@pytest.mark.parametrize("path", list(_params()))
def test_lesson_has_little_widget_plumbing(path):
    lines = plumbing_lines(nbformat.read(path, as_version=4))
    assert len(lines) <= MAX_PLUMBING, (
        f"{path.name}: {len(lines)} lines of widget plumbing (at most {MAX_PLUMBING}); "
        "move the explorer into dltk.widgets:\n" + "\n".join(lines)
    )


TIME = re.compile(r"\*\*Time:\*\*\s*~\s*(\d+)\s*min")


def _index_times() -> dict[str, int]:
    rows = {}
    for line in (LESSONS / "README.md").read_text().splitlines():
        m = re.match(r"\|\s*[\w.]+\s*\|\s*\[`([^`]+\.ipynb)`\]", line)
        if m:
            t = re.search(r"\|\s*~\s*(\d+)\s*min\s*\|", line)
            rows[m.group(1)] = int(t.group(1)) if t else None
    return rows


@pytest.mark.parametrize("path", list(_params()))
def test_time_estimate_agrees_with_the_index(path):
    nb = nbformat.read(path, as_version=4)
    stated = [int(m) for c in nb.cells if c.cell_type == "markdown" for m in TIME.findall(c.source)]
    assert len(stated) == 1, f"{path.name}: states its time {len(stated)} times (once: '**Time:** ~N min')"
    index = _index_times()
    assert index.get(path.name) == stated[0], (
        f"{path.name} says ~{stated[0]} min, lessons/README.md says {index.get(path.name)}"
    )


def test_index_total_is_the_sum_of_the_lessons():
    times = _index_times()
    assert {p.name for p in lesson_paths()} <= set(times), "lessons/README.md does not list every lesson"
    m = re.search(r"total student time[^~]*~\s*([\d.]+)\s*h", (LESSONS / "README.md").read_text(), re.I)
    assert m, "lessons/README.md states no total student time ('total student time … ~N h')"
    total_h = sum(times.values()) / 60
    assert abs(float(m.group(1)) - total_h) <= 0.25, f"README says ~{m.group(1)} h, the lessons sum to {total_h:.2f} h"
