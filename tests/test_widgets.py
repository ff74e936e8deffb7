"""dltk.widgets headless (ipywidgets 8 + comm need no kernel): controls drive the plotted data."""

from __future__ import annotations

import asyncio
import json

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import dltk
import dltk.data
from dltk.errors import OptionError
from dltk.widgets import DeepenLSTM, LSTMStepper, NetworkExplorer, TrainingMonitor, debounce
from dltk.widgets.base import DltkWidget, FigureView


@pytest.fixture(autouse=True)
def _no_figure_leak():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def _net(H: int = 6, mode: str = "last") -> dltk.network.Network:
    return dltk.Network(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(H, OutputMode=mode),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )


def _closed(w: W.Widget) -> bool:
    return w.comm is None


# ------------------------------------------------------------------ stepper
def test_stepper_time_slider_moves_diagram_and_cursors_to_recorded_values():
    net = _net()
    X = torch.randn(3, 10, 3)
    w = LSTMStepper(net, X, units=(1, 4), interactive=False)
    rec = dltk.record(net, X)
    png0, n0 = w.cell_view.widget.value, w.cell_view.png_updates
    w.time.value = 7
    assert not w.errors
    for key, sig in (
        ("f", "forget_gate"),
        ("i", "input_gate"),
        ("g", "cell_candidate"),
        ("o", "output_gate"),
        ("c", "cell_state"),
        ("h", "hidden_state"),
    ):
        np.testing.assert_allclose(
            w.diagram.values[key], rec["lstm"][sig][0, 7, [1, 4]].double().numpy(), rtol=1e-6, atol=1e-7
        )
    np.testing.assert_allclose(
        w.diagram.values["h_prev"], rec["lstm"]["hidden_state"][0, 6, [1, 4]].numpy(), rtol=1e-6, atol=1e-7
    )
    assert all(list(c.get_xdata()) == [7, 7] for c in w.heatmaps.cursors.values())
    assert w.cell_view.png_updates == n0 + 1 and w.cell_view.widget.value != png0
    np.testing.assert_allclose(w.diagram.values["x"], X[0, 7].numpy())  # the layer input, from the input layer
    w.observation.value = 2
    np.testing.assert_allclose(w.diagram.values["o"], rec["lstm"]["output_gate"][2, 7, [1, 4]].numpy(), rtol=1e-6)
    np.testing.assert_array_equal(
        w.heatmaps.images[("", "output_gate")].get_array(), rec["lstm"]["output_gate"][2].double().numpy().T
    )
    w.units.value = (0, 2, 5)
    assert w.diagram.units == (0, 2, 5) and len(w.diagram.value_patches["f"]) == 3
    assert set(w.cell_view.animated) == set(w.diagram.changing_artists())
    w.close()
    assert _closed(w.time) and _closed(w.box) and _closed(w.cell_view.widget)


def test_stepper_blitted_frame_equals_a_full_redraw():
    net = _net()
    w = LSTMStepper(net, torch.randn(2, 8, 3), interactive=False)
    w.time.value = 5
    blitted = np.asarray(w.cell_view.fig.canvas.buffer_rgba()).copy()
    w.cell_view.refresh(full=True)
    full = np.asarray(w.cell_view.fig.canvas.buffer_rgba())
    assert np.array_equal(blitted, full)
    w.close()


def test_stepper_play_is_linked_and_errors_show_in_the_widget():
    w = LSTMStepper(_net(), torch.randn(2, 8, 3), interactive=False)
    assert isinstance(w._link, W.widget_link.Link)
    assert w._link.source == (w.play, "value") and w._link.target == (w.time, "value")
    assert w.play.max == w.time.max == 7
    w.diagram.T = 3  # break the view: the next step must raise inside the callback
    w.time.value = 6
    assert isinstance(w.errors[-1], OptionError)
    assert "time step t 6 is out of range" in w.error_area.value
    w.diagram.T = 8
    w.time.value = 2
    assert w.error_area.value == ""  # a good step clears the error
    w.close()


