"""Every lesson in a real JupyterLab in Chromium: run all, no errors, widgets render,
the main widget reacts to a student's interaction.

Screenshots of each lesson's main widget before and after interaction are
written to ``test-artifacts/browser/`` (ignored by git).
"""

from __future__ import annotations

import io
import json
import time

import pytest

from ..lesson_runner import lesson_paths
from .jupyterlab import kernel_eval, open_notebook, problems, run_all, wait_idle, widget_views

TIMINGS: dict[str, float] = {}


def _pixel_change(a: bytes, b: bytes) -> float:
    """Fraction of pixels that differ between two PNG screenshots."""
    import numpy as np
    from PIL import Image

    ia = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.int16)
    ib = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.int16)
    if ia.shape != ib.shape:
        return 1.0
    return float((np.abs(ia - ib).sum(-1) > 30).mean())


def _interact(page, main) -> str:
    """Operate the main widget as a student would; returns what was done."""
    slider = main.locator(".widget-slider .noUi-handle")
    if slider.count():
        slider.first.click()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        return "slider +3 (arrow keys)"
    select = main.locator(".widget-dropdown select")
    if select.count():
        options = select.first.locator("option").all_text_contents()
        current = select.first.input_value()
        target = next(o for o in options if o != current)
        select.first.select_option(label=target)
        return f"dropdown -> {target}"
    button = main.locator("button")
    if button.count():
        label = button.first.text_content()
        button.first.click()
        return f"clicked {label!r}"
    raise AssertionError("the main widget has no slider, dropdown or button to operate")


@pytest.mark.parametrize("path", lesson_paths(), ids=lambda p: p.stem)
def test_lesson_in_browser(path, lab, page, artifacts):
    t0 = time.perf_counter()
    open_notebook(page, lab, f"lessons/{path.name}")
    run_all(page)
    page.wait_for_timeout(1500)
    found = problems(page)
    assert not found, f"{path.name}: {json.dumps(found, ensure_ascii=False)[:2000]}"
    views = widget_views(page)
    assert views["declared"] >= 1, f"{path.name}: no widget rendered"
    assert views["rendered"] == views["declared"], f"{path.name}: widgets not rendered: {views}"

    main = page.locator(".dltk-main").first
    assert main.count(), f"{path.name}: no main widget (class dltk-main)"
    main.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    before = main.screenshot(path=str(artifacts / f"{path.stem}-before.png"))
    what = _interact(page, main)
    wait_idle(page)
    page.wait_for_timeout(1500)
    after = main.screenshot(path=str(artifacts / f"{path.stem}-after.png"))
    change = _pixel_change(before, after)
    assert change > 0.002, f"{path.name}: the main widget did not change after {what} ({change:.4%} pixels)"
    assert not problems(page), f"{path.name}: errors after interaction: {problems(page)}"
    out = kernel_eval(page, "import sys; print('widget-errors', list(sys.modules['dltk.widgets'].callback_errors()) if 'dltk.widgets' in sys.modules else [])")
    assert "widget-errors []" in out, out
    TIMINGS[path.stem] = time.perf_counter() - t0
    (artifacts / "timings.json").write_text(json.dumps(TIMINGS, indent=2))
