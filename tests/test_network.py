"""Network: assembly, execution (lengths, ports, several inputs/outputs), loss, export, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltk
from dltk.errors import LayerInputError, NetworkError
from dltk.layers import Layer

GATES = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state")


def _stacked(mode: str = "last", hidden: int = 100) -> list:
    return [
        dltk.sequenceInputLayer(12),
        dltk.lstmLayer(hidden),
        dltk.dropoutLayer(0.2),
        dltk.lstmLayer(hidden),
        dltk.lstmLayer(hidden, "OutputMode", mode),
        dltk.fullyConnectedLayer(9),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]


def _residual() -> dltk.LayerGraph:
    layers = [
        dltk.imageInputLayer([28, 28, 1]),
        dltk.convolution2dLayer(5, 20),
        dltk.reluLayer(),
        dltk.convolution2dLayer(3, 20, "Padding", 1),
        dltk.reluLayer(),
        dltk.convolution2dLayer(3, 20, "Padding", 1),
        dltk.reluLayer(),
        dltk.additionLayer(2, "Name", "add"),
        dltk.fullyConnectedLayer(10),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    return dltk.connectLayers(dltk.layerGraph(layers), "relu_1", "add/in2")


class TwoWay(Layer):
    """Test layer with two outputs: ``out`` = 2x, ``aux`` = -x."""

    type_name = "Two way"
    name_prefix = "twoway"

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("out", "aux")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_input(x, "BC")
        return 2 * x, -x


class Broken(Layer):
    """Test layer whose forward fails inside torch."""

    type_name = "Broken"
    name_prefix = "broken"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ torch.ones(x.shape[-1] + 1, 2)


def test_stacked_lstm_builds_from_matlab_calls_and_records_every_gate() -> None:
    net = dltk.Network(_stacked())
    assert net.layer_names == ["sequenceinput", "lstm_1", "dropout", "lstm_2", "lstm_3", "fc", "softmax", "classoutput"]
    assert net.task == "classification" and net.output_layer is net["classoutput"]
    assert net.activation_layouts["lstm_2"] == "BTC" and net.activation_layouts["lstm_3"] == "BC"
    net.eval()
    X = torch.randn(3, 7, 12)
    rec = dltk.record(net, X)
    for lstm in ("lstm_1", "lstm_2", "lstm_3"):
        for gate in GATES:
            assert tuple(rec[lstm][gate].shape) == (3, 7, 100), (lstm, gate)
    torch.testing.assert_close(rec.output, net(X))
    assert net(X).shape == (3, 9)


def test_record_accepts_layer_arrays_with_and_without_output_layer() -> None:
    X = torch.randn(2, 5, 12)
    with_out = dltk.record(_stacked(hidden=8), X)
    without = dltk.record(_stacked(hidden=8)[:-1], X)
    assert "classoutput" in with_out.layers and "softmax" in without.layers
    assert without.output.shape == (2, 9)


def test_residual_graph_runs_and_exports_to_plain_torch() -> None:
    net = dltk.Network(_residual())
    assert not net.is_series and net.connections[-1] == ("relu_1/out", "add/in2")
    X = torch.rand(4, 1, 28, 28)
    y = net(X)
    assert y.shape == (4, 10)
    torch.testing.assert_close(y.sum(1), torch.ones(4))
    m = net.to_torch()
    assert isinstance(m, torch.fx.GraphModule) and "self.add(relu_3, relu_1)" in m.code
    torch.testing.assert_close(m(X), y, atol=1e-6, rtol=1e-6)
    loss = net.loss(X, torch.tensor([0, 3, 9, 1]))
    torch.testing.assert_close(loss, -torch.log(y[torch.arange(4), torch.tensor([0, 3, 9, 1])]).mean())


def test_to_torch_sequence_network_with_lengths_and_normalization() -> None:
    layers = [
        dltk.sequenceInputLayer(3, Normalization="zscore", Mean=[1, 2, 3], StandardDeviation=[2, 2, 4]),
        dltk.lstmLayer(5, OutputMode="last"),
        dltk.fullyConnectedLayer(2),
    ]
    net = dltk.Network(layers).double().eval()
    X, lengths = torch.randn(3, 6, 3, dtype=torch.float64), torch.tensor([6, 2, 4])
    m = net.to_torch()
    torch.testing.assert_close(m(X, lengths=lengths), net(X, lengths=lengths))
    assert not any(isinstance(mod, dltk.layers.SequenceInput) for mod in m.modules())
    # the export is a separate module: editing it leaves the network alone
    with torch.no_grad():
        next(m.parameters()).add_(1.0)
    assert not torch.allclose(m(X, lengths=lengths), net(X, lengths=lengths))


def test_variable_length_list_equals_running_each_sequence_alone() -> None:
    net = (
        dltk.Network([dltk.sequenceInputLayer(4), dltk.lstmLayer(6, OutputMode="last"), dltk.fullyConnectedLayer(2)])
        .double()
        .eval()
    )
    seqs = [np.random.randn(t, 4) for t in (5, 2, 7)]  # numpy float64, (T_i, C)
    batched = net(seqs)
    alone = torch.cat([net(torch.as_tensor(s)[None]) for s in seqs])
    torch.testing.assert_close(batched, alone)


def test_multi_input_dict_and_multi_output_ports() -> None:
    g = dltk.layerGraph([dltk.featureInputLayer(3, Name="a"), TwoWay(name="two"), dltk.additionLayer(2, Name="add")])
    g = dltk.addLayers(g, dltk.featureInputLayer(3, Name="b"))
    g = dltk.connectLayers(g, "b", "add/in2")
    g = dltk.addLayers(g, dltk.reluLayer(Name="r"))
    g = dltk.connectLayers(g, "two/aux", "r")
    net = dltk.Network(g)
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    out = net({"a": a, "b": b})  # no output layer: the unconnected outputs, in execution order
    assert net.layer_names == ["a", "two", "b", "r", "add"] and net.OutputNames == ["r", "add"]
    assert isinstance(out, tuple) and len(out) == 2
    torch.testing.assert_close(out[0], torch.relu(-a))
    torch.testing.assert_close(out[1], 2 * a + b)
    with pytest.raises(dltk.DataError, match="dict"):
        net(a)
    m = net.to_torch()
    torch.testing.assert_close(m(a, b), out)


def test_bad_input_names_the_first_layer_that_rejects_it() -> None:
    net = dltk.Network(_stacked(hidden=8))
    with pytest.raises(LayerInputError, match=r"sequenceInputLayer 'sequenceinput'.*C is 11, expected 12"):
        net(torch.randn(2, 5, 11))
    g = dltk.layerGraph([dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2)])
    g = dltk.addLayers(dltk.removeLayers(g, "fc"), Broken(name="bad"))
    g = dltk.connectLayers(g, "input", "bad")
    with pytest.raises(NetworkError, match=r"'bad' \(Broken\) failed on its input \(2, 3\) BC.*RuntimeError"):
        dltk.Network(g)


def test_assembly_errors_list_the_problems() -> None:
    with pytest.raises(NetworkError, match="no input layer"):
        dltk.Network([dltk.fullyConnectedLayer(3)])
    g = dltk.layerGraph([dltk.featureInputLayer(3), dltk.additionLayer(2, Name="add")])
    with pytest.raises(NetworkError, match=r"Input 'add/in2' is not connected"):
        dltk.Network(g)
    with pytest.raises(NetworkError, match="fullyConnectedLayer 'fc'.*C is 3, expected 5"):  # checked at assembly
        dltk.Network([dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2, InputSize=5)])


def test_duplicate_names_are_renamed_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="'relu' is used more than once"):
        net = dltk.Network([dltk.featureInputLayer(3), dltk.reluLayer(Name="relu"), dltk.reluLayer(Name="relu")])
    assert net.layer_names == ["input", "relu", "relu_1"]


def test_loss_needs_an_output_layer_and_regression_loss() -> None:
    with pytest.raises(NetworkError, match="no output layer"):
        dltk.Network([dltk.featureInputLayer(3)]).loss(torch.randn(2, 3), torch.randn(2, 3))
    net = dltk.Network([dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2), dltk.regressionLayer()])
    X, T = torch.randn(4, 3), torch.randn(4, 2)
    y = net(X)
    torch.testing.assert_close(net.loss(X, T.numpy().astype(np.float64)), 0.5 * ((y - T) ** 2).sum() / 4)
    assert net.task == "regression" and net.classes is None


def test_sequence_to_sequence_loss_uses_lengths() -> None:
    net = dltk.Network(
        [
            dltk.sequenceInputLayer(2),
            dltk.lstmLayer(4),
            dltk.fullyConnectedLayer(3),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    ).double()
    X, lengths = torch.randn(2, 5, 2, dtype=torch.float64), torch.tensor([5, 3])
    targets = torch.tensor([[0, 1, 2, 1, 0], [2, 2, 1, -1, -1]])
    y = net(X, lengths=lengths)
    got = net.loss(X, targets, lengths=lengths)
    want = net.output_layer.loss(y, targets, lengths=lengths)
    torch.testing.assert_close(got, want)


def test_reset_state_and_display() -> None:
    net = dltk.Network(_stacked(hidden=8))
    lstm = net["lstm_1"]
    lstm.update_state(torch.ones(1, 8), torch.ones(1, 8))
    assert lstm.hidden_state is not None and lstm.hidden_state.any()
    net.reset_state()
    assert lstm.hidden_state is None or not lstm.hidden_state.any()
    text = repr(net)
    assert "SeriesNetwork" in text and "8×1 Layer array with layers:" in text
    assert "'lstm_3'" in text and "8 LSTM hidden units, OutputMode 'last'" in text
    html = net._repr_html_()
    assert "<table" in html and "lstm_3" in html and "(B, 8)" in html


def test_assemble_network_copies_and_needs_weights() -> None:
    fc = dltk.fullyConnectedLayer(2, Weights=np.ones((2, 3)), Bias=[1.0, -1.0], InputSize=3)
    layers = [dltk.featureInputLayer(3), fc, dltk.regressionLayer()]
    net = dltk.assembleNetwork(layers)
    assert net["fc"] is not fc
    torch.testing.assert_close(net(torch.ones(1, 3)), torch.tensor([[4.0, 2.0]]))
    with pytest.raises(NetworkError, match="learnables not set"):
        dltk.assembleNetwork([dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2)])


def test_roi_network_two_inputs() -> None:
    g = dltk.layerGraph(
        [
            dltk.imageInputLayer([8, 8, 2], Name="img", Normalization="none"),
            dltk.convolution2dLayer(3, 4, "Padding", "same", Name="conv"),
            dltk.roiMaxPooling2dLayer([2, 2], Name="roipool"),
            dltk.fullyConnectedLayer(3, Name="fc"),
        ]
    )
    g = dltk.connectLayers(dltk.addLayers(g, dltk.roiInputLayer(Name="roi")), "roi", "roipool/roi")
    net = dltk.Network(g)
    assert net.InputNames == ["img", "roi"]
    rois = torch.tensor([[0.0, 1, 1, 4, 4], [1, 2, 2, 6, 6], [1, 1, 1, 8, 8]])  # [batch_index x y w h]
    x = torch.rand(2, 2, 8, 8)
    y = net({"img": x, "roi": rois})
    assert y.shape == (3, 3)  # one row per region
    torch.testing.assert_close(net.to_torch()(x, rois), y)
    row = next(r for r in dltk.analyzeNetwork(g).layers if r.name == "roi")
    assert row.activation == "(R, 5) ROI rows"
    bad = rois.clone()
    bad[2, 3] = 0  # a region of width 0: refused where the regions are pooled, naming the row
    with pytest.raises(LayerInputError, match=r"roiMaxPooling2dLayer 'roipool'.*positive widths.*row 2"):
        net({"img": x, "roi": bad})


@pytest.mark.parametrize("norm", ["zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none", "fn"])
def test_to_torch_input_normalizations(norm: str) -> None:
    layer = dltk.imageInputLayer([3, 4, 2], Normalization=(lambda x: 3 * x) if norm == "fn" else norm)
    layer.fit_normalization(torch.rand(5, 2, 3, 4) * 4 + 1)
    net = dltk.Network([layer, dltk.fullyConnectedLayer(2)])
    x = torch.rand(3, 2, 3, 4)
    torch.testing.assert_close(net.to_torch()(x), net(x))
    if norm != "none":
        assert not torch.allclose(net(x), net["fc"](x))  # the normalization did something


class BadSetup(Layer):
    """Test layer whose setup fails inside torch."""

    type_name = "Bad setup"
    name_prefix = "badsetup"

    def setup(self, example_inputs: list, layouts: list) -> None:
        torch.zeros(2) + torch.zeros(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_setup_failure_becomes_a_network_error_and_an_analysis_issue() -> None:
    layers = [dltk.featureInputLayer(3), BadSetup(name="bs")]
    with pytest.raises(NetworkError, match=r"bs \(Bad setup\): RuntimeError"):
        dltk.Network(layers)
    issue = dltk.analyzeNetwork(layers).errors[0]
    assert issue.layers[0] == "bs" and "RuntimeError" in issue.message


def _lstm_with_states(n: int, batch: int) -> Layer:
    return dltk.lstmLayer(n, HiddenState=torch.randn(n, batch), CellState=torch.randn(n, batch))


def _bilstm_with_states(n: int, batch: int) -> Layer:
    return dltk.bilstmLayer(n // 2, HiddenState=torch.randn(n, batch), CellState=torch.randn(n, batch))


def _gru_with_state(n: int, batch: int) -> Layer:
    return dltk.gruLayer(n, HiddenState=torch.randn(n, batch))


@pytest.mark.parametrize("batch", [1, 3, 7])
@pytest.mark.parametrize(
    "make", [_lstm_with_states, _bilstm_with_states, _gru_with_state], ids=["lstm", "bilstm", "gru"]
)
def test_assembly_does_not_depend_on_the_batch_of_a_stored_state(make, batch):
    """A per-observation initial state (B, n) fits only a batch of B; assembly's example batch must not trip on it."""
    torch.manual_seed(0)
    rnn = make(4, batch)
    stored = rnn.HiddenState.clone()
    layers = [dltk.sequenceInputLayer(3), rnn, dltk.fullyConnectedLayer(2)]
    net = dltk.network.Network(layers).eval()
    assert torch.equal(rnn.HiddenState, stored)  # set aside during assembly, back unchanged
    X = torch.randn(batch, 5, 3)
    with torch.no_grad():
        expected = layers[2](rnn(X))  # the layer on its own uses its stored states
        assert torch.equal(net(X), expected)
        rec = dltk.record(layers, X)
    assert torch.allclose(rec.output, expected, atol=1e-6)
    assert torch.equal(rnn.HiddenState, stored)
