"""Fixtures for the real-browser suite (marker ``browser``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .jupyterlab import CHROMIUM, CHROMIUM_ARGS, lab_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def lab():
    with lab_server(ROOT / "lessons") as server:
        yield server


@pytest.fixture()
def page(chromium):
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, reduced_motion="reduce")
    pg = ctx.new_page()
    try:
        yield pg
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
