"""Every figure a student sees follows the figure rules of :mod:`dltk.viz.style`.

Each ``dltk.viz`` function and each widget in ``dltk.widgets`` is built with
tiny inputs at its default size and checked mechanically by
:func:`dltk.viz.style.figure_problems`: at most 800 px wide (the notebook
column), nothing drawn outside the figure (colour bars, titles, panels),
images framed with integer ticks at pixel centres and a stated colour scale,
all-equal images annotated. Widget rows that hold figures wrap instead of
scrolling sideways.

The widget classes are found in ``dltk.widgets`` at run time: a new widget
class without a builder in :data:`WIDGET_BUILDERS` fails loudly ("add a
builder for X"), so it cannot slip past these rules.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
import pytest
import torch

import dltk
import dltk.viz
import dltk.widgets
from dltk.viz import style
from dltk.widgets.base import DltkWidget


# ------------------------------------------------------------------ tiny inputs
def _lstm_net(H: int = 4, mode: str = "last") -> Any:
    return dltk.Network(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(H, OutputMode=mode),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )


def _cnn() -> tuple[Any, Any]:
    torch.manual_seed(0)
    net = dltk.Network(
        [
            dltk.imageInputLayer([8, 8, 2]),
            dltk.convolution2dLayer(3, 4, Padding="same"),
            dltk.batchNormalizationLayer(),
            dltk.reluLayer(),
            dltk.maxPooling2dLayer(2, Stride=2),
            dltk.dropoutLayer(0.3),
            dltk.fullyConnectedLayer(3),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )
    net.train()
    rec = dltk.record(net, torch.randn(5, 2, 8, 8), targets=torch.tensor([0, 1, 2, 0, 1]))
    return net, rec


def _lstm_rec() -> tuple[Any, Any, Any]:
    torch.manual_seed(0)
    net = _lstm_net(H=5, mode="sequence")
    X = torch.randn(2, 7, 3)
    return net, X, dltk.record(net, X)


def _dag() -> Any:
    graph = dltk.layerGraph(
        [
            dltk.imageInputLayer([8, 8, 1]),
            dltk.convolution2dLayer(3, 4, Padding="same"),
            dltk.reluLayer(Name="relu1"),
            dltk.convolution2dLayer(3, 4, Padding="same"),
            dltk.additionLayer(2, Name="add"),
            dltk.fullyConnectedLayer(2),
        ]
    )
    return dltk.Network(dltk.connectLayers(graph, "relu1", "add/in2"))


def _wide_dag() -> Any:
    """Four parallel branches: a graph wider than the column (it must be drawn smaller)."""
    layers = [dltk.imageInputLayer([8, 8, 1], Name="in")]
    graph = dltk.layerGraph(layers)
    for k in range(4):
        graph = dltk.addLayers(graph, [dltk.convolution2dLayer(3, 2, Padding="same", Name=f"branch_{k}")])
        graph = dltk.connectLayers(graph, "in", f"branch_{k}")
    graph = dltk.addLayers(graph, [dltk.additionLayer(4, Name="add"), dltk.fullyConnectedLayer(2, Name="fc")])
    for k in range(4):
        graph = dltk.connectLayers(graph, f"branch_{k}", f"add/in{k + 1}")
    return dltk.Network(graph)


# ------------------------------------------------------------------ viz functions
def _viz_cases() -> dict[str, Callable[[], Any]]:
    def lstm(fn: Callable[..., Any], **kw: Any) -> Callable[[], Any]:
        def make() -> Any:
            _net, X, rec = _lstm_rec()
            return fn(rec, "lstm", **kw)

        return make

    def cnn(fn: Callable[[Any, Any], Any]) -> Callable[[], Any]:
        return lambda: fn(*_cnn())

    def gradient() -> Any:
        net, X, _rec = _lstm_rec()
        return dltk.viz.gradient_flow(_lstm_net(H=4), torch.randn(2, 6, 3), targets=torch.tensor([0, 1]))

    def constant_pool() -> Any:
        # every window's maximum is 1: the output is one colour and must say so
        net = dltk.Network([dltk.imageInputLayer([4, 4, 1], Normalization="none"), dltk.maxPooling2dLayer(4)])
        X = torch.zeros(1, 1, 4, 4)
        X[0, 0, 1, 2] = 1.0
        return dltk.viz.pooling_switches(dltk.record(net, X), net.layer_names[-1], net=net)

    return {
        "lstm_cell": lstm(dltk.viz.lstm_cell, t=3, units=(0, 1)),
        "gate_heatmaps": lstm(dltk.viz.gate_heatmaps, t=3, units=(1,)),
        "gate_heatmaps_bilstm": lambda: dltk.viz.gate_heatmaps(dltk.record(dltk.bilstmLayer(3), torch.randn(2, 3, 2))),
        "gate_heatmaps_gru": lambda: dltk.viz.gate_heatmaps(dltk.record(dltk.gruLayer(3), torch.randn(2, 3, 2))),
        "state_trajectories": lstm(dltk.viz.state_trajectories, t=2, units=(0, 2)),
        "gradient_flow": gradient,
        "network_graph": lambda: dltk.viz.network_graph(_lstm_net()),
        "network_graph_dag": lambda: dltk.viz.network_graph(_dag()),
        "network_graph_wide": lambda: dltk.viz.network_graph(_wide_dag()),
        "network_graph_colored": lambda: dltk.viz.network_graph(_cnn()[0], _cnn()[1], color_by="mean"),
        "signals_image": cnn(lambda net, rec: dltk.viz.signals(rec, "conv")),
        "signals_sequence": lstm(dltk.viz.signals),
        "signals_one_sequence_panel": lstm(dltk.viz.signals, signals=["output"]),  # one wide panel, its colour bar
        "signals_vector": cnn(lambda net, rec: dltk.viz.signals(rec, "fc")),
        "signals_output": cnn(lambda net, rec: dltk.viz.signals(rec, "classoutput")),
        "activation_curve": lambda: dltk.viz.activation_curve(dltk.clippedReluLayer(2.0)),
        "activation_curve_rec": cnn(lambda net, rec: dltk.viz.activation_curve(net["relu"], rec)),
        "conv_filters": cnn(lambda net, rec: dltk.viz.conv_filters(net["conv"])),
        "feature_maps": cnn(lambda net, rec: dltk.viz.feature_maps(rec, "conv")),
        "batchnorm_distributions": cnn(lambda net, rec: dltk.viz.batchnorm_distributions(rec, "batchnorm", net=net)),
        "pooling_switches": cnn(lambda net, rec: dltk.viz.pooling_switches(rec, "maxpool", net=net)),
        "pooling_switches_constant": constant_pool,
        "dropout_mask": cnn(lambda net, rec: dltk.viz.dropout_mask(rec, "dropout")),
        "softmax_breakdown": cnn(lambda net, rec: dltk.viz.softmax_breakdown(rec, "softmax", "classoutput")),
        # a student's own PyTorch model (issue 12)
        "gate_heatmaps_torch_lstm": lambda: dltk.viz.gate_heatmaps(
            dltk.record(torch.nn.LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=True), torch.randn(2, 4, 2))
        ),
        "module_tree": lambda: (
            dltk.viz.ModuleTree(
                dltk.record(
                    torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)),
                    torch.randn(2, 3),
                )
            ).fig
        ),
    }


VIZ_CASES = _viz_cases()


def test_every_viz_function_has_a_case():
    """A new public view function must be added to the cases above."""
    functions = {
        n
        for n in dltk.viz.__all__
        if inspect.isfunction(getattr(dltk.viz, n))
        and n[0].islower()
        and n not in ("layer_statistics",)
        and n not in ("recurrent_signals", "unrolled_lstm")
    }
    covered = {case.split("_rec")[0] for case in VIZ_CASES} | {
        n for n in functions if any(c.startswith(n) for c in VIZ_CASES)
    }
    missing = sorted(functions - covered)
    assert not missing, f"add a case to tests/test_figure_rules.py for dltk.viz.{', '.join(missing)}"


@pytest.mark.parametrize("case", list(VIZ_CASES))
def test_viz_figure_follows_the_rules(case):
    fig = VIZ_CASES[case]()
    problems = style.figure_problems(fig, case)
    assert not problems, "\n".join(problems)


def test_constant_pooling_output_says_so():
    fig = VIZ_CASES["pooling_switches_constant"]()
    notes = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == style.CONSTANT_NOTE_GID]
    assert "every window's maximum is 1.0" in notes


# ------------------------------------------------------------------ widgets
def _stepper() -> DltkWidget:
    torch.manual_seed(0)
    return dltk.widgets.LSTMStepper(_lstm_net(), torch.randn(2, 6, 3), interactive=False)


def _explorer() -> DltkWidget:
    net, _rec = _cnn()
    return dltk.widgets.NetworkExplorer(net, torch.randn(3, 2, 8, 8), cache=3, interactive=False)


def _deepen() -> DltkWidget:
    X, Y = dltk.data.long_memory(16, T=6)
    w = dltk.widgets.DeepenLSTM(X, Y, hidden=3, dropout=0, max_epochs=1, interactive=False)
    w.add_button.click()
    return w


def _monitor() -> DltkWidget:
    m = dltk.widgets.TrainingMonitor(True, 10, 5, 2, interactive=False)
    it = np.arange(1, 7)
    nan = np.full(6, np.nan)
    m.finish(
        {
            "iteration": it,
            "loss": np.linspace(1, 0.5, 6),
            "metric": np.linspace(0.2, 0.8, 6),
            "val_loss": nan,
            "val_metric": nan,
            "epoch": 2,
            "elapsed": "00:00:01",
            "lr": 0.001,
            "reason": "Max epochs completed",
        }
    )
    return m


def _digit_images(n: int = 4) -> np.ndarray:
    """``n`` tiny 8×8 images in [0, 1] (N, 1, 8, 8), with structure (no dataset needed)."""
    rng = np.random.default_rng(0)
    return rng.uniform(size=(n, 1, 8, 8)).astype(np.float32)


def _padding() -> DltkWidget:
    dltk.seed_everything(0)
    net = dltk.Network(
        [
            dltk.sequenceInputLayer(1),
            dltk.lstmLayer(4, OutputMode="last"),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(Classes=["a", "b"]),
        ]
    ).eval()
    x = np.linspace(-1, 1, 6, dtype=np.float32)[:, None]
    sweep = dltk.widgets.padding_sweep(net, x, "a", max_pad=3)
    return dltk.widgets.PaddingExplorer(sweep, units=2, interactive=False)


def _proposals() -> DltkWidget:
    rng = np.random.default_rng(0)
    K, n = 2, 2
    dets = []
    for _ in range(n):
        props = np.c_[rng.uniform(0, 8, (K, 2)), rng.uniform(3, 6, (K, 2))]
        dets.append(
            dict(
                proposals=props,
                objectness=rng.uniform(size=K),
                probs=rng.dirichlet(np.ones(3), K),
                deltas=rng.normal(size=(K, 4)),
                refined=props + 1,
            )
        )
    feats = torch.rand(n * K, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    X = rng.normal(size=(n, 1, 16, 16))
    return dltk.widgets.ProposalExplorer(X, dets, feats, ["square", "circle"], interactive=False)


#: how to build each widget class of dltk.widgets with tiny inputs (add one for every new widget)
WIDGET_BUILDERS: dict[str, Callable[[], DltkWidget]] = {
    "LSTMStepper": _stepper,
    "NetworkExplorer": _explorer,
    "DeepenLSTM": _deepen,
    "TrainingMonitor": _monitor,
    "ActivationExplorer": lambda: dltk.widgets.ActivationExplorer(
        torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(0)), interactive=False
    ),
    "BatchStatisticsExplorer": lambda: dltk.widgets.BatchStatisticsExplorer(
        torch.randn(20, 2, 3, 3, generator=torch.Generator().manual_seed(0)), batch_size=4, interactive=False
    ),
    "ConvExplorer": lambda: dltk.widgets.ConvExplorer(_digit_images(1)[0, 0], interactive=False),
    "DropoutExplorer": lambda: dltk.widgets.DropoutExplorer(_digit_images(2), interactive=False),
    "LossExplorer": lambda: dltk.widgets.LossExplorer(interactive=False),
    "NormalizationExplorer": lambda: dltk.widgets.NormalizationExplorer(_digit_images(6), interactive=False),
    "PaddingExplorer": _padding,
    "PoolingExplorer": lambda: dltk.widgets.PoolingExplorer(_digit_images(1)[0, 0], interactive=False),
    "ProposalExplorer": _proposals,
}


def _widget_classes() -> list[str]:
    return sorted(
        n
        for n, obj in vars(dltk.widgets).items()
        if inspect.isclass(obj) and issubclass(obj, DltkWidget) and obj is not DltkWidget
    )


def test_every_widget_class_has_a_builder():
    missing = [n for n in _widget_classes() if n not in WIDGET_BUILDERS]
    assert not missing, "; ".join(
        f"add a builder for {n} to WIDGET_BUILDERS in tests/test_figure_rules.py" for n in missing
    )


def _figure_rows(box: W.Widget, figure_widgets: set[int]) -> list[W.Box]:
    """Horizontal boxes under ``box`` that hold a figure (directly or deeper)."""
    out: list[W.Box] = []

    def holds(w: W.Widget) -> bool:
        return id(w) in figure_widgets or any(holds(c) for c in getattr(w, "children", ()))

    def walk(w: W.Widget) -> None:
        if isinstance(w, W.HBox) and len(w.children) > 1 and holds(w):
            out.append(w)
        for c in getattr(w, "children", ()):
            walk(c)

    walk(box)
    return out


@pytest.mark.parametrize("name", _widget_classes())
def test_widget_figures_follow_the_rules(name):
    if name not in WIDGET_BUILDERS:
        pytest.fail(f"add a builder for {name} to WIDGET_BUILDERS in tests/test_figure_rules.py")
    w = WIDGET_BUILDERS[name]()
    try:
        assert w.views, f"{name} shows no figure"
        problems = [p for k, v in enumerate(w.views) for p in style.figure_problems(v.fig, f"{name} figure {k}")]
        for v in w.views:  # the PNG fallback shows the figure at its pixel size
            width = v.widget.layout.width
            if width and width.endswith("px"):
                assert float(width[:-2]) <= style.COLUMN_WIDTH_PX, f"{name}: image widget {width} wide"
        rows = _figure_rows(w.box, {id(v.widget) for v in w.views})
        for row in rows:
            if row.layout.flex_flow not in ("row wrap", "wrap"):
                problems.append(f"{name}: a row holding figures does not wrap (use style.wrap_layout())")
        assert not problems, "\n".join(problems)
    finally:
        w.close()


def test_a_wide_figure_in_a_widget_is_drawn_smaller():
    """A lesson's own 9-inch figure shown through FigureView fits the column instead of scrolling."""
    from dltk.widgets import FigureView

    fig = style.new_figure((9.0, 2.6))
    fig.add_subplot().plot([0, 1])
    view = FigureView(fig, interactive=False)
    try:
        assert view.widget.layout.width == f"{style.COLUMN_WIDTH_PX}px"
        assert np.asarray(fig.canvas.buffer_rgba()).shape[1] == style.COLUMN_WIDTH_PX
    finally:
        view.close()


