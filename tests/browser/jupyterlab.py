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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
def lab_server(
    content: Path,
    env_extra: dict[str, str] | None = None,
    timeout: float = 120,
    disabled_extensions: tuple[str, ...] = (),
) -> Iterator[LabServer]:
    """Start JupyterLab serving a copy of ``content``; always stop it afterwards.

    ``disabled_extensions`` are turned off in the isolated config folder's
    ``labconfig/page_config.json`` (what ``jupyter labextension disable``
    writes), e.g. ``@jupyter-widgets/jupyterlab-manager`` to break widgets on purpose.
    """
    tmp = Path(tempfile.mkdtemp(prefix="dltk-lab-"))
    root = tmp / "root"
    shutil.copytree(content, root / content.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = tmp / "settings"
    for name, value in SETTINGS.items():
        p = settings / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(value))
    if disabled_extensions:
        labconfig = tmp / "config" / "labconfig"
        labconfig.mkdir(parents=True)
        page_config = {"disabledExtensions": {name: True for name in disabled_extensions}}
        (labconfig / "page_config.json").write_text(json.dumps(page_config))
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
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--allow-root",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
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
    """Run every cell; wait until each code cell has run (or one failed) and the kernel is idle."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp.shell.currentWidget;
            if (!w || !w.content) return false;
            const k = w.sessionContext.session && w.sessionContext.session.kernel;
            if (!k || k.status !== 'idle') return false;
            const cells = w.content.widgets.filter(c => c.model.type === 'code');
            const outs = c => [...Array(c.model.outputs.length).keys()].map(i => c.model.outputs.get(i));
            if (cells.some(c => outs(c).some(o => o.type === 'error'))) return true;  // run-all stops there
            const running = c => (c.node.querySelector('.jp-InputPrompt')?.textContent || '').includes('[*]');
            return cells.every(c => c.model.executionCount !== null && !running(c));
        }""",
        timeout=timeout_ms,
        polling=500,
    )


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the notebook's kernel is idle (twice, 300 ms apart: comm messages come in bursts)."""
    for _ in range(2):
        page.wait_for_function(
            "() => { const w = window.jupyterapp.shell.currentWidget;"
            " const k = w && w.sessionContext.session && w.sessionContext.session.kernel;"
            " return k && k.status === 'idle'; }",
            timeout=timeout_ms,
            polling=100,
        )
        page.wait_for_timeout(300)


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
BROKEN_WIDGET = (
    "Error displaying widget|Failed to display Jupyter Widget|Could not create a model|"
    "is not registered|model not found|Loading widget|Click to show javascript error"
)


def problems(page) -> list[str]:
    """Errors visible in the notebook: error outputs, tracebacks, broken widgets, dltk widget errors."""
    return page.evaluate(
        """(broken) => {
            const out = [];
            const w = window.jupyterapp.shell.currentWidget;
            (w && w.content ? w.content.widgets : []).forEach((c, n) => {
              if (c.model.type !== 'code') return;
              for (let i = 0; i < c.model.outputs.length; i++) {
                const o = c.model.outputs.get(i).toJSON();
                if (o.output_type === 'error') out.push(`cell ${n + 1}: ${o.ename}: ${o.evalue}`.slice(0, 500));
              }
            });
            const re = new RegExp(broken);
            document.querySelectorAll('.jp-OutputArea-output').forEach(e => {
              const mime = e.dataset.mimeType || '';
              const text = e.textContent || '';
              if (mime === 'application/vnd.jupyter.stderr' && /Error|Traceback|Exception/.test(text))
                out.push('error: ' + text.slice(0, 500));
              if (re.test(text)) out.push('widget: ' + text.slice(0, 300));
              const asText = /^(HBox|VBox|IntSlider|Output|Tab|Button|Canvas|Image|HTML|Dropdown)\\(/;
              if (mime === 'text/plain' && asText.test(text.trim()))
                out.push('widget rendered as text: ' + text.slice(0, 200));
            });
            document.querySelectorAll('.dltk-widget-error').forEach(e => {
              if (e.textContent.trim()) out.push('dltk widget error: ' + e.textContent.slice(0, 300));
            });
            return [...new Set(out)];
        }""",
        BROKEN_WIDGET,
    )


#: the window the horizontal-scroll check uses: a laptop screen (JupyterLab's default layout, file browser open)
CHECK_WINDOW = {"width": 1300, "height": 1000}


def horizontal_overflow(page, window: dict[str, int] | None = None) -> list[str]:
    """Output areas that scroll sideways (``scrollWidth > clientWidth + 1``) in a ``window``-sized page.

    The page is resized to :data:`CHECK_WINDOW` for the check (figures and
    widgets must fit the notebook column, or wrap) and back afterwards.
    Returns one line per overflowing output: cell, widths, what it shows.
    """
    before = page.viewport_size
    page.set_viewport_size(window or CHECK_WINDOW)
    try:
        page.wait_for_timeout(400)  # JupyterLab re-lays out the panels on resize
        return page.evaluate(
            r"""() => {
                const out = [];
                const w = window.jupyterapp.shell.currentWidget;
                (w && w.content ? w.content.widgets : []).forEach((c, n) => {
                  if (c.model.type !== 'code') return;
                  const areas = [...c.node.querySelectorAll('.jp-OutputArea, .jp-OutputArea-output')];
                  for (const e of areas) {
                    if (e.scrollWidth > e.clientWidth + 1) {
                      const what = (e.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 80);
                      out.push(`cell ${n + 1}: an output area scrolls sideways (content ${e.scrollWidth} px`
                        + ` in ${e.clientWidth} px): ${what}`);
                      break;
                    }
                  }
                });
                return out;
            }"""
        )
    finally:
        if before:
            page.set_viewport_size(before)


