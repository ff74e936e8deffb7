"""The Binder environment is complete: a fresh venv built from binder/ runs every lesson within 2 GB.

``binder/requirements.txt`` is used as written except that PyTorch's CPU index
line is dropped and ``torch==X+cpu`` becomes ``torch==X`` (the CPU build that
lies on this machine's disk; the CPU index cannot be reached from here). Then
``binder/postBuild`` runs, as repo2docker would, and every lesson executes in a fresh
kernel of the new environment in fast mode; each kernel's peak memory must stay within
2 GB (written to test-artifacts/binder-lessons-fast.json).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.binder, pytest.mark.timeout(2400)]

#: memory of one Binder user (mybinder.org gives 1-2 GB; the lessons must fit the smaller promise of 2 GB)
BINDER_MEMORY_MB = 2048


def _local_requirements(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line.strip().startswith(("--extra-index-url", "--index-url")):
            continue
        out.append(re.sub(r"^(torch==[0-9.]+)\+cpu", r"\1", line))
    return "\n".join(out) + "\n"


def test_binder_requirements_pin_cpu_torch_and_matching_widgets():
    req = (ROOT / "binder/requirements.txt").read_text()
    assert re.search(r"^torch==[0-9.]+\+cpu$", req, re.M), "torch must be pinned to a +cpu build"
    assert "download.pytorch.org/whl/cpu" in req
    for pkg in ("jupyterlab==4.", "ipywidgets==8.", "jupyterlab_widgets==3.", "ipympl=="):
        assert pkg in req, f"{pkg} must be pinned"
    assert "set -e" in (ROOT / "binder/postBuild").read_text().splitlines()[:4]
    assert (ROOT / "binder/start").read_text().rstrip().endswith('exec "$@"')
    assert (ROOT / "binder/runtime.txt").read_text().strip().startswith("python-3.")
    assert not (ROOT / "binder/environment.yml").exists(), (
        "environment.yml would make repo2docker ignore requirements.txt"
    )


def test_fresh_binder_environment_runs_every_lesson_within_2_gb(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    req = tmp_path / "requirements.txt"
    req.write_text(_local_requirements((ROOT / "binder/requirements.txt").read_text()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(req)], check=True, env=env, cwd=ROOT)
    # run postBuild from a copy of the repository, as repo2docker does
    env_pb = dict(env, NB_PYTHON_PREFIX=str(venv), PATH=f"{venv / 'bin'}:{env['PATH']}")
    subprocess.run(["bash", "binder/postBuild"], check=True, env=env_pb, cwd=ROOT)
    check = subprocess.run(
        [str(py), "-c", "import dltk, torch, ipympl, ipywidgets; print(dltk.__file__, torch.__version__)"],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert str(venv) in check.stdout, "dltk must be installed into the Binder environment, not found elsewhere"
    # every lesson, each in a fresh kernel of the Binder environment, within Binder's memory
    lessons = sorted((ROOT / "lessons").glob("[0-9][0-9]*_*.ipynb"))
    report = tmp_path / "binder-lessons.json"
    env_run = dict(env_pb, DLTK_FAST="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    subprocess.run(
        [str(py), str(ROOT / "tests" / "binder_run_lessons.py"), str(report), *map(str, lessons)],
        check=True,
        env=env_run,
        cwd=tmp_path,
    )
    results = json.loads(report.read_text())
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "binder-lessons-fast.json").write_text(json.dumps(results, indent=1))
    assert [r["lesson"] for r in results] == [p.name for p in lessons]
    failed = {r["lesson"]: r["error"] for r in results if r["error"]}
    assert not failed, failed
    over = {r["lesson"]: r["peak_mb"] for r in results if not 0 < r["peak_mb"] <= BINDER_MEMORY_MB}
    assert not over, f"lessons over Binder's {BINDER_MEMORY_MB} MB (or unmeasured): {over}"