# ------------------------------------------------------------------ the checker can fail
def test_the_rules_catch_what_the_issue_showed():
    """Wide figure, fractional ticks on a 2×2 grid, cut colour bar, unframed blank square."""
    fig = style.new_figure((10.0, 3.0))
    ax = fig.add_subplot(1, 3, 1)
    ax.imshow(np.arange(4.0).reshape(2, 2), cmap="magma")  # default ticks: −0.5, 0, 0.5 …
    ax2 = fig.add_axes((0.7, 0.1, 0.25, 0.8))
    im = ax2.imshow(np.ones((3, 3)), cmap=style.seq_cmap)
    ax2.set_axis_off()
    fig.colorbar(im, cax=fig.add_axes((0.98, 0.1, 0.05, 0.8)))  # reaches past the right edge
    found = "\n".join(style.figure_problems(fig, "bad"))
    for what in ("1000 px wide", "fractional x ticks", "outside the figure", "no visible frame", "nothing says so"):
        assert what in found, found
    assert "'magma' has no colour bar" in found  # first image: no colour bar of its own map
    signed = style.new_figure((4.0, 3.0))
    a = signed.add_subplot()
    a.imshow(np.array([[-1.0, 2.0]]), cmap="viridis")
    assert any("signed values" in p for p in style.figure_problems(signed))