def widget_views(page) -> dict[str, object]:
    """Widget outputs of the notebook (from its model) and how many rendered with a visible size
    (and, for ipympl figures, sized canvases).

    ``declared`` counts outputs carrying the widget-view MIME type, so a widget
    that the front end could not render at all (no manager: only its text/plain
    fallback shows) still counts as declared and not rendered.
    """
    return page.evaluate(
        """([mime, broken]) => {
            let declared = 0, rendered = 0;
            const missing = [];
            const re = new RegExp(broken);
            const w = window.jupyterapp.shell.currentWidget;
            w.content.widgets.forEach((c, n) => {
              if (c.model.type !== 'code') return;
              for (let i = 0; i < c.model.outputs.length; i++) {
                const data = c.model.outputs.get(i).data || {};
                if (!data[mime]) continue;
                declared++;
                const node = c.outputArea.widgets[i] && c.outputArea.widgets[i].node;
                // the view's root element (ipympl's is .jupyter-matplotlib, not .jupyter-widgets)
                const view = node && node.querySelector('.jp-OutputArea-output > .lm-Widget');
                const r = view && view.getBoundingClientRect();
                // every ipympl canvas inside must have been sized by its figure (0x0: the view is broken)
                const blank = view && [...view.querySelectorAll('.jupyter-matplotlib-canvas-div canvas')]
                  .some(cv => !cv.width || !cv.height);
                // ipywidgets shows a view it could not build as a sized placeholder (class widget-error)
                const failed = view && (view.classList.contains('widget-error') || view.querySelector('.widget-error'));
                if (view && r.width > 4 && r.height > 4 && !blank && !failed && !re.test(node.textContent || ''))
                  rendered++;
                else missing.push(`cell ${n + 1} output ${i + 1}: ${(node ? node.textContent : '').slice(0, 120)}`);
              }
            });
            return {declared, rendered, missing};
        }""",
        [WIDGET_MIME, BROKEN_WIDGET],
    )


def figures_drawn(page, selector: str = ".dltk-main", timeout_ms: int = 60_000) -> None:
    """Wait until every ipympl figure under ``selector`` has a canvas with drawn (opaque) pixels."""
    page.wait_for_function(
        """(sel) => {
            const root = document.querySelector(sel);
            if (!root) return false;
            const figs = [...root.querySelectorAll('.jupyter-matplotlib-figure')];
            return figs.every(f => [...f.querySelectorAll('canvas')].some(cv => {
              if (!cv.width || !cv.height) return false;
              const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
              for (let i = 3; i < d.length; i += 4 * 97) if (d[i] > 0) return true;
              return false;
            }));
        }""",
        arg=selector,
        timeout=timeout_ms,
        polling=250,
    )


def stable_screenshot(locator, path: str, timeout_s: float = 20.0, interval_ms: int = 300) -> bytes:
    """Screenshot ``locator`` once two consecutive shots are identical (the canvas settled)."""
    page = locator.page
    shot = locator.screenshot(animations="disabled")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(interval_ms)
        again = locator.screenshot(animations="disabled")
        if again == shot:
            break
        shot = again
    Path(path).write_bytes(shot)
    return shot


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
            const late = new Promise((_, rej) => setTimeout(() => rej(new Error('kernel_eval timeout')), timeout));
            await Promise.race([fut.done, late]);
            return out;
        }""",
        [code, timeout_ms],
    )


def shutdown_kernels(server: LabServer) -> None:
    """Stop every kernel of ``server`` (REST API), so finished lessons free their memory."""
    try:
        with urllib.request.urlopen(f"{server.base}/api/kernels?token={TOKEN}", timeout=5) as r:
            kernels = json.loads(r.read())
        for k in kernels:
            req = urllib.request.Request(f"{server.base}/api/kernels/{k['id']}?token={TOKEN}", method="DELETE")
            urllib.request.urlopen(req, timeout=10).close()
    except OSError:
        pass


def cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of this process and all its descendants (server, kernels, browser).

    Uses psutil (installed with ipykernel); empty when it is missing.
    """
    try:
        import psutil
    except ImportError:
        return {}

    me = psutil.Process()
    out = {}
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def cpu_since(before: dict[int, float]) -> float:
    """CPU seconds spent by this process tree since ``before`` (a :func:`cpu_seconds` snapshot)."""
    now = cpu_seconds()
    return sum(t - before.get(pid, 0.0) for pid, t in now.items())
