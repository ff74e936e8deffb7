"""dltk.diagnose: each planted bug is flagged, a healthy model stays quiet."""

from __future__ import annotations

import torch
from torch import nn

import dltk


class Classifier(nn.Module):
    def __init__(self, batch_first: bool = True, D: int = 3, H: int = 8) -> None:
        super().__init__()
        self.lstm = nn.LSTM(D, H, batch_first=batch_first)
        self.fc = nn.Linear(H, 2)
        self.batch_first = batch_first

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1] if self.batch_first else y[-1])


def _data(B: int = 16, T: int = 12, D: int = 3):
    torch.manual_seed(0)
    return torch.randn(B, T, D), torch.randint(0, 2, (B,))


def test_a_healthy_model_is_quiet() -> None:
    torch.manual_seed(1)
    x, y = _data()
    d = dltk.diagnose(Classifier(), x, y)
    assert d.ok, str(d)
    assert "No problems found" in str(d) and "<table>" in d._repr_html_()
    assert [r["name"] for r in d.rows][:1] == ["lstm"]


def test_swapped_time_and_batch_axes() -> None:
    x, y = _data()
    d = dltk.diagnose(Classifier(batch_first=False), x)  # (B, T, D) into a time-major LSTM
    assert d.kinds() == ["swapped_axes"], str(d)
    assert "batch_first" in str(d)


def test_saturated_gates_from_unnormalized_inputs() -> None:
    x, y = _data()
    d = dltk.diagnose(Classifier(), x * 100)
    assert "saturated" in d.kinds(), str(d)


def test_last_step_read_on_right_padded_batches() -> None:
    x, y = _data()
    x[::2, 8:] = 0  # half the batch is 8 steps long, padded on the right
    d = dltk.diagnose(Classifier(), x)
    assert d.kinds() == ["padded_last"], str(d)


def test_forget_gates_that_never_open() -> None:
    torch.manual_seed(2)
    model = Classifier()
    with torch.no_grad():
        model.lstm.bias_ih_l0[8:16] = -20.0
    d = dltk.diagnose(model, _data()[0])
    assert "forget_closed" in d.kinds(), str(d)


def test_dead_relus_and_first_nonfinite() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    with torch.no_grad():
        model[0].bias[:3] = -100.0
    x = torch.randn(8, 4)
    assert dltk.diagnose(model, x).kinds() == ["dead_relu"]
    x[3, 1] = float("nan")
    d = dltk.diagnose(nn.Sequential(nn.Linear(4, 6), nn.Tanh()), x)
    assert d.kinds() == ["nonfinite"] and "layer '0'" in str(d), str(d)


def test_vanishing_and_exploding_gradients() -> None:
    torch.manual_seed(3)
    rnn = nn.RNN(2, 4, batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.01)

    class Last(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            return self.rnn(x)[0][:, -1].sum(-1)

    x = torch.randn(4, 30, 2)
    d = dltk.diagnose(Last(), x, torch.zeros(4))
    assert "vanishing" in d.kinds(), str(d)
    big = nn.Sequential(nn.Linear(3, 3))
    with torch.no_grad():
        big[0].weight.fill_(1e4)
    assert "exploding" in dltk.diagnose(big, torch.randn(5, 3), torch.zeros(5, 3)).kinds()
