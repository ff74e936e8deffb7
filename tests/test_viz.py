"""dltk.viz: every view shows the recorded numbers, updates in place, and fails clearly."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

import dltk
from dltk.errors import OptionError
from dltk.viz import (
    GateHeatmaps,
    LSTMCellDiagram,
    NetworkGraph,
    SignalsView,
    StateTrajectories,
    activation_curve,
    batchnorm_distributions,
    conv_filters,
    dropout_mask,
    gate_heatmaps,
    gradient_flow,
    lstm_cell,
    network_graph,
    pooling_switches,
    signals,
    softmax_breakdown,
    state_trajectories,
)
from dltk.viz import style as S

LSTM_SIGS = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state")


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a dltk.viz view registered a pyplot figure"


def _lstm_net(H: int = 5, mode: str = "last") -> dltk.network.Network:
    return dltk.Network(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(H, OutputMode=mode),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )


def _reference_lstm(layer, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Float64 reference with torch.nn.LSTMCell (weights copied): every signal, (B, T, H)."""
    H = layer.num_hidden_units
    cell = nn.LSTMCell(x.shape[-1], H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(layer.input_weights.double())
        cell.weight_hh.copy_(layer.recurrent_weights.double())
        cell.bias_ih.copy_(layer.bias.double())
        cell.bias_hh.zero_()
    h = torch.zeros(x.shape[0], H, dtype=torch.float64)
    c = torch.zeros_like(h)
    out = {k: [] for k in LSTM_SIGS}
    W, R, b = cell.weight_ih, cell.weight_hh, cell.bias_ih
    for t in range(x.shape[1]):
        z = x[:, t].double() @ W.T + h @ R.T + b
        gates = [
            torch.sigmoid(z[:, :H]),
            torch.sigmoid(z[:, H : 2 * H]),
            torch.tanh(z[:, 2 * H : 3 * H]),
            torch.sigmoid(z[:, 3 * H :]),
        ]
        h, c = cell(x[:, t].double(), (h, c))
        for k, v in zip(LSTM_SIGS, [*gates, c, h]):
            out[k].append(v.detach())
    return {k: torch.stack(v, 1) for k, v in out.items()}


# ------------------------------------------------------------------ LSTM cell
def test_lstm_cell_values_equal_recording_and_float64_reference():
    net = _lstm_net()
    X = torch.randn(3, 9, 3)
    rec = dltk.record(net, X)
    ref = _reference_lstm(net["lstm"], X)
    d = LSTMCellDiagram(rec, net["lstm"], t=7, observation=2, units=(0, 3), x=X)
    tol = {"rtol": 1e-5, "atol": 1e-6}  # float32 recording vs float64 reference
    for key, sig in (
        ("f", "forget_gate"),
        ("i", "input_gate"),
        ("g", "cell_candidate"),
        ("o", "output_gate"),
        ("c", "cell_state"),
        ("h", "hidden_state"),
    ):
        np.testing.assert_allclose(d.values[key], rec["lstm"][sig][2, 7, [0, 3]].double().numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(d.values[key], ref[sig][2, 7, [0, 3]].numpy(), **tol)
    np.testing.assert_allclose(d.values["c_prev"], ref["cell_state"][2, 6, [0, 3]].numpy(), **tol)
    np.testing.assert_allclose(d.values["h_prev"], ref["hidden_state"][2, 6, [0, 3]].numpy(), **tol)
    np.testing.assert_allclose(d.values["tanh_c"], np.tanh(d.values["c"]), rtol=1e-12)
    # the printed text is the recorded value, one line per unit
    assert d.value_texts["f"].get_text().split("\n") == [S.fmt(v) for v in d.values["f"]]
    assert "t = 7" in d.time_text.get_text() and "MATLAB 8 of 9" in d.time_text.get_text()
    assert "observation 2, units 0, 3" in d.title.get_text()
    assert d.values["x"].shape == (3,)
    np.testing.assert_allclose(d.values["x"], X[2, 7].numpy())


def test_lstm_cell_first_step_uses_initial_states():
    layer = dltk.lstmLayer(4, HiddenState=np.full(4, 0.5), CellState=np.full(4, -0.25))
    X = torch.randn(2, 5, 3)
    rec = dltk.record(layer, X)
    d = LSTMCellDiagram(rec, layer, t=0, units=(1, 2))
    np.testing.assert_allclose(d.values["h_prev"], [0.5, 0.5])
    np.testing.assert_allclose(d.values["c_prev"], [-0.25, -0.25])
    # by name only: MATLAB's default initial state, zeros
    d2 = LSTMCellDiagram(rec, layer.label, t=0)
    np.testing.assert_allclose(d2.values["h_prev"], [0.0])


def test_lstm_cell_updates_in_place_and_colours_follow_values():
    rec = dltk.record(_lstm_net(), torch.randn(2, 6, 3))
    fig = lstm_cell(rec, "lstm", t=1, units=(0, 1, 2))
    d = fig.dltk_view
    text = d.value_texts["o"]
    patches = d.value_patches["o"]
    d.update(t=4)
    assert d.value_texts["o"] is text and d.value_patches["o"] is patches  # same artists, new contents
    for patch, v in zip(patches, rec["lstm"]["output_gate"][0, 4, :3].tolist()):
        np.testing.assert_allclose(patch.get_facecolor(), S.activation_color(v))
    assert len(d.value_patches["f"]) == 3
    d.update(units=(4,))
    assert len(d.value_patches["f"]) == 1 and d.units == (4,)


def test_lstm_cell_bad_arguments_name_the_range():
    rec = dltk.record(_lstm_net(), torch.randn(2, 6, 3))
    with pytest.raises(OptionError, match=r"time step t 6 is out of range.*valid 0 … 5"):
        LSTMCellDiagram(rec, "lstm", t=6)
    with pytest.raises(OptionError, match="unit 9 is out of range"):
        LSTMCellDiagram(rec, "lstm", units=(9,))
    with pytest.raises(OptionError, match="no recorded signal 'input_gate'; recorded: hidden_state"):
        LSTMCellDiagram(dltk.record(_lstm_net(), torch.randn(2, 6, 3), signals=["hidden_state"]), "lstm")
    with pytest.raises(OptionError, match="no recorded layer has the LSTM signals"):
        LSTMCellDiagram(dltk.record(dltk.fullyConnectedLayer(2), torch.randn(2, 3)))


# ------------------------------------------------------------------- heatmaps
def test_gate_heatmaps_show_units_by_time_and_move_cursor():
    rec = dltk.record(_lstm_net(H=6, mode="sequence"), torch.randn(3, 8, 3))
    hm = GateHeatmaps(rec, "lstm", observation=1, t=2)
    assert hm.family == "LSTM" and len(hm.images) == 6
    for (_d, sig), im in hm.images.items():
        np.testing.assert_array_equal(im.get_array(), rec["lstm"][sig][1].double().numpy().T)
    hm.set_time(5)
    assert all(list(c.get_xdata()) == [5, 5] and c.get_visible() for c in hm.cursors.values())
    hm.set_observation(2)
    np.testing.assert_array_equal(
        hm.images[("", "forget_gate")].get_array(), rec["lstm"]["forget_gate"][2].double().numpy().T
    )
    with pytest.raises(OptionError, match="observation 3 is out of range"):
        hm.set_observation(3)
    hm.set_time(None)
    assert not any(c.get_visible() for c in hm.cursors.values())


def test_gate_heatmaps_gru_and_bilstm_directions():
    net = dltk.Network([dltk.sequenceInputLayer(3), dltk.bilstmLayer(4), dltk.gruLayer(3)])
    rec = dltk.record(net, torch.randn(2, 7, 3))
    bi = gate_heatmaps(rec, "bilstm").dltk_view
    assert bi.directions == ["forward", "backward"] and len(bi.images) == 12
    np.testing.assert_array_equal(
        bi.images[("backward", "cell_state")].get_array(), rec["bilstm"]["backward_cell_state"][0].double().numpy().T
    )
    gru = GateHeatmaps(rec, "gru")
    assert gru.family == "GRU"
    assert [k[1] for k in gru.images] == ["reset_gate", "update_gate", "candidate_state", "hidden_state"]
    with pytest.raises(OptionError, match="no recorded LSTM or GRU signals"):
        GateHeatmaps(rec, "sequenceinput")


def test_state_trajectories_plot_recorded_states():
    rec = dltk.record(_lstm_net(H=6, mode="sequence"), torch.randn(2, 8, 3))
    tr = state_trajectories(rec, "lstm", units=(0, 4), t=3).dltk_view
    assert isinstance(tr, StateTrajectories)
    np.testing.assert_array_equal(
        tr.lines[("", "cell_state")][1].get_ydata(), rec["lstm"]["cell_state"][0, :, 4].double().numpy()
    )
    tr.set_observation(1)
    np.testing.assert_array_equal(
        tr.lines[("", "hidden_state")][0].get_ydata(), rec["lstm"]["hidden_state"][1, :, 0].double().numpy()
    )
    np.testing.assert_allclose(
        tr.markers[("", "hidden_state")].get_offsets()[:, 1], rec["lstm"]["hidden_state"][1, 3, [0, 4]].double().numpy()
    )


# -------------------------------------------------------------- network graph
def test_network_graph_boxes_edges_and_sizes_in_both_notations():
    net = dltk.Network(
        [
            dltk.sequenceInputLayer(12),
            dltk.lstmLayer(100),
            dltk.lstmLayer(50, OutputMode="last"),
            dltk.fullyConnectedLayer(9),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )
    g = network_graph(net).dltk_view
    assert list(g.boxes) == net.layer_names
    assert set(g.edges) == set(net.connections)
    label = g.edge_labels[("lstm_1/out", "lstm_2/in")].get_text()
    assert "(B, T, 100)" in label and "100×B×T" in label
    assert "(B, 50)" in g.edge_labels[("lstm_2/out", "fc/in")].get_text()
    # layered layout: each layer below the one feeding it
    ys = [g.positions[n][1] for n in net.layer_names]
    assert ys == sorted(ys, reverse=True)
    assert g.labels["lstm_1"].get_text() == "lstm_1"


def test_network_graph_dag_ports_and_skip_connection():
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
    graph = dltk.connectLayers(graph, "relu1", "add/in2")
    g = NetworkGraph(dltk.Network(graph))
    assert {t.get_text() for t in g.port_labels} == {"in1", "in2"}
    skip = g.edges[("relu1/out", "add/in2")]
    xs = skip.get_path().vertices[:, 0]
    assert xs.max() > g.positions["relu1"][0] + 1.4  # routed to the right of the boxes in between
    assert "8×8×4×B SSCB" in g.edge_labels[("relu1/out", "add/in2")].get_text()


def test_network_graph_colours_by_statistics_and_marks_nonfinite():
    net = _lstm_net()
    X = torch.randn(4, 6, 3)
    with torch.no_grad():
        net["fc"].weight[0, 0] = float("nan")
    rec = dltk.record(net, X)
    g = NetworkGraph(net, rec, color_by="mean")
    assert g.stats["fc"]["nonfinite"] and not g.stats["lstm"]["nonfinite"]
    np.testing.assert_allclose(g.boxes["fc"].get_edgecolor()[:3], (0xE0 / 255, 0, 0))
    assert g.boxes["fc"].get_linewidth() == 3.0
    assert g.stats["lstm"]["mean"] == pytest.approx(float(rec["lstm"]["output"].double().mean()))
    sat = NetworkGraph(net, rec, color_by="saturation").stats["lstm"]["saturation"]
    fracs = [
        float(((rec["lstm"][s] < 0.02) | (rec["lstm"][s] > 0.98)).double().mean())
        for s in ("input_gate", "forget_gate", "output_gate")
    ]
    fracs.append(float((rec["lstm"]["cell_candidate"].abs() > 0.98).double().mean()))
    assert sat == pytest.approx(np.mean(fracs))
    with pytest.raises(OptionError, match="color_by='mean' needs a recording"):
        NetworkGraph(net, color_by="mean")
    with pytest.raises(OptionError, match="invalid color_by 'avg'"):
        NetworkGraph(net, rec, color_by="avg")


def test_network_graph_select_and_hit_test():
    net = _lstm_net()
    g = NetworkGraph(net)
    g.fig.canvas.draw()
    g.select("fc")
    assert g.selection.get_visible()
    assert g.selection.get_x() == pytest.approx(g.positions["fc"][0] - 1.5)
    x, y = g.ax.transData.transform(g.positions["lstm"])

    class Event:  # what matplotlib passes: display coordinates
        pass

    ev = Event()
    ev.x, ev.y, ev.inaxes, ev.canvas = x, y, g.ax, g.fig.canvas
    assert g.layer_at(ev) == "lstm"
    with pytest.raises(OptionError, match="no layer 'nope'"):
        g.select("nope")


# ------------------------------------------------------------------- families
def _cnn():
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


def test_signals_view_chooses_panels_by_layout():
    net, rec = _cnn()
    conv = SignalsView(rec, "conv", observation=1)
    assert conv.kinds["output"] == "image"
    img = conv.data["output"]
    np.testing.assert_array_equal(img[:8, :8], rec["conv"]["output"][1, 0].double().numpy())
    fc = SignalsView(rec, "fc", observation=2)
    assert fc.kinds["output"] == "bars"
    np.testing.assert_allclose([b.get_height() for b in fc.artists["output"]], rec["fc"]["output"][2].tolist())
    fc.set_observation(4)
    np.testing.assert_allclose([b.get_height() for b in fc.artists["output"]], rec["fc"]["output"][4].tolist())
    out = SignalsView(rec, "classoutput", observation=3)
    assert out.kinds["loss"] == "batch"
    assert out.artists["loss"][3].get_facecolor()[:3] == pytest.approx((0xD6 / 255, 0x27 / 255, 0x28 / 255))
    seq = dltk.record(_lstm_net(H=4, mode="sequence"), torch.randn(2, 5, 3))
    sv = signals(seq, "lstm", observation=1).dltk_view
    assert sv.kinds["output"] == "heat"
    np.testing.assert_array_equal(sv.data["output"], seq["lstm"]["output"][1].double().numpy().T)
    with pytest.raises(OptionError, match="no layer 'nope'"):
        SignalsView(rec, "nope")


@pytest.mark.parametrize(
    ("make", "ref"),
    [
        (lambda: dltk.clippedReluLayer(2.0), lambda x: np.clip(x, 0, 2)),
        (lambda: dltk.leakyReluLayer(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
        (lambda: dltk.eluLayer(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
        (lambda: dltk.tanhLayer(), np.tanh),
    ],
)
def test_activation_curve_is_the_layer_function(make, ref):
    fig = activation_curve(make())
    curve, deriv = fig.axes[0].get_lines()[:2]
    x = curve.get_xdata()
    np.testing.assert_allclose(curve.get_ydata(), ref(x), atol=1e-12)
    h = 1e-6
    fd = (ref(x + h) - ref(x - h)) / (2 * h)
    kink = np.zeros_like(x, dtype=bool)
    for k in (0.0, 2.0):
        kink |= np.abs(x - k) < 1e-3
    np.testing.assert_allclose(deriv.get_ydata()[~kink], fd[~kink], atol=1e-5)


def test_family_views_show_layer_data():
    net, rec = _cnn()
    w = net["conv"].weight.detach().double().numpy()
    filt = conv_filters(net["conv"], channel=1)
    img = filt.axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(img[:3, :3], w[0, 1])
    bn = batchnorm_distributions(rec, "batchnorm", channel=2, net=net)
    assert len(bn.axes) == 3 and "input x" in bn.axes[0].get_title()
    counts = sum(p.get_height() for p in bn.axes[1].patches)
    assert counts == rec["batchnorm"]["normalized"][:, 2].numel()
    pool = pooling_switches(rec, "maxpool", observation=1, channel=3, net=net)
    np.testing.assert_array_equal(
        pool.axes[1].get_images()[0].get_array(), rec["maxpool"]["switch_mask"][1, 3].double().numpy()
    )
    drop = dropout_mask(rec, "dropout")
    assert "kept" in drop.get_suptitle()
    sm = softmax_breakdown(rec, "softmax", "classoutput", observation=1)
    np.testing.assert_allclose(
        [b.get_height() for b in sm.axes[1].patches], rec["softmax"]["output"][1].tolist(), rtol=1e-6
    )
    np.testing.assert_allclose(
        [b.get_height() for b in sm.axes[2].patches], rec["classoutput"]["loss"].tolist(), rtol=1e-6
    )
    with pytest.raises(OptionError, match="channel 9 is out of range"):
        conv_filters(net["conv"], channel=9)


# -------------------------------------------------------------- gradient flow
def test_gradient_flow_matches_pytorch_lstmcell_reference():
    torch.set_default_dtype(torch.float64)
    try:
        layer = dltk.lstmLayer(4, OutputMode="sequence")
        X = torch.randn(3, 12, 2)
        layer(X)
        gf = gradient_flow(layer, X).dltk_view
        # reference: nn.LSTMCell in float64 with the same weights, L = ½‖y‖²
        cell = nn.LSTMCell(2, 4)
        with torch.no_grad():
            cell.weight_ih.copy_(layer.input_weights)
            cell.weight_hh.copy_(layer.recurrent_weights)
            cell.bias_ih.copy_(layer.bias)
            cell.bias_hh.zero_()
        h = torch.zeros(3, 4)
        c = torch.zeros(3, 4)
        hs, cs = [], []
        for t in range(12):
            h, c = cell(X[:, t], (h, c))
            hs.append(h)
            cs.append(c)
        loss = 0.5 * (torch.stack(hs, 1) ** 2).sum()
        grads = torch.autograd.grad(loss, cs + hs)
    finally:
        torch.set_default_dtype(torch.float32)
    np.testing.assert_allclose(gf.cell, [float(g.norm()) for g in grads[:12]], rtol=1e-9)
    np.testing.assert_allclose(gf.hidden, [float(g.norm()) for g in grads[12:]], rtol=1e-9)
    assert gf.loss == pytest.approx(float(loss.detach()))


def test_gradient_flow_through_a_network_with_targets():
    net = _lstm_net(H=6)
    X = torch.randn(4, 15, 3)
    Y = torch.tensor([0, 1, 1, 0])
    gf = gradient_flow(net, X, Y, observation=1).dltk_view
    with torch.no_grad():
        assert gf.loss == pytest.approx(float(net.loss(X, Y)), rel=1e-5)
    assert gf.cell.shape == (15,) and (gf.cell > 0).all()
    # 'last' output: the hidden state at T gets the gradient directly, earlier ones only through time
    assert gf.hidden[-1] > 0
    assert gf.lines["cell"].get_ydata().tolist() == gf.cell.tolist()
    with pytest.raises(OptionError, match="no \\(one-directional\\) LSTM layer named 'x'"):
        gradient_flow(net, X, Y, layer="x")


def test_signals_view_long_vectors_are_stems():
    net = dltk.Network([dltk.featureInputLayer(4), dltk.fullyConnectedLayer(50), dltk.fullyConnectedLayer(3)])
    rec = dltk.record(net, torch.randn(3, 4))
    sv = SignalsView(rec, "fc_1", observation=1)
    assert sv.kinds["output"] == "stems"
    tops = np.array([seg[1, 1] for seg in sv.artists["output"].get_segments()])
    np.testing.assert_allclose(tops, rec["fc_1"]["output"][1].double().numpy())
    sv.set_observation(2)
    tops = np.array([seg[1, 1] for seg in sv.artists["output"].get_segments()])
    np.testing.assert_allclose(tops, rec["fc_1"]["output"][2].double().numpy())
    lo, hi = sv.axes["output"].get_ylim()
    assert lo <= tops.min() and hi >= tops.max()
