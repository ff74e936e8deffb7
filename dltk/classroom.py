"""The course outside this repository: copy the lessons, release one as an nbgrader assignment, link it.

* :func:`copy_lessons` — ``dltk lessons DIR`` (or ``python -m dltk lessons DIR``) copies the
  course out of the installed package, for a student without ``make``;
  then ``jupyter lab DIR`` opens it.
* :func:`to_nbgrader` / :func:`release_assignment` — ``dltk assignment LESSON COURSE_DIR``
  turns a lesson into an nbgrader *source* notebook, using nbgrader's own cell metadata and
  solution markers: each ``exercise`` cell becomes an nbgrader solution cell whose
  ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region holds the lesson's solution (nbgrader
  removes it from the student version), each ``check`` cell a locked, autograded test cell
  worth one point (the same ``dltk.check`` call, in strict mode, so a wrong or missing answer
  raises and scores 0), and the folded ``solution`` cells are left out. nbgrader itself
  generates, collects and grades (``nbgrader generate_assignment``, ``nbgrader autograde``).
* :func:`nbgitpuller_link` — ``dltk link HUB_URL`` prints the link that puts (and later updates)
  the course in each student's JupyterHub home.

The lesson cell tags (``exercise``, ``check``, ``solution``, ``predict``) are described in
CONTRIBUTING.md.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

__all__ = ["lessons_source", "copy_lessons", "to_nbgrader", "release_assignment", "nbgitpuller_link"]

_SOLUTION_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def lessons_source() -> Path:
    """Where the course lies: the installed package's data, or the repository next to the package."""
    candidates = [
        Path(sys.prefix) / "share" / "dltk" / "lessons",  # pip install (data files of the wheel)
        Path(__file__).resolve().parents[1] / "lessons",  # a checkout (editable install)
    ]
    for c in candidates:
        if any(c.glob("[0-9][0-9]*_*.ipynb")):
            return c
    raise FileNotFoundError(
        "dltk: the lessons are not installed with this copy of dltk (looked in "
        + ", ".join(str(c) for c in candidates)
        + "). Install dltk from its repository or wheel, e.g. pip install 'dltk[lessons,data]'."
    )


def copy_lessons(dest: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the lesson notebooks and their index into ``dest``; returns the copied paths.

    A lesson already in ``dest`` is kept (it may hold the student's work) unless ``force``.
    """
    src, out = lessons_source(), Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for f in sorted([*src.glob("[0-9][0-9]*_*.ipynb"), src / "README.md"]):
        if not f.exists():
            continue
        target = out / f.name
        if target.exists() and not force:
            continue
        shutil.copyfile(f, target)
        copied.append(target)
    return copied


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _solution_code(cell: Any) -> str:
    m = _SOLUTION_BLOCK.search(cell.source)
    if not m:
        raise ValueError(f"a 'solution' cell has no ```python block: {cell.source[:80]!r}")
    return m.group(1).rstrip() + "\n"


def to_nbgrader(nb: Any, *, assignment: str = "lesson", points: int = 1) -> Any:
    """An nbgrader source notebook made from a lesson (a new notebook; ``nb`` is unchanged).

    Raises ``ValueError`` when the lesson has no exercise, or when an exercise lacks its
    ``check`` or ``solution`` cell.
    """
    import copy

    import nbformat

    cells = list(nb.cells)
    out, k, i = [], 0, 0
    while i < len(cells):
        cell = cells[i]
        tags = _tags(cell)
        if "exercise" in tags:
            k += 1
            check = next((c for c in cells[i + 1 :] if "check" in _tags(c)), None)
            sol = next((c for c in cells[i + 1 :] if "solution" in _tags(c)), None)
            if check is None or sol is None:
                raise ValueError(f"{assignment}: exercise {k} has no 'check' or 'solution' cell after it")
            ex = nbformat.v4.new_code_cell("### BEGIN SOLUTION\n" + _solution_code(sol) + "### END SOLUTION")
            ex.metadata = {
                "tags": ["exercise"],
                "nbgrader": {
                    "grade": False,
                    "solution": True,
                    "locked": False,
                    "task": False,
                    "grade_id": f"{assignment}-exercise-{k}",
                    "schema_version": 3,
                },
            }
            body = "\n".join("    " + line if line.strip() else line for line in check.source.splitlines())
            test = nbformat.v4.new_code_cell("with dltk.check.strict():  # graded: a wrong answer raises\n" + body)
            test.metadata = {
                "tags": ["check"],
                "nbgrader": {
                    "grade": True,
                    "solution": False,
                    "locked": True,
                    "task": False,
                    "points": points,
                    "grade_id": f"{assignment}-check-{k}",
                    "schema_version": 3,
                },
            }
            out += [ex, test]
            i = cells.index(check) + 1
            continue
        if "solution" in tags:  # nbgrader removes the solution from the student version
            i += 1
            continue
        c = copy.deepcopy(cell)
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
        out.append(c)
        i += 1
    if k == 0:
        raise ValueError(f"{assignment}: the lesson has no cell tagged 'exercise'")
    new = nbformat.v4.new_notebook(metadata=copy.deepcopy(nb.metadata))
    new.cells = out
    return new


def release_assignment(lesson: str | Path, course_dir: str | Path, name: str | None = None) -> Path:
    """Write the nbgrader source version of ``lesson`` to ``COURSE_DIR/source/NAME/``.

    ``lesson`` is a path or a lesson number/prefix (``"02"``). Then, in ``course_dir``:
    ``nbgrader generate_assignment NAME`` and, after collecting, ``nbgrader autograde NAME``.
    """
    import nbformat

    path = Path(lesson)
    if not path.exists():
        matches = sorted(lessons_source().glob(f"{lesson}*.ipynb"))
        if len(matches) != 1:
            raise FileNotFoundError(f"dltk: no single lesson matches {lesson!r} ({[m.name for m in matches]})")
        path = matches[0]
    name = name or f"lesson{path.name.split('_', 1)[0]}"
    nb = nbformat.read(path, as_version=4)
    target = Path(course_dir) / "source" / name / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(to_nbgrader(nb, assignment=name), target)
    return target


def nbgitpuller_link(
    hub_url: str,
    repo: str = "https://github.com/OWNER/dltk",
    branch: str = "main",
    open_path: str = "lessons/README.md",
) -> str:
    """The nbgitpuller link that clones (later: updates) the course into each student's home and opens it."""
    target = "dltk"
    query = urlencode(
        {"repo": repo, "branch": branch, "targetpath": target, "urlpath": f"lab/tree/{target}/{open_path}"}
    )
    return f"{hub_url.rstrip('/')}/hub/user-redirect/git-pull?{query}"
