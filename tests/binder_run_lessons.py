"""Run lessons in the Python that runs this script (the Binder venv), each in a fresh kernel.

    python tests/binder_run_lessons.py OUT.json LESSON.ipynb [...]

Writes, per lesson: seconds, the kernel's peak RSS (MB) and the first error (or null).
Used by tests/test_binder_env.py; the mode (fast/full) comes from DLTK_FAST in the environment.
"""

import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PROBE = "import resource as _r\nprint('DLTK_PEAK_RSS_MB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1024)"


def run(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as e:  # noqa: BLE001 - reported per lesson
        error = f"{type(e).__name__}: {str(e)[-600:]}"
    seconds = time.perf_counter() - t0
    peak = 0.0
    for out in nb.cells[-1].get("outputs", []):
        for line in out.get("text", "").splitlines():
            if line.startswith("DLTK_PEAK_RSS_MB"):
                peak = float(line.split()[1])
    return {"lesson": path.name, "seconds": round(seconds, 1), "peak_mb": round(peak), "error": error}


def main() -> None:
    out = Path(sys.argv[1])
    results = []
    for p in sys.argv[2:]:
        results.append(run(Path(p)))
        print(json.dumps(results[-1]), flush=True)
        out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