def test_stepper_accepts_a_recording_and_a_single_layer():
    layer = dltk.lstmLayer(4)
    X = torch.randn(2, 6, 3)
    rec = dltk.record(layer, X)
    w = LSTMStepper(rec, interactive=False)
    assert w.layer == "lstm" and w.diagram.x is None
    w.close()
    w2 = LSTMStepper(layer, X, interactive=False)
    np.testing.assert_allclose(w2.diagram.values["x"], X[0, 0].numpy())
    w2.close()


def test_stepper_with_ipympl_canvas():
    pytest.importorskip("ipympl")
    from ipympl.backend_nbagg import Canvas

    w = LSTMStepper(_net(), torch.randn(2, 8, 3), interactive=True)
    assert isinstance(w.cell_view.widget, Canvas) and w.cell_view.widget in w.box.children
    w.time.value = 4
    assert not w.errors and w.diagram.t == 4
    w.close()
    assert _closed(w.cell_view.widget)


# ----------------------------------------------------------------- explorer
def test_explorer_layer_switch_shows_that_layers_signals():
    net = dltk.Network(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(5),
            dltk.lstmLayer(4, OutputMode="last"),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )
    X = torch.randn(3, 7, 3)
    w = NetworkExplorer(net, X, interactive=False)
    rec = w.rec
    assert list(w.layer.options) == net.layer_names
    w.layer.value = "lstm_2"
    assert w.signals_view.layer == "lstm_2" and w.graph.selected == "lstm_2"
    np.testing.assert_array_equal(w.signals_view.data["output"], rec["lstm_2"]["output"][0].double().numpy())
    shown = [c for c in w.signals_box.children if c.layout.display != "none"]
    assert shown == [w.signals_fig_view.widget]  # cached views stay children, hidden
    w.observation.value = 2
    np.testing.assert_array_equal(w.signals_view.data["output"], rec["lstm_2"]["output"][2].double().numpy())
    w.layer.value = "fc"
    w.layer.value = "lstm_2"  # back to a cached view: still the chosen observation
    assert w.signals_view.observation == 2
    assert not w.errors
    w.close()


def test_explorer_click_on_a_box_selects_the_layer():
    from matplotlib.backend_bases import MouseEvent

    net = _net()
    w = NetworkExplorer(net, torch.randn(2, 5, 3), interactive=False)
    g = w.graph
    x, y = g.ax.transData.transform(g.positions["fc"])
    g.fig.canvas.callbacks.process("button_press_event", MouseEvent("button_press_event", g.fig.canvas, x, y, 1))
    assert w.layer.value == "fc" and w.signals_view.layer == "fc"
    w.close()


def test_explorer_cache_is_bounded():
    net = _net()
    w = NetworkExplorer(net, torch.randn(2, 5, 3), cache=2, interactive=False)
    for name in net.layer_names:
        w.layer.value = name
    assert len(w._cache) == 2 and len(w.views) == 3  # graph + two cached layer views
    assert list(w.signals_box.children) == [fv.widget for _, fv in w._cache.values()]
    w.close()


# ------------------------------------------------------------------- deepen
def test_deepen_lstm_three_clicks_make_four_stacked_lstms():
    X, Y = dltk.data.long_memory(24, T=8)
    w = DeepenLSTM(X, Y, hidden=4, dropout=0.2, max_epochs=1, interactive=False)
    assert w.depth == 1 and w.remove_button.disabled
    for _ in range(3):
        w.add_button.click()
    assert not w.errors, w.error_area.value
    lstms = [lay for lay in w.net.layers if lay.type_name == "LSTM"]
    assert len(lstms) == 4
    assert [lay.OutputMode for lay in lstms] == ["sequence", "sequence", "sequence", "last"]
    assert w.analysis.ok and not w.analysis.issues
    # dropout after every LSTM, then the classifier head (MATLAB's stacked classifier)
    types = [lay.type_name for lay in w.net.layers]
    assert types.count("Dropout") == 4 and types[-3:] == ["Fully Connected", "Softmax", "Classification Output"]
    assert set(w.infos) == {1, 2, 3, 4} and set(w.curve_lines) == {1, 2, 3, 4}
    np.testing.assert_allclose(w.curve_lines[4].get_ydata(), w.infos[4].TrainingLoss)
    assert list(w.hidden_images) == [lay.name for lay in lstms]
    assert "4 LSTM layers" in w.layers_html.value and "lstm_4" in w.layers_html.value
    w.remove_button.click()
    assert w.depth == 3 and [lay.OutputMode for lay in w.net.layers if lay.type_name == "LSTM"][-1] == "last"
    assert not w.busy and not w.add_button.disabled
    w.close()


