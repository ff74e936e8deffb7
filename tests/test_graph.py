"""LayerGraph and MATLAB's graph functions; automatic names."""

from __future__ import annotations

import pytest
import torch

import dltk
from dltk.errors import NetworkError


def _chain() -> list:
    return [dltk.featureInputLayer(4), dltk.fullyConnectedLayer(3), dltk.reluLayer(), dltk.fullyConnectedLayer(2)]


def test_auto_names_unique_type_bare_repeated_numbered() -> None:
    g = dltk.layerGraph(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(4),
            dltk.lstmLayer(4, OutputMode="last"),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )
    assert g.layer_names == ["sequenceinput", "lstm_1", "lstm_2", "fc", "softmax", "classoutput"]


def test_auto_names_skip_names_the_user_gave() -> None:
    layers = [
        dltk.featureInputLayer(4),
        dltk.fullyConnectedLayer(3, Name="fc_1"),
        dltk.fullyConnectedLayer(3),
        dltk.fullyConnectedLayer(3),
        dltk.reluLayer(Name="relu"),
        dltk.reluLayer(),
    ]
    g = dltk.layerGraph(layers)
    assert g.layer_names == ["input", "fc_1", "fc_2", "fc_3", "relu", "relu_1"]


def test_auto_names_are_redone_when_a_layer_is_reused() -> None:
    fc = dltk.fullyConnectedLayer(3)
    dltk.layerGraph([dltk.featureInputLayer(4), fc])
    assert fc.name == "fc"
    g = dltk.layerGraph([dltk.featureInputLayer(4), fc, dltk.fullyConnectedLayer(2)])
    assert g.layer_names[1:] == ["fc_1", "fc_2"]
    fc.Name = "mine"  # a name the user chose is kept
    assert dltk.layerGraph([dltk.featureInputLayer(4), fc]).layer_names == ["input", "mine"]


def test_layer_graph_connects_in_order_and_functions_do_not_mutate() -> None:
    g = dltk.layerGraph(_chain())
    assert g.connections == [("input/out", "fc_1/in"), ("fc_1/out", "relu/in"), ("relu/out", "fc_2/in")]
    g2 = dltk.disconnectLayers(g, "relu", "fc_2")
    assert len(g.connections) == 3 and len(g2.connections) == 2
    g3 = dltk.connectLayers(g2, "fc_1", "fc_2")
    assert ("fc_1/out", "fc_2/in") in g3.connections and g2.connections == g.connections[:2]
    g4 = dltk.removeLayers(g3, "relu")
    assert g4.layer_names == ["input", "fc_1", "fc_2"] and "relu" in g3.layer_names
    assert all("relu" not in s and "relu" not in d for s, d in g4.connections)


def test_add_layers_connects_the_added_array_and_checks_names() -> None:
    g = dltk.layerGraph([dltk.featureInputLayer(4, Name="in"), dltk.fullyConnectedLayer(2, Name="fc")])
    g = dltk.addLayers(g, [dltk.reluLayer(), dltk.additionLayer(2, Name="add")])
    assert ("relu/out", "add/in1") in g.connections and len(g.connections) == 2
    with pytest.raises(NetworkError, match="'fc' is used twice"):
        dltk.addLayers(g, dltk.fullyConnectedLayer(3, Name="fc"))
    relu = g["relu"]
    with pytest.raises(NetworkError, match="added twice"):
        dltk.addLayers(g, relu)


def test_ports_errors_list_existing_ports() -> None:
    g = dltk.layerGraph(
        [dltk.featureInputLayer(4, Name="in"), dltk.reluLayer(Name="r"), dltk.additionLayer(2, Name="add")]
    )
    with pytest.raises(NetworkError, match=r"no input port 'in3'; its inputs: 'add/in1', 'add/in2'"):
        dltk.connectLayers(g, "r", "add/in3")
    with pytest.raises(NetworkError, match=r"has 2 inputs \('add/in1', 'add/in2'\)"):
        dltk.connectLayers(g, "r", "add")
    with pytest.raises(NetworkError, match=r"no layer named 'nope'; the graph has: 'in', 'r', 'add'"):
        dltk.connectLayers(g, "nope", "add/in2")
    with pytest.raises(NetworkError, match="already connected to 'r/out'"):
        dltk.connectLayers(g, "in", "add/in1")
    with pytest.raises(NetworkError, match="is not connected to"):
        dltk.disconnectLayers(g, "in", "add/in2")
    with pytest.raises(NetworkError, match="no layer named 'x'"):
        dltk.removeLayers(g, ["r", "x"])


def test_replace_layer_keeps_connections() -> None:
    g = dltk.layerGraph(_chain())
    g2 = dltk.replaceLayer(g, "relu", [dltk.fullyConnectedLayer(3, Name="mid"), dltk.tanhLayer(Name="t")])
    assert g2.layer_names == ["input", "fc_1", "fc_2", "mid", "t"]
    assert set(g2.connections) == {
        ("input/out", "fc_1/in"),
        ("fc_1/out", "mid/in"),
        ("mid/out", "t/in"),
        ("t/out", "fc_2/in"),
    }
    net = dltk.Network(g2)
    assert net.layer_names == ["input", "fc_1", "mid", "t", "fc_2"]  # topological order
    assert net(torch.randn(2, 4)).shape == (2, 2)


def test_display() -> None:
    text = repr(dltk.layerGraph(_chain()))
    assert "4×1 Layer array with layers:" in text and "'fc_1'" in text and "relu/out -> fc_2/in" in text
    assert "<table" in dltk.layerGraph(_chain())._repr_html_()
