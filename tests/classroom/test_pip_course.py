"""A student without make: pip install "dltk[lessons,data]", `dltk lessons DIR`, `jupyter lab DIR`.

Builds a fresh virtual environment (PyTorch's CPU build first, as a student's pip would take it
from PyTorch's CPU index), installs dltk from this repository as a wheel (not editable), copies the
course out of the installed package and opens it with JupyterLab on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.classroom, pytest.mark.timeout(1500)]


def _torch_pin() -> str:
    import torch

    return f"torch=={torch.__version__.split('+')[0]}"


def test_pip_installed_dltk_copies_the_course_and_jupyterlab_opens_it(tmp_path):
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER"))}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py, bindir = venv / "bin" / "python", venv / "bin"
    pip = [str(py), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, _torch_pin()], check=True, env=env)
    subprocess.run([*pip, f"{ROOT}[lessons,data]"], check=True, env=env, cwd=tmp_path)

    course = tmp_path / "my-course"
    out = subprocess.run(
        [str(bindir / "dltk"), "lessons", str(course)],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "jupyter lab" in out.stdout
    shipped = sorted(p.name for p in (ROOT / "lessons").glob("[0-9][0-9]*_*.ipynb"))
    assert sorted(p.name for p in course.glob("*.ipynb")) == shipped
    assert (course / "README.md").exists()
    # the copy comes from the installed package, not from this checkout
    where = subprocess.run(
        [str(py), "-c", "import dltk.classroom as c; print(c.lessons_source())"],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where
    # a second copy keeps the student's work
    (course / shipped[0]).write_text("{}")
    subprocess.run([str(bindir / "dltk"), "lessons", str(course)], check=True, env=env, cwd=tmp_path)
    assert (course / shipped[0]).read_text() == "{}"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lab = subprocess.Popen(
        [
            str(bindir / "jupyter"),
            "lab",
            str(course),
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.token=class",
            "--allow-root",
        ],
        env=dict(env, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        listing = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=class", timeout=2) as r:
                    listing = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer"
        assert {c["name"] for c in listing["content"]} >= set(shipped)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=class", timeout=10) as r:
            assert r.status == 200
    finally:
        lab.terminate()
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            lab.kill()