def test_deepen_lstm_sequence_to_sequence_without_training_and_errors():
    X, Y = dltk.data.sequence_labelling(6, length=(10, 14))
    w = DeepenLSTM(X, Y, task="sequence-to-sequence", hidden=3, dropout=0, train=False, interactive=False)
    w.add_button.click()
    assert [lay.OutputMode for lay in w.net.layers if lay.type_name == "LSTM"] == ["sequence", "sequence"]
    assert w.analysis.ok
    w.remove_button.click()
    w.remove_button.disabled = False
    w.remove_button.click()  # one LSTM left: refused, shown in the widget, state unchanged
    assert w.depth == 1 and "single LSTM layer" in w.error_area.value
    w.close()
    with pytest.raises(OptionError, match="invalid task 'seq2seq'"):
        DeepenLSTM(X, Y, task="seq2seq")


# ------------------------------------------------------------------ monitor
def test_training_monitor_follows_the_training_state():
    m = TrainingMonitor(True, total_iterations=10, iterations_per_epoch=5, max_epochs=2, interactive=False)
    it = np.arange(1, 7)
    state = {
        "iteration": it,
        "loss": np.linspace(1, 0.5, 6),
        "metric": np.linspace(0.2, 0.8, 6),
        "val_loss": np.full(6, np.nan),
        "val_metric": np.full(6, np.nan),
        "epoch": 2,
        "elapsed": "00:00:01",
        "lr": 0.001,
    }
    assert m.update(state, force=True)
    raw, smooth, _val = m.plot.lines["loss"]
    np.testing.assert_allclose(raw.get_ydata(), state["loss"])
    assert m.progress.value == 6 and "training" in m.status.value
    m.finish({**state, "reason": "Max epochs completed"})
    assert m.finished and "Max epochs completed" in m.status.value
    m.close()


def test_training_monitor_from_a_training_run():
    X, Y = dltk.data.long_memory(20, T=6)
    layers = [
        dltk.sequenceInputLayer(2),
        dltk.lstmLayer(3, OutputMode="last"),
        dltk.fullyConnectedLayer(2),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    _net_, info = dltk.trainNetwork(
        X, Y, layers, dltk.trainingOptions("adam", MaxEpochs=2, MiniBatchSize=10, Verbose=False)
    )
    m = TrainingMonitor.from_info(info, interactive=False)
    np.testing.assert_allclose(m.plot.lines["loss"][0].get_ydata(), info.TrainingLoss)
    assert m.iterations == info.NumIterations == 4 and m.view.widget.value
    m.close()


# --------------------------------------------------------------------- base
def test_debounce_is_immediate_without_a_loop_and_coalesces_with_one():
    calls = []
    f = debounce(0.05)(calls.append)
    f(1)
    f(2)
    assert calls == [1, 2]  # immediate mode (no running event loop: tests, plain Python)

    async def burst() -> None:
        for k in range(5):
            f(10 + k)
        await asyncio.sleep(0.15)

    asyncio.run(burst())
    assert calls == [1, 2, 14]  # one call, with the last arguments


def test_guard_busy_state_and_close():
    w = DltkWidget(interactive=False)
    button = w._w(W.Button())

    def boom() -> None:
        with w.working("working…", [button]):
            assert button.disabled and w.busy and "working" in w.status.value
            raise ValueError("bad value")

    w._guard(boom)()
    assert "bad value" in w.error_area.value and isinstance(w.errors[-1], ValueError)
    assert not button.disabled and not w.busy and w.status.value == ""
    from dltk.viz.style import new_figure

    fig = new_figure((2, 2))
    view = w._view(fig, [fig.text(0.5, 0.5, "x")])
    assert view.png_updates == 1 and view.widget.value[:8] == b"\x89PNG\r\n\x1a\n"
    w.close()
    assert _closed(button) and _closed(view.widget) and isinstance(view, FigureView)


def test_png_bytes_decode_to_the_canvas_pixels():
    import io

    from PIL import Image

    from dltk.viz import lstm_cell
    from dltk.widgets.base import png_bytes

    fig = lstm_cell(dltk.record(_net(), torch.randn(2, 5, 3)), "lstm", t=2)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(rgb))).convert("RGB"))
    assert np.array_equal(decoded, rgb)


