"""The import direction of CONTRIBUTING, enforced: widgets -> viz -> train -> network -> introspect -> layers.

The contracts live in pyproject.toml (``[tool.importlinter]``); ``make lint`` runs ``lint-imports`` and
this test runs the same contracts, so ``make test`` fails on a backward import too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_RUN = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", _RUN, "--no-cache", "--no-logo", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_hold() -> None:
    res = _lint_imports(ROOT)
    assert res.returncode == 0, f"lint-imports found a backward import:\n{res.stdout}\n{res.stderr}"
    assert "BROKEN" not in res.stdout and "KEPT" in res.stdout


def test_a_backward_import_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: a copy of dltk whose layers import the widgets is refused."""
    shutil.copytree(ROOT / "dltk", tmp_path / "dltk", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    base = tmp_path / "dltk" / "layers" / "base.py"
    base.write_text(base.read_text() + "\n\ndef _backward():\n    from ..widgets import base  # noqa: F401\n")
    res = _lint_imports(tmp_path)
    assert res.returncode != 0
    assert "BROKEN" in res.stdout and "dltk.layers.base -> dltk.widgets" in res.stdout, res.stdout
