"""Picture regressions for the LSTM cell diagram and the network graph.

Structural checks on the artists (robust across fonts) plus checks on the
rendered pixels: what the reader sees is where it should be, in the colour it
should have, and no two annotations overlap.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from matplotlib.patches import Circle, Ellipse
from matplotlib.path import Path

import dltk
from dltk.viz import LSTMCellDiagram, NetworkGraph
from dltk.viz import style as S


def _pixel(fig, x: float, y: float, ax) -> np.ndarray:
    """RGB (0…1) of the rendered figure at data point (x, y) of ax."""
    buf = np.asarray(fig.canvas.buffer_rgba())
    px, py = ax.transData.transform((x, y))
    return buf[int(round(buf.shape[0] - py)), int(round(px)), :3] / 255.0


def _extents(fig, texts):
    r = fig.canvas.get_renderer()
    return [t.get_window_extent(r) for t in texts if t.get_text()]


@pytest.fixture(scope="module")
def diagram():
    torch.manual_seed(1)
    net = dltk.Network([dltk.sequenceInputLayer(3), dltk.lstmLayer(6, OutputMode="last"), dltk.fullyConnectedLayer(2)])
    X = torch.randn(2, 9, 3)
    d = LSTMCellDiagram(dltk.record(net, X), "lstm", t=4, units=(0, 1, 2, 3), x=X)
    d.fig.canvas.draw()
    return d


def test_cell_diagram_structure(diagram):
    d = diagram
    xs = {k: b.get_x() for k, b in d.gate_boxes.items()}
    assert xs["f"] < xs["i"] < xs["g"] < xs["o"]
    assert len({b.get_y() for b in d.gate_boxes.values()}) == 1  # one row of gates
    assert [d.gate_labels[k].get_text() for k in "figo"] == ["σ f", "σ i", "tanh g", "σ o"]
    ops = sorted(t.get_text() for t in d.ax.texts if t.get_text() in ("⊙", "+"))
    assert ops == ["+", "⊙", "⊙", "⊙"]
    assert sum(isinstance(p, Circle) for p in d.ax.patches) == 4
    assert sum(type(p) is Ellipse for p in d.ax.patches) == 1  # tanh(c_t)
    labels = " ".join(t.get_text() for t in d.ax.texts)
    for word in (
        "$c_{t-1}$",
        "$h_{t-1}$",
        "$x_t$",
        "$c_t$",
        "$h_t$ (output)",
        "forget",
        "input",
        "candidate",
        "output",
    ):
        assert word in labels
    lo, hi = d.colorbar.mappable.get_clim()
    assert (lo, hi) == (-1.0, 1.0)
    # the cell-state highway runs above the hidden-state line, both leave on the right
    c_y = d.value_patches["c"][0].get_y()
    h_y = d.value_patches["h"][0].get_y()
    assert c_y > h_y and d.value_patches["c"][0].get_x() > xs["o"]


def test_cell_diagram_strips_render_in_their_value_colour(diagram):
    d = diagram
    for key in ("f", "i", "g", "o", "c", "h", "c_prev", "h_prev"):
        for patch, v in zip(d.value_patches[key], d.values[key]):
            cx = patch.get_x() + patch.get_width() / 2
            # sample low in the strip: above it may sit the gate symbol
            cy = patch.get_y() + patch.get_height() * 0.15
            np.testing.assert_allclose(_pixel(d.fig, cx, cy, d.ax), S.activation_color(float(v))[:3], atol=3 / 255)


def test_cell_diagram_annotations_do_not_overlap(diagram):
    d = diagram
    boxes = _extents(d.fig, [*d.value_texts.values(), *d.gate_labels.values()])
    assert len(boxes) == 14
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    fig_box = d.fig.bbox
    for b in boxes:
        assert fig_box.x0 <= b.x0 and b.x1 <= fig_box.x1 and fig_box.y0 <= b.y0 and b.y1 <= fig_box.y1
    # value texts stay clear of the gate boxes they annotate
    r = d.fig.canvas.get_renderer()
    gates = [g.get_window_extent(r) for g in d.gate_boxes.values()]
    for key in ("f", "i", "g", "o"):
        t = d.value_texts[key].get_window_extent(r)
        assert not any(t.overlaps(g) for g in gates), key


@pytest.fixture(scope="module")
def graph():
    g = dltk.layerGraph(
        [
            dltk.imageInputLayer([8, 8, 1]),
            dltk.convolution2dLayer(3, 4, Padding="same"),
            dltk.reluLayer(Name="relu1"),
            dltk.convolution2dLayer(3, 4, Padding="same"),
            dltk.additionLayer(2, Name="add"),
            dltk.fullyConnectedLayer(2),
        ]
    )
    net = dltk.Network(dltk.connectLayers(g, "relu1", "add/in2"))
    view = NetworkGraph(net)
    view.fig.canvas.draw()
    return view


def test_graph_boxes_hold_their_labels_and_render_their_colour(graph):
    r = graph.fig.canvas.get_renderer()
    for name, box in graph.boxes.items():
        bb = box.get_window_extent(r)
        lb = graph.labels[name].get_window_extent(r)
        assert bb.x0 < lb.x0 and lb.x1 < bb.x1 and bb.y0 < lb.y0 and lb.y1 < bb.y1, name
        x, y = graph.positions[name]
        np.testing.assert_allclose(_pixel(graph.fig, x - 1.25, y, graph.ax), box.get_facecolor()[:3], atol=3 / 255)
    face = graph.boxes["conv_1"].get_facecolor()[:3]
    assert face != graph.boxes["relu1"].get_facecolor()[:3]  # families are told apart


def test_graph_edges_join_boxes_and_labels_avoid_boxes(graph):
    r = graph.fig.canvas.get_renderer()
    boxes = [b.get_window_extent(r) for b in graph.boxes.values()]
    for t in graph.edge_labels.values():
        tb = t.get_window_extent(r)
        assert not any(tb.overlaps(b) for b in boxes), t.get_text()
    for (src, dst), arrow in graph.edges.items():
        s, d = src.split("/")[0], dst.split("/")[0]
        path = arrow.get_path()
        verts = path.vertices if path.codes is None else path.vertices[path.codes != Path.CLOSEPOLY]
        assert graph.positions[s][1] > graph.positions[d][1]  # data flows downwards
        assert verts[:, 1].max() <= graph.positions[s][1] + 0.5 and verts[:, 1].min() >= graph.positions[d][1] - 0.5
