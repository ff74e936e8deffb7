"""analyzeNetwork: per-layer table, learnables, and every kind of issue it must find."""

from __future__ import annotations

import math

import pytest
import torch

import dltk
from dltk.network import LayerGraph

RULE = "For sequence-to-label classification the last LSTM layer must use OutputMode 'last'"


def _stacked(last_mode: str, hidden: int = 100) -> list:
    return [
        dltk.sequenceInputLayer(12),
        dltk.lstmLayer(hidden),
        dltk.dropoutLayer(0.2),
        dltk.lstmLayer(hidden),
        dltk.lstmLayer(hidden, "OutputMode", last_mode),
        dltk.fullyConnectedLayer(9),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]


def _messages(a: dltk.NetworkAnalysis, severity: str | None = None) -> str:
    return "\n".join(i.message for i in a.issues if severity in (None, i.severity))


def test_stacked_lstm_acceptance_table_and_no_issue() -> None:
    layers = _stacked("last")
    a = dltk.analyzeNetwork(layers)
    assert a.issues == [] and a.ok
    rows = {r.name: r for r in a.layers}
    assert rows["lstm_1"].learnables == {"InputWeights": "400×12", "RecurrentWeights": "400×100", "Bias": "400×1"}
    assert rows["lstm_1"].num_learnables == 4 * 100 * (12 + 100 + 1)
    assert (rows["lstm_2"].activation, rows["lstm_2"].activation_matlab) == ("(B, T, 100) BTC", "100(C)×B(B)×T(T)")
    assert (rows["lstm_3"].activation, rows["lstm_3"].activation_matlab) == ("(B, 100) BC", "100(C)×B(B)")
    assert rows["fc"].learnables == {"Weights": "9×100", "Bias": "9×1"}
    assert a.total_learnables == 45_200 + 2 * 80_400 + 909 == a.TotalLearnables
    text = str(a)
    assert "No issues found." in text and "InputWeights 400×12" in text and "100(C)×B(B)×T(T)" in text
    assert "<table" in a._repr_html_()
    # the analysis worked on copies: the user's layers are untouched
    assert layers[1].name == "" and layers[5].weight is None


def test_flipping_the_last_lstm_to_sequence_reports_the_rule() -> None:
    layers = _stacked("sequence", hidden=8)
    a = dltk.analyzeNetwork(layers)
    assert [i.severity for i in a.issues] == ["warning"]
    assert RULE in a.issues[0].message and "lstm_3" in a.issues[0].layers
    strict = dltk.analyzeNetwork(layers, task="sequence-to-label")
    assert [i.severity for i in strict.issues] == ["error"] and RULE in strict.issues[0].message
    assert dltk.analyzeNetwork(layers, task="sequence-to-sequence").issues == []
    assert dltk.analyzeNetwork(layers, Y=torch.zeros(4, 7, dtype=torch.long)).issues == []  # a label per step
    assert dltk.analyzeNetwork(layers, Y=torch.zeros(4, dtype=torch.long)).errors  # one label per sequence
    seq2label = dltk.analyzeNetwork(_stacked("last", hidden=8), task="sequence-to-sequence")
    assert "must use OutputMode 'sequence'" in _messages(seq2label, "error")


def test_recurrent_layer_fed_by_a_last_mode_layer() -> None:
    a = dltk.analyzeNetwork(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(4, OutputMode="last"),
            dltk.dropoutLayer(),
            dltk.lstmLayer(4, OutputMode="last"),
            dltk.fullyConnectedLayer(2),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )
    issue = next(i for i in a.errors if "no sequence to read" in i.message)
    assert set(issue.layers) == {"lstm_1", "lstm_2"} and "OutputMode is 'last'" in issue.message


def test_output_layer_rules() -> None:
    a = dltk.analyzeNetwork([dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2), dltk.classificationLayer()])
    assert "must be preceded by a softmax layer" in _messages(a, "error")
    assert math.isnan(a.TotalLearnables) and a.total_learnables == 8
    b = dltk.analyzeNetwork(
        [dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2), dltk.softmaxLayer(), dltk.regressionLayer()]
    )
    assert "preceded by softmax layer 'softmax'" in _messages(b, "error")
    c = dltk.analyzeNetwork([dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2)])
    assert c.ok and "no output layer" in _messages(c, "warning")
    d = dltk.analyzeNetwork(
        [dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2), dltk.regressionLayer(), dltk.regressionLayer()]
    )
    assert "2 output layers" in _messages(d, "error") and "must be last in the layer array" in _messages(d)