def test_style_helpers():
    fig = style.column_figure(12.0, 6.0)
    assert fig.get_figwidth() == pytest.approx(8.0) and fig.get_figheight() == pytest.approx(4.0)
    ax = fig.add_subplot()
    img = np.full((3, 5), 2.0)
    cmap, norm = style.image_scale(img)
    assert cmap is style.seq_cmap and norm.vmin == 0.0
    im = ax.imshow(img, cmap=cmap, norm=norm)
    style.pixel_axes(ax, 3, 5)
    assert list(ax.get_xticks()) == [0, 1, 2, 3, 4] and list(ax.get_yticks()) == [0, 1, 2]
    style.colorbar(fig, im, ax, "value")
    note = style.note_if_constant(ax, img, "value")
    assert note.get_text() == "every value is 2.0"
    assert style.figure_problems(fig) == []
    assert style.note_if_constant(ax, np.arange(3.0), "value") is None
    assert not [t for t in ax.texts if t.get_gid() == style.CONSTANT_NOTE_GID]  # the old note went
    cmap, norm = style.image_scale(np.array([-0.5, 2.0]))
    assert cmap is style.signed_cmap and (norm.vmin, norm.vmax) == (-2.0, 2.0)
    wide = style.fit_column(style.new_figure((12.0, 3.0)))
    assert wide.get_figwidth() * wide.dpi == pytest.approx(800)
