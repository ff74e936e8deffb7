"""Every lesson in a real JupyterLab in Chromium: run all, no errors, widgets render,
the main widget reacts to a student's interaction.

For the lessons with the dltk widgets the interaction is the student's one and
the values shown afterwards are checked against the kernel:

* 01, 10 — ``NetworkExplorer``: pick another layer in the dropdown; the page
  shows that layer's signals (readout table) with the recording's statistics;
* 02 — ``DeepenLSTM``: click "add layer"; the page lists one more LSTM (names
  as in the kernel) and the ``analyzeNetwork`` result;
* 04 — ``LSTMStepper``: focus the time slider and press → three times; the
  slider readout says t = 3 and the value table equals the recording at t = 3.

Every other lesson gets a generic interaction (slider, dropdown or button of
the ``.dltk-main`` widget). Screenshots of the main widget before and after
are written to ``test-artifacts/browser/`` (ignored by git), with
``timings.json`` (browser wall time and CPU time of the whole process tree,
per lesson).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable

import pytest

from ..lesson_runner import lesson_paths
from .jupyterlab import (
    cpu_seconds,
    cpu_since,
    figures_drawn,
    horizontal_overflow,
    kernel_eval,
    open_notebook,
    problems,
    run_all,
    stable_screenshot,
    wait_idle,
    widget_views,
)

MIN_CHANGE = 0.002  # fraction of the main widget's pixels that must change after an interaction


def _pixel_change(a: bytes, b: bytes) -> float:
    """Fraction of pixels that differ between two PNG screenshots (1.0 when the size changed)."""
    import numpy as np
    from PIL import Image

    ia = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.int16)
    ib = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.int16)
    if ia.shape != ib.shape:
        return 1.0
    return float((np.abs(ia - ib).sum(-1) > 30).mean())


def assert_notebook_healthy(page, name: str) -> None:
    """No error output, no broken widget, every declared widget rendered, no output scrolling
    sideways in a 1300×1000 window (raises AssertionError)."""
    found = problems(page)
    assert not found, f"{name}: problems in the page:\n" + "\n".join(found)[:3000]
    views = widget_views(page)
    assert views["declared"] >= 1, f"{name}: no widget output at all"
    assert views["rendered"] == views["declared"], (
        f"{name}: {views['declared'] - views['rendered']} of {views['declared']} widgets not rendered:\n"
        + "\n".join(views["missing"])[:3000]
    )
    wide = horizontal_overflow(page)
    assert not wide, f"{name}: outputs wider than the notebook column:\n" + "\n".join(wide)[:3000]


def _kernel_json(page, code: str):
    out = kernel_eval(page, "import json as _j\n" + code)
    assert not out.startswith("ERROR"), out
    return json.loads(out.strip().splitlines()[-1])


def _readout(main) -> dict:
    """The ``.dltk-readout`` table of the main widget, as text."""
    return main.locator(".dltk-readout").evaluate(
        """e => {
            const d = e.querySelector('[data-t], [data-layer]');
            const cells = [...e.querySelectorAll('tr')].filter(r => r.dataset.unit !== undefined || r.dataset.signal)
              .map(r => ({unit: r.dataset.unit, signal: r.dataset.signal,
                          values: Object.fromEntries([...r.querySelectorAll('td[data-signal], td[data-stat]')]
                            .map(td => [td.dataset.signal || td.dataset.stat, td.textContent.trim()]))}));
            return {attrs: d ? {...d.dataset} : {}, rows: cells, text: e.textContent};
        }"""
    )


def _wait_readout(page, attr: str, value: str, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "([a, v]) => { const e = document.querySelector(`.dltk-main .dltk-readout [data-${a}]`);"
        " return e && e.dataset[a] === v; }",
        arg=[attr, value],
        timeout=timeout_ms,
        polling=100,
    )


# ------------------------------------------------------------------ interactions
def _explore_another_layer(page, main) -> str:
    """NetworkExplorer (variable ``explorer``): pick another layer; its signals and statistics show."""
    select = main.locator(".widget-dropdown select").first
    current = select.input_value()
    options = select.locator("option").all_text_contents()
    # the next layer in the graph (a student walks the network); the one before at the end
    k = options.index(current)
    target = options[k + 1] if k + 1 < len(options) else options[k - 1]
    select.select_option(label=target)
    wait_idle(page)
    _wait_readout(page, "layer", target)
    shown = _readout(main)
    expected = _kernel_json(
        page,
        f"""