# ------------------------------------------------------------------ readouts (what the browser tests read as text)
def _cells(readout_html: str, attr: str) -> list[tuple[str, str]]:
    import re

    return re.findall(rf"<td {attr}='([^']+)'>([^<]*)</td>", readout_html)


def test_stepper_readout_shows_recorded_values_at_the_chosen_step():
    net = _net()
    X = torch.randn(3, 10, 3)
    w = LSTMStepper(net, X, units=(1, 4), interactive=False)
    rec = dltk.record(net, X)
    assert "data-t='0'" in w.readout.value and "dltk-readout" in w.readout._dom_classes
    w.time.value = 3
    w.observation.value = 2
    v = w.readout.value
    assert "data-t='3'" in v and "data-observation='2'" in v and "time step t = 3" in v
    cells = _cells(v, "data-signal")
    assert len(cells) == 2 * 6
    for k, (sig, text) in enumerate(cells):
        unit = (1, 4)[k // 6]
        assert text == f"{float(rec['lstm'][sig][2, 3, unit]):.4f}", (sig, unit)
    w.units.value = (0,)
    assert len(_cells(w.readout.value, "data-signal")) == 6
    w.close()


def test_explorer_readout_follows_the_chosen_layer_and_observation():
    net = _net()
    X = torch.randn(3, 7, 3)
    w = NetworkExplorer(net, X, interactive=False)
    w.layer.value = "fc"
    w.observation.value = 1
    v = w.readout.value
    assert "data-layer='fc'" in v and "data-observation='1'" in v
    out = w.rec["fc"]["output"][1].double().numpy()
    stats = dict(_cells(v.split("data-signal='output'")[1].split("</tr>")[0], "data-stat"))
    assert stats == {"mean": f"{out.mean():.4f}", "min": f"{out.min():.4f}", "max": f"{out.max():.4f}"}
    import re

    assert re.findall(r"<tr data-signal='([^']+)'>", v) == list(w.signals_view.names)
    w.close()


def test_ipympl_view_sends_no_frame_before_the_browser_view_and_one_full_frame_per_refresh():
    pytest.importorskip("ipympl")
    from dltk.viz.style import new_figure
    from dltk.widgets import FigureView

    fig = new_figure((3, 2))
    (line,) = fig.add_subplot().plot([1, 2])
    view = FigureView(fig, interactive=True)
    canvas, sent = view.widget, []
    canvas.send = lambda content, buffers=None: sent.append((json.loads(content["data"])["type"], buffers))
    line.set_ydata([2, 1])
    view.refresh(full=True)
    assert "binary" not in [t for t, _ in sent]  # no view yet: a frame now would leave it blank
    for msg in ("refresh", "send_image_mode", "initialized", "draw"):  # what the browser view sends
        canvas._handle_message(canvas, {"type": msg}, [])
    assert [t for t, _ in sent].count("binary") == 1
    sent.clear()
    line.set_ydata([1, 1])
    view.refresh(full=True)
    assert [t for t, _ in sent if t == "binary"] == ["binary"]  # exactly one frame ...
    assert canvas._image_mode == "full"  # ... and a full one (a dropped diff frame would corrupt the next)
    view.close()
