"""``dltk.from_torch``: a sequential PyTorch model as a dltk Network (issue 12).

Outputs are compared in float64 (tolerance 1e-12: the same arithmetic in another order),
parameters are checked to be the same objects (a training step on one moves the other), and
every module that cannot be converted gives an error naming it.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import dltk
from dltk.errors import OptionError

TOL = 1e-12


class Classifier(nn.Module):
    """A student's LSTM classifier: two stacked layers, the last step, a linear head."""

    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 5, num_layers=2, batch_first=batch_first)
        self.fc = nn.Linear(5, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x)
        last = y[:, -1] if self.lstm.batch_first else y[-1]
        return torch.softmax(self.fc(torch.relu(last)), dim=-1)


def _double(m: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return m.double()


def test_lstm_classifier_same_outputs_and_shared_weights():
    m = _double(Classifier())
    X = torch.randn(4, 7, 3, dtype=torch.float64)
    net = dltk.from_torch(m)
    assert [type(lay).__name__ for lay in net.layers][:3] == ["SequenceInput", "LSTM", "LSTM"]
    lstm0, lstm1 = net.layer("lstm_l0"), net.layer("lstm_l1")
    assert lstm0.OutputMode == "sequence" and lstm1.OutputMode == "last"
    torch.testing.assert_close(net(X), m(X), rtol=0, atol=TOL)
    assert lstm0.input_weights is m.lstm.weight_ih_l0 and lstm1.recurrent_weights is m.lstm.weight_hh_l1
    assert net.layer("fc").weight is m.fc.weight and net.layer("fc").bias is m.fc.bias
    assert "lstm.bias_ih_l0 + lstm.bias_hh_l0" in net.copied
    # a training step on the PyTorch model moves the dltk network's weights too
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    m(X).sum().backward()
    opt.step()
    assert torch.equal(net.layer("fc").weight, m.fc.weight)
    # to_torch is the way back
    back = net.to_torch()
    torch.testing.assert_close(back(X), net(X), rtol=0, atol=TOL)


def test_time_major_lstm_converts_to_the_dltk_layout():
    m = _double(Classifier(batch_first=False))
    X = torch.randn(6, 2, 3, dtype=torch.float64)  # (T, B, C)
    net = dltk.from_torch(m)
    torch.testing.assert_close(net(X.transpose(0, 1)), m(X), rtol=0, atol=TOL)


def test_cnn_same_outputs_shared_parameters_and_running_statistics():
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 3, (3, 2), stride=(1, 2), bias=False),
        nn.Tanh(),
        nn.AvgPool2d(2, stride=1),
        nn.Flatten(),
        nn.Linear(3 * 1 * 1, 2),
    ).double()
    with torch.no_grad():
        cnn[1].running_mean.uniform_(-1, 1)
        cnn[1].running_var.uniform_(0.5, 2)
    net = dltk.from_torch(cnn, input_size=(2, 8, 8))
    X = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    cnn.eval(), net.eval()
    torch.testing.assert_close(net(X), cnn(X), rtol=0, atol=TOL)
    assert net.layer("0").weight is cnn[0].weight and net.layer("1").scale is cnn[1].weight
    assert net.layer("1").running_mean is cnn[1].running_mean
    assert "Activations" in str(dltk.analyzeNetwork(net)) or dltk.analyzeNetwork(net) is not None


def test_linear_after_a_feature_map_reorders_columns_as_matlab_flattens():
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 3, 2)).double()
    net = dltk.from_torch(cnn, input_size=(1, 6, 5))
    X = torch.randn(2, 1, 6, 5, dtype=torch.float64)
    torch.testing.assert_close(net(X), cnn(X), rtol=0, atol=TOL)
    assert any("columns reordered" in c for c in net.copied)


@pytest.mark.parametrize(
    "model, match",
    [
        (nn.Sequential(nn.Linear(3, 4), nn.GELU()), "module '1' \\(GELU\\)"),
        (nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 2)), "module '1' \\(GRU\\)"),
        (nn.Sequential(nn.LSTM(3, 4, bidirectional=True)), "'0' \\(nn.LSTM with bidirectional=True\\)"),
        (nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), "'0' \\(nn.Conv2d with groups=2"),
        (nn.Sequential(nn.Conv2d(2, 2, 3)), "input_size=\\(C, H, W\\)"),
        (nn.Sequential(nn.ReLU(), nn.Linear(3, 2)), "starts with '0'"),
    ],
)
def test_clear_error_names_the_module(model, match):
    with pytest.raises(OptionError, match=match):
        dltk.from_torch(model)


def test_clear_errors_for_forwards_that_are_not_chains():
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x) + x

    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else x

    class States(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(3, 2, batch_first=True)

        def forward(self, x):
            _, (h, _c) = self.lstm(x)
            return h[-1]

    with pytest.raises(OptionError, match="add"):
        dltk.from_torch(Residual())
    with pytest.raises(OptionError, match="could not trace"):
        dltk.from_torch(Branchy())
    with pytest.raises(OptionError, match="final states of 'lstm'"):
        dltk.from_torch(States())