_w = explorer
_b = _w.observation.value
_r = {{}}
for _s in _w.signals_view.names:
    _v = _w.rec[{target!r}][_s]
    _a = (_v[_b] if _v.ndim and _v.shape[0] == _w.signals_view.B else _v).double().numpy()
    _r[_s] = {{"mean": f"{{_a.mean():.4f}}", "min": f"{{_a.min():.4f}}", "max": f"{{_a.max():.4f}}"}}
print(_j.dumps({{"layer": _w.layer.value, "observation": _b, "signals": _r}}))
""",
    )
    assert expected["layer"] == target, f"the kernel's dropdown value is {expected['layer']!r}, not {target!r}"
    assert shown["attrs"] == {"layer": target, "observation": str(expected["observation"])}, shown["attrs"]
    got = {r["signal"]: r["values"] for r in shown["rows"]}
    assert got == expected["signals"], f"signals shown for {target!r}:\n{got}\nrecording:\n{expected['signals']}"
    assert f"layer '{target}'" in shown["text"]
    return f"picked layer {target!r} (was {current!r}); {len(got)} signals match the recording"


def _deepen(page, main) -> str:
    """DeepenLSTM (variable ``deepen``): click "add layer"; one more LSTM and the analysis show."""
    depth0 = _kernel_json(page, "print(_j.dumps(deepen.depth))")
    main.get_by_role("button", name="add layer").click()
    want = f"{depth0 + 1} LSTM layers ("  # the layer table's title (the busy message has no "(")
    page.wait_for_function(
        "(want) => (document.querySelector('.dltk-main')?.textContent || '').includes(want)",
        arg=want,
        timeout=240_000,
        polling=250,
    )
    wait_idle(page, 240_000)
    k = _kernel_json(
        page,
        "print(_j.dumps({'depth': deepen.depth, 'lstms': [la.name for la in deepen.layers if la.type_name == 'LSTM'],"
        " 'modes': [la.OutputMode for la in deepen.layers if la.type_name == 'LSTM'], 'ok': deepen.analysis.ok,"
        " 'trained': sorted(deepen.infos)}))",
    )
    assert k["depth"] == depth0 + 1, k
    rows = main.locator("table").first.locator("tr").all_inner_texts()
    lstm_rows = [r.split("\t") for r in rows if "\tLSTM\t" in r]
    assert [r[1] for r in lstm_rows] == k["lstms"], f"LSTM rows on the page {lstm_rows}, kernel {k['lstms']}"
    assert k["modes"] == ["sequence"] * depth0 + ["last"], k["modes"]
    text = main.inner_text()
    assert "analyzeNetwork" in text and ("no issues" if k["ok"] else "error(s)") in text
    assert depth0 + 1 in k["trained"], k
    return f"clicked 'add layer': {depth0} -> {depth0 + 1} LSTMs {k['lstms']} shown with the analysis"


def _step_lstm(page, main) -> str:
    """LSTMStepper (variable ``stepper``): arrow keys on the time slider; values at t = t0 + 3 show."""
    t0 = int(_readout(main)["attrs"]["t"])
    handle = main.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    target = t0 + 3
    _wait_readout(page, "t", str(target))
    wait_idle(page)
    slider_text = main.locator(".widget-slider .widget-readout").first.inner_text().strip()
    assert slider_text == str(target), f"slider readout {slider_text!r}, expected {target}"
    shown = _readout(main)
    k = _kernel_json(
        page,
        f"""
