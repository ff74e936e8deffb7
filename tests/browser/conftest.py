"""Fixtures for the real-browser suite (marker ``browser``).

Failures carry what is needed to see why: the problems found (in the
assertion message), the tail of the JupyterLab server log (kernel
tracebacks land there), the browser console errors, and a full-page
screenshot ``test-artifacts/browser/FAILED-<test>.png``. The server and the
browser are stopped even when a test fails (context managers / finally).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .jupyterlab import CHROMIUM, CHROMIUM_ARGS, lab_server, shutdown_kernels

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        for name in ("lab", "broken_lab"):
            server = item.funcargs.get(name)
            if server is not None:
                report.sections.append((f"jupyter lab server log ({name}, last 60 lines)", server.log_tail(60)))
        console = getattr(item, "_console_errors", None)
        if console:
            report.sections.append(("browser console errors", "\n".join(console[-40:])))
        page = item.funcargs.get("page")
        if page is not None:
            try:
                shot = ARTIFACTS / f"FAILED-{re.sub(r'[^A-Za-z0-9_.-]+', '_', item.name)}.png"
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True, timeout=15_000)
                report.sections.append(("failure screenshot", str(shot)))
            except Exception as e:  # the page may be gone; the report must still come out
                report.sections.append(("failure screenshot", f"not taken: {e}"))
    return report


# Package scope: the browser and the server stop as soon as the browser tests end, so Playwright's
# event loop does not outlive them (a running loop would change the behaviour of later tests,
# e.g. debounced widget callbacks).
@pytest.fixture(scope="package")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs it with apt (package chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def lab():
    with lab_server(ROOT / "lessons") as server:
        yield server


@pytest.fixture(scope="module")
def broken_lab(tmp_path_factory):
    """A second server whose widget manager extension is disabled: widgets cannot render."""
    empty = tmp_path_factory.mktemp("broken") / "probe"
    empty.mkdir()
    with lab_server(empty, disabled_extensions=("@jupyter-widgets/jupyterlab-manager",)) as server:
        yield server


@pytest.fixture()
def page(chromium, request):
    ctx = chromium.new_context(viewport={"width": 1400, "height": 2000}, reduced_motion="reduce")
    pg = ctx.new_page()
    errors: list[str] = []
    request.node._console_errors = errors
    pg.on("console", lambda m: errors.append(m.text[:500]) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"page error: {e}"[:500]))
    try:
        yield pg
    finally:
        ctx.close()
        for name in ("lab", "broken_lab"):
            if name in request.fixturenames:
                shutdown_kernels(request.getfixturevalue(name))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