def test_input_layer_rules() -> None:
    a = dltk.analyzeNetwork([dltk.fullyConnectedLayer(2), dltk.softmaxLayer(), dltk.classificationLayer()])
    assert "no input layer" in _messages(a, "error")
    b = dltk.analyzeNetwork([dltk.featureInputLayer(3), dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2)])
    assert "An input layer must be first in the layer array" in _messages(b, "error")


def test_size_mismatch_names_both_layers_and_sizes() -> None:
    layers = [
        dltk.imageInputLayer([12, 12, 1]),
        dltk.convolution2dLayer(3, 4),
        dltk.reluLayer(),
        dltk.convolution2dLayer(3, 4),
        dltk.reluLayer(),
        dltk.additionLayer(2, Name="add"),
        dltk.fullyConnectedLayer(2),
    ]
    g = dltk.connectLayers(dltk.layerGraph(layers), "relu_1", "add/in2")
    a = dltk.analyzeNetwork(g)
    issue = next(i for i in a.errors if i.layers[0] == "add")
    assert set(issue.layers) == {"add", "relu_1", "relu_2"}
    assert "(B, 4, 8, 8) BCHW" in issue.message and "(B, 4, 10, 10) BCHW" in issue.message
    assert "10(S)×10(S)×4(C)×B(B)" in issue.message
    assert next(r for r in a.layers if r.name == "fc").activation == ""  # not reached


def test_graph_structure_issues() -> None:
    inp, relu, add = dltk.featureInputLayer(3, Name="in"), dltk.reluLayer(Name="r"), dltk.additionLayer(2, Name="add")
    g = dltk.layerGraph([inp, relu, add])
    a = dltk.analyzeNetwork(g)
    assert "Input 'add/in2' is not connected" in _messages(a, "error")
    cyc = dltk.connectLayers(g, "add", "add/in2")
    assert "cycle" in _messages(dltk.analyzeNetwork(cyc), "error")
    bogus = LayerGraph(g.layers, g.connections + [("r/nope", "add/in2")])
    assert "uses output port 'nope'" in _messages(dltk.analyzeNetwork(bogus), "error")
    unused = dltk.layerGraph(
        [dltk.featureInputLayer(3, Name="i"), TwoWayForAnalysis(name="two"), dltk.regressionLayer(Name="reg")]
    )
    assert "Output 'two/aux' is not used" in _messages(dltk.analyzeNetwork(unused), "error")
    twice = LayerGraph([dltk.featureInputLayer(3, Name="i"), dltk.reluLayer(Name="i")], [("i/out", "i/in")])
    assert "'i' is used more than once" in _messages(dltk.analyzeNetwork(twice), "error")
    dup = dltk.analyzeNetwork([dltk.featureInputLayer(3), dltk.reluLayer(Name="x"), dltk.reluLayer(Name="x")])
    assert dup.ok and "used more than once" in _messages(dup, "warning")


class TwoWayForAnalysis(dltk.layers.Layer):
    type_name = "Two way"
    name_prefix = "twoway"

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("out", "aux")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, -x


def test_nonfinite_data_is_located() -> None:
    layers = [dltk.sequenceInputLayer(2), dltk.lstmLayer(3), dltk.fullyConnectedLayer(2)]
    X = torch.randn(2, 6, 2)
    X[1, 3, 0] = float("nan")
    a = dltk.analyzeNetwork(layers, X, task="sequence-to-sequence")
    assert a.nonfinite is not None and a.nonfinite.layer == "sequenceinput"
    assert (a.nonfinite.time_step, a.nonfinite.observation) == (3, 1)
    assert "NaN or Inf first appears" in _messages(a, "warning") and "time step 4" in str(a)
    assert dltk.analyzeNetwork(layers, torch.randn(2, 6, 2)).nonfinite is None


def test_never_raises_on_broken_input() -> None:
    for thing in ([], [1, "x"], [dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2, InputSize=5)], 42):
        a = dltk.analyzeNetwork(thing)
        assert a.errors, thing
        assert str(a)
    with pytest.raises(dltk.OptionError, match="task"):
        dltk.analyzeNetwork([], task="seq2label")


def test_analyze_an_assembled_network() -> None:
    net = dltk.Network([dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2)])
    a = dltk.analyzeNetwork(net, torch.randn(4, 3))
    assert a.ok and a.nonfinite is None and [r.name for r in a.layers] == ["input", "fc"]
    assert a.layers[1].activation == "(B, 2) BC"