_w = stepper
_d = _w.diagram
_r = {{str(_u): {{_s: f"{{float(_w.rec[_w.layer][_s][_d.observation, {target}, _u]):.4f}}" for _k, _s in _w.READOUT}}
      for _u in _d.units}}
print(_j.dumps({{"t": _w.time.value, "observation": _d.observation, "values": _r}}))
""",
    )
    assert k["t"] == target, f"kernel time step {k['t']}, expected {target}"
    got = {r["unit"]: r["values"] for r in shown["rows"]}
    assert got == k["values"], f"values shown at t={target}:\n{got}\nrecording:\n{k['values']}"
    return f"slider t {t0} -> {target} with arrow keys; {len(got)} unit rows equal the recording"


def _generic(page, main) -> str:
    """Operate the main widget as a student would; returns what was done."""
    slider = main.locator(".widget-slider .noUi-handle")
    if slider.count():
        slider.first.focus()
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


INTERACTIONS: dict[str, Callable] = {
    "01": _explore_another_layer,
    "02": _deepen,
    "04": _step_lstm,
    "10": _explore_another_layer,
}

TIMINGS: dict[str, dict] = {}


def _order(paths):
    """Lesson 04 last (it is the newest); the rest in course order."""
    return sorted(paths, key=lambda p: (p.stem.startswith("04_"), p.stem))


@pytest.mark.parametrize("path", _order(lesson_paths()), ids=lambda p: p.stem)
def test_lesson_in_browser(path, lab, page, artifacts):
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    open_notebook(page, lab, f"lessons/{path.name}")
    t_open = time.perf_counter()
    run_all(page)
    t_run = time.perf_counter()
    wait_idle(page)
    assert_notebook_healthy(page, path.name)

    main = page.locator(".dltk-main").first
    assert main.count(), f"{path.name}: no main widget (class dltk-main)"
    main.scroll_into_view_if_needed()
    figures_drawn(page)
    before = stable_screenshot(main, str(artifacts / f"{path.stem}-before.png"))
    interact = INTERACTIONS.get(path.stem[:2], _generic)
    what = interact(page, main)
    wait_idle(page)
    figures_drawn(page)
    main.scroll_into_view_if_needed()
    after = stable_screenshot(main, str(artifacts / f"{path.stem}-after.png"))
    change = _pixel_change(before, after)
    assert change > MIN_CHANGE, f"{path.name}: the main widget did not change after {what} ({change:.4%} pixels)"
    found = problems(page)
    assert not found, f"{path.name}: errors after {what}:\n" + "\n".join(found)
    out = kernel_eval(
        page,
        "import sys; m = sys.modules.get('dltk.widgets');"
        " print('widget-errors', [repr(e) for e in m.callback_errors()] if m else [])",
    )
    assert "widget-errors []" in out, f"{path.name}: widget callbacks raised: {out}"
    TIMINGS[path.stem] = {
        "seconds": round(time.perf_counter() - t0, 1),
        "open_s": round(t_open - t0, 1),
        "run_all_s": round(t_run - t_open, 1),
        "interaction_s": round(time.perf_counter() - t_run, 1),
        "cpu_s": round(cpu_since(cpu0), 1),
        "interaction": what,
        "pixels_changed": round(change, 4),
    }
    _write_timings(artifacts)


def _write_timings(artifacts) -> None:
    """Merge this run's lessons into ``timings.json`` (a ``-k`` run keeps the others' last numbers)."""
    path = artifacts / "timings.json"
    try:
        old = json.loads(path.read_text()).get("lessons", {})
    except (OSError, ValueError, AttributeError):
        old = {}
    lessons = {**old, **TIMINGS}
    total = {
        "seconds": round(sum(v["seconds"] for v in lessons.values() if isinstance(v, dict)), 1),
        "cpu_s": round(sum(v["cpu_s"] for v in lessons.values() if isinstance(v, dict)), 1),
    }
    path.write_text(json.dumps({"lessons": dict(sorted(lessons.items())), "total": total}, indent=2))
