"""Execute a lesson notebook in a fresh kernel (used by the tests and the lesson report)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parents[1] / "lessons"

# Appended after the lesson: widget callbacks must not have swallowed errors,
# and the kernel reports its peak memory.
PROBE = """
import resource as _r, sys as _s
_errs = []
if "dltk.widgets" in _s.modules:
    _errs = list(getattr(_s.modules["dltk.widgets"], "callback_errors", lambda: [])())
print(f"DLTK_PEAK_RSS_MB {_r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1024}")
assert not _errs, f"widget callbacks raised: {_errs}"
"""


@dataclass
class LessonRun:
    path: Path
    seconds: float
    peak_mb: float
    notebook: nbformat.NotebookNode


def lesson_paths() -> list[Path]:
    return sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))


def run_lesson(path: Path, fast: bool = True, rerun: bool = False, timeout: int = 600) -> LessonRun:
    """Run ``path`` top to bottom (twice in the same kernel with ``rerun``)."""
    nb = nbformat.read(path, as_version=4)
    cells = list(nb.cells)
    if rerun:
        nb.cells = cells + [nbformat.v4.new_code_cell(c.source) if c.cell_type == "code" else c for c in cells]
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    env_before = os.environ.get("DLTK_FAST")
    os.environ["DLTK_FAST"] = "1" if fast else "0"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(LESSONS)}}
        )
        t0 = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - t0
    finally:
        if env_before is None:
            os.environ.pop("DLTK_FAST", None)
        else:
            os.environ["DLTK_FAST"] = env_before
    peak = 0.0
    text = "".join(out.get("text", "") for out in nb.cells[-1].get("outputs", []))
    for line in text.splitlines():
        if line.startswith("DLTK_PEAK_RSS_MB "):
            peak = float(line.split()[1])
    return LessonRun(path, seconds, peak, nb)
