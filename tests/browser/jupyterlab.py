"""A real JupyterLab server and Chromium page for the browser tests.

The server is started on 127.0.0.1 with a free port, a fixed token, its own
settings/workspace/config/runtime folders (no news or update checks, no
autosave, no windowed notebook) and a *copy* of the lessons, so nothing is
written back into the repository. Chromium is Debian's ``/usr/bin/chromium``
driven by Playwright through ``executable_path`` (``playwright install`` is
never used).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

TOKEN = "dltk-browser-tests"
CHROMIUM = os.environ.get("DLTK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A running ``jupyter lab`` (see module docstring)."""

    def __init__(self, root: Path, port: int, proc: subprocess.Popen, log: Path) -> None:
        self.root, self.port, self.proc, self.log = root, port, proc, log

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}/lab/workspaces/t{int(time.time() * 1000)}/tree/{path}?token={TOKEN}&reset"

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@contextmanager
def lab_server(content: Path, env_extra: dict[str, str] | None = None, timeout: float = 120) -> Iterator[LabServer]:
    """Start JupyterLab serving a copy of ``content``; always stop it afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="dltk-lab-"))
    root = tmp / "root"
    shutil.copytree(content, root / content.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = tmp / "settings"
    for name, value in SETTINGS.items():
        p = settings / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(value))
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        DLTK_FAST="1",
        MPLBACKEND="module://ipympl.backend_nbagg",
        **(env_extra or {}),
    )
    port = free_port()
    log = tmp / "server.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True", "--allow-root", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
        "jupyterlab.NeverCheckForUpdate",
    ]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = LabServer(root, port, proc, log)
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.base}/api/status?token={TOKEN}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise TimeoutError(f"jupyter lab did not start in {timeout}s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ page ops
def open_notebook(page, server: LabServer, path: str, timeout_ms: int = 120_000) -> None:
    """Open a notebook and wait until its kernel is idle."""
    page.goto(server.url(path), timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook", state="attached", timeout=timeout_ms)
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle'; }",
        timeout=timeout_ms,
    )


def run_all(page, timeout_ms: int = 600_000) -> None:
    """Run every cell and wait until every code cell has executed and the kernel is idle."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp.shell.currentWidget;
            if (!w || !w.content) return false;
            const k = w.sessionContext.session && w.sessionContext.session.kernel;
            if (!k || k.status !== 'idle') return false;
            const cells = w.content.widgets.filter(c => c.model.type === 'code');
            const failed = cells.some(c => c.model.outputs && [...Array(c.model.outputs.length).keys()]
                .some(i => c.model.outputs.get(i).type === 'error'));
            if (failed) return true;  // run-all stops at the first error
            return cells.every(c => c.model.executionCount !== null && !c.node.querySelector('.jp-InputPrompt')?.textContent.includes('[*]'));
        }""",
        timeout=timeout_ms,
        polling=500,
    )


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext.session && w.sessionContext.session.kernel;"
        " return k && k.status === 'idle'; }",
        timeout=timeout_ms,
        polling=200,
    )


def problems(page) -> list[str]:
    """Errors visible in the notebook: tracebacks, stderr errors, broken widgets."""
    return page.evaluate(
        """() => {
            const out = [];
            document.querySelectorAll('.jp-OutputArea-output').forEach(e => {
              const mime = e.dataset.mimeType || '';
              const text = e.textContent || '';
              if (mime === 'application/vnd.jupyter.stderr' && /Error|Traceback|Exception/.test(text))
                out.push('error: ' + text.slice(0, 500));
              if (/Error displaying widget|Failed to display Jupyter Widget|Could not create a model|is not registered|model not found/.test(text))
                out.push('widget: ' + text.slice(0, 300));
              if (mime === 'text/plain' && /^(HBox|VBox|IntSlider|Output|Tab|Button|Canvas)\\(/.test(text.trim()))
                out.push('widget rendered as text: ' + text.slice(0, 200));
            });
            document.querySelectorAll('.dltk-widget-error').forEach(e => {
              if (e.textContent.trim()) out.push('dltk widget error: ' + e.textContent.slice(0, 300));
            });
            return [...new Set(out)];
        }"""
    )


def widget_views(page) -> dict[str, int]:
    """Widget outputs in the notebook, and how many rendered with a visible size."""
    return page.evaluate(
        """() => {
            let declared = 0, rendered = 0;
            document.querySelectorAll('.jp-OutputArea-output').forEach(e => {
              const w = e.querySelector(':scope > .jupyter-widgets, :scope > .lm-Widget.jupyter-widgets');
              const text = e.textContent || '';
              if (!w && !/Error displaying widget|Loading widget/.test(text)) return;
              declared++;
              const r = (w || e).getBoundingClientRect();
              if (w && r.height > 4 && r.width > 4) rendered++;
            });
            return {declared, rendered};
        }"""
    )


def kernel_eval(page, code: str, timeout_ms: int = 60_000) -> str:
    """Run ``code`` in the notebook's kernel (no new cell) and return its stdout."""
    return page.evaluate(
        """async ([code, timeout]) => {
            const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            let out = '';
            const fut = k.requestExecute({code, silent: false, store_history: false});
            fut.onIOPub = msg => {
              if (msg.header.msg_type === 'stream') out += msg.content.text;
              if (msg.header.msg_type === 'error') out += 'ERROR: ' + msg.content.ename + ': ' + msg.content.evalue;
            };
            await Promise.race([fut.done, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), timeout))]);
            return out;
        }""",
        [code, timeout_ms],
    )
