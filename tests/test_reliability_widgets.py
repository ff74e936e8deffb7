"""Widgets free what they hold: close(), re-running a cell, bounded error log, per-instance debounce.

Issue 16 item 1: one ``LSTMStepper`` build-and-close leaked ~108 MB (inner boxes never closed,
their observers keeping the widget, its figures and its recording alive). Every widget kind is
built and closed 20 times here; ipywidgets' registry must come back to where it was, the widget
object must be collectable, and the process's resident memory must stay within a stated
tolerance after a warm-up.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import weakref

import numpy as np
import pytest
import torch
from ipywidgets.widgets.widget import _instances

import dltk
import dltk.widgets
from dltk.widgets import (
    ActivationExplorer,
    BatchStatisticsExplorer,
    ConvExplorer,
    DeepenLSTM,
    DropoutExplorer,
    LossExplorer,
    LSTMStepper,
    NetworkExplorer,
    NormalizationExplorer,
    PaddingExplorer,
    PoolingExplorer,
    ProposalExplorer,
    TrainingMonitor,
    debounce,
    padding_sweep,
)
from dltk.widgets.base import CALLBACK_ERRORS_KEPT, DltkWidget, _CellWidgets, callback_errors

CYCLES = 20
WARMUP = 3
#: RSS growth allowed over the 20 cycles after warm-up (allocator noise; the leak was 5-110 MB per cycle)
RSS_TOLERANCE_MB = 25.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _lstm_net(C: int = 12, H: int = 64) -> dltk.network.Network:
    return dltk.Network(
        [
            dltk.sequenceInputLayer(C),
            dltk.lstmLayer(H, OutputMode="last"),
            dltk.fullyConnectedLayer(3),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )


@pytest.fixture(scope="module")
def builders():
    """One builder per widget kind, each holding enough data that a leak shows in RSS (~5+ MB a cycle)."""
    torch.manual_seed(0)
    net = _lstm_net()
    X = torch.randn(8, 120, 12)  # the stepper's recording: 8*120*64 floats per signal
    Xs = [np.random.default_rng(k).standard_normal((6, 3)).astype(np.float32) for k in range(16)]
    Ys = np.array(["a", "b"] * 8)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(64, 1, 32, 32)).astype(np.float32)  # the explorers' inputs: ~0.25 MB each
    feats = torch.rand(256, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    seq_net = dltk.Network(
        [
            dltk.sequenceInputLayer(1),
            dltk.lstmLayer(8, OutputMode="last"),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(Classes=["a", "b"]),
        ]
    ).eval()
    sweep = padding_sweep(seq_net, np.linspace(-1, 1, 20, dtype=np.float32)[:, None], "a", max_pad=10)
    K = 3
    dets = [
        dict(
            proposals=np.c_[rng.uniform(0, 20, (K, 2)), rng.uniform(4, 10, (K, 2))],
            objectness=rng.uniform(size=K),
            probs=rng.dirichlet(np.ones(3), K),
            deltas=rng.normal(size=(K, 4)),
            refined=np.c_[rng.uniform(0, 20, (K, 2)), rng.uniform(4, 10, (K, 2))],
        )
        for _ in range(4)
    ]
    return {
        LSTMStepper: lambda: LSTMStepper(net, X, interactive=False),
        NetworkExplorer: lambda: NetworkExplorer(net, X[:, :40], cache=2, interactive=False),
        DeepenLSTM: lambda: DeepenLSTM(Xs, Ys, hidden=4, max_epochs=1, interactive=False),
        TrainingMonitor: lambda: TrainingMonitor(True, 200, 20, 10, interactive=False),
        ActivationExplorer: lambda: ActivationExplorer(feats, interactive=False),
        BatchStatisticsExplorer: lambda: BatchStatisticsExplorer(feats, interactive=False),
        ConvExplorer: lambda: ConvExplorer(images[0, 0], interactive=False),
        DropoutExplorer: lambda: DropoutExplorer(images[:4], interactive=False),
        LossExplorer: lambda: LossExplorer(interactive=False),
        NormalizationExplorer: lambda: NormalizationExplorer(images, n_show=32, interactive=False),
        PaddingExplorer: lambda: PaddingExplorer(sweep, units=3, interactive=False),
        PoolingExplorer: lambda: PoolingExplorer(images[0, 0], interactive=False),
        ProposalExplorer: lambda: ProposalExplorer(images[:4], dets, feats[: 4 * K], ["a", "b"], interactive=False),
    }


def _widget_kinds() -> list[type]:
    kinds = []
    for name in dltk.widgets.__all__:
        obj = getattr(dltk.widgets, name)
        if isinstance(obj, type) and issubclass(obj, DltkWidget) and obj is not DltkWidget:
            kinds.append(obj)
    return kinds


def test_every_widget_kind_has_a_cycle_builder(builders):
    assert set(_widget_kinds()) == set(builders), "add a builder for the new widget kind"


def _cycle(build) -> weakref.ref:
    w = build()
    assert not w.errors
    ref = weakref.ref(w)
    w.close()
    del w
    return ref


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.parametrize("kind", _widget_kinds(), ids=lambda k: k.__name__)
def test_build_close_cycles_return_widgets_and_memory(builders, kind):
    build = builders[kind]
    registry_before = set(_instances)
    for _ in range(WARMUP):
        _cycle(build)
    gc.collect()
    rss0 = _rss_mb()
    for _ in range(CYCLES):
        ref = _cycle(build)
        gc.collect()
        assert ref() is None, f"a closed {kind.__name__} is still referenced"
        assert set(_instances) == registry_before, "close() left widgets in ipywidgets' registry"
    growth = _rss_mb() - rss0
    assert growth < RSS_TOLERANCE_MB, f"{kind.__name__}: RSS grew {growth:.1f} MB over {CYCLES} build/close cycles"


def test_closed_widget_still_named_holds_nothing_heavy(builders):
    w = builders[LSTMStepper]()
    view = w.cell_view
    w.close()
    assert w.closed and w.rec is None and w.diagram is None and w.heatmaps is None
    assert view.fig is None or not view.fig.axes  # the figure is emptied
    assert view.widget.value == b"" and view.widget.comm is None
    assert w.time.comm is None and w.box.comm is None
    w.close()  # a second close does nothing


def test_close_reaches_inner_boxes_layouts_and_links():
    w = DltkWidget(interactive=False)
    import ipywidgets as W

    a, b = W.IntSlider(), W.IntSlider()
    link = W.jslink((a, "value"), (b, "value"))
    seen = []
    b.observe(lambda ch: seen.append(ch), names="value")
    button = W.Button()
    button.on_click(lambda _b: seen.append("click"))
    inner = W.HBox([a, W.VBox([b, button])])  # never registered with _w: close() must still reach it
    w.box = W.VBox([inner, w.status, w.error_area])
    w._w(link)
    before = {id(x) for x in (a, b, inner, a.layout, b.style, button.layout, link)}
    w.close()
    assert before.isdisjoint(id(x) for x in _instances.values())
    b.value = 3
    button.click()
    assert seen == []  # observers and click handlers unlinked


# ------------------------------------------------------------- re-running a cell
class _Info:
    def __init__(self, cell_id):
        self.cell_id = cell_id


def test_rerunning_a_cell_closes_the_widget_it_built_before(builders, monkeypatch):
    cells = _CellWidgets()
    monkeypatch.setattr("dltk.widgets.base._CELLS", cells)
    monkeypatch.setattr(cells, "install", lambda: None)
    before = set(_instances)
    cells.pre_run_cell(_Info("cell-1"))
    first = builders[TrainingMonitor]()
    other = builders[TrainingMonitor]()  # the second widget of that kind in the same cell run
    cells.pre_run_cell(_Info("cell-2"))
    elsewhere = builders[TrainingMonitor]()
    cells.pre_run_cell(_Info("cell-1"))  # the cell runs again
    again = builders[TrainingMonitor]()
    assert first.closed and not other.closed and not elsewhere.closed and not again.closed
    again2 = builders[TrainingMonitor]()
    assert other.closed and not again2.closed
    cells.pre_run_cell(_Info(None))  # no cell id (plain IPython): nothing is replaced
    loose = builders[TrainingMonitor]()
    assert not again.closed and not loose.closed
    for w in (elsewhere, again, again2, loose):
        w.close()
    assert set(_instances) == before


def test_rerunning_a_cell_in_ipython_keeps_one_widget_alive(monkeypatch):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    if InteractiveShell.initialized():
        pytest.skip("an IPython shell already runs in this process")
    cfg = Config()
    cfg.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=cfg)
    before = set(_instances)
    monkeypatch.setattr("dltk.widgets.base._CELLS", _CellWidgets())  # as on a fresh import in the notebook
    try:
        shell.run_cell("import dltk.widgets as dw\ndw.base._CELLS.install()", cell_id="imports")
        code = "w = dw.TrainingMonitor(True, 50, 10, 5, interactive=False)"
        counts = []
        for _ in range(4):
            assert shell.run_cell(code, cell_id="monitor").success
            counts.append(len(set(_instances) - before))
        assert counts[0] > 0 and counts == counts[:1] * 4  # one monitor's widgets, not four monitors'
        shell.run_cell("w.close()", cell_id="end")
        assert set(_instances) == before
    finally:
        import dltk.widgets.base as base

        if base._CELLS.shell is shell:
            shell.events.unregister("pre_run_cell", base._CELLS.pre_run_cell)
            base._CELLS.shell = None
        InteractiveShell.clear_instance()


# ------------------------------------------------------------- error log and debounce
def test_callback_error_log_is_bounded():
    w = DltkWidget(interactive=False)

    def boom(k: int) -> None:
        raise ValueError(f"bad {k}")

    guarded = w._guard(boom)
    for k in range(3 * CALLBACK_ERRORS_KEPT):
        guarded(k)
    errs = callback_errors()
    assert len(errs) <= CALLBACK_ERRORS_KEPT and str(errs[-1]) == f"bad {3 * CALLBACK_ERRORS_KEPT - 1}"
    assert len(w.errors) <= CALLBACK_ERRORS_KEPT and str(w.errors[-1]) == str(errs[-1])
    w.close()
    import dltk.widgets.base as base

    base._CALLBACK_ERRORS.clear()  # the lessons' checks expect an empty log


def test_debounce_keeps_one_pending_call_per_instance():
    class Panel:
        def __init__(self, name: str, calls: list) -> None:
            self.name, self.calls = name, calls

        @debounce(0.05)
        def redraw(self, k: int) -> None:
            self.calls.append((self.name, k))

    calls: list = []
    a, b = Panel("a", calls), Panel("b", calls)

    async def burst() -> None:
        for k in range(3):
            a.redraw(k)
            b.redraw(10 + k)
        await asyncio.sleep(0.2)

    asyncio.run(burst())
    assert sorted(calls) == [("a", 2), ("b", 12)]  # each instance's last call; neither cancelled the other
    calls.clear()
    a.redraw(5)  # immediate without a running loop
    assert calls == [("a", 5)]
    assert Panel.redraw.__name__ == "redraw"
