"""PaddingExplorer / padding_sweep (lesson 3's padding trap), headless."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltk
from dltk.errors import OptionError


@pytest.fixture(scope="module")
def net():
    dltk.seed_everything(0)
    layers = [
        dltk.sequenceInputLayer(1),
        dltk.lstmLayer(6, OutputMode="last"),
        dltk.fullyConnectedLayer(3),
        dltk.softmaxLayer(),
        dltk.classificationLayer(Classes=["a", "b", "c"]),
    ]
    net = dltk.Network(layers).eval()
    with torch.no_grad():
        net["lstm"].Bias.normal_(std=0.5)  # non-zero biases: zero padding moves the state
    return net


def test_sweep_matches_direct_runs(net):
    x = np.random.default_rng(0).normal(size=(9, 1)).astype(np.float32)
    s = dltk.widgets.padding_sweep(net, x, "b", max_pad=5)
    assert s["T"] == 9 and s["layer"] == "lstm"
    for k in (0, 3, 5):
        right = torch.cat([torch.as_tensor(x), torch.zeros(k, 1)])[None]
        left = torch.cat([torch.zeros(k, 1), torch.as_tensor(x)])[None]
        with torch.no_grad():
            assert s["right"]["probs"][k] == pytest.approx(float(net(right)[0, 1]), abs=1e-6)
            assert s["left"]["probs"][k] == pytest.approx(float(net(left)[0, 1]), abs=1e-6)
        assert s["right"]["states"][k].shape == (9 + k, 6)
    # no padding: every way agrees; right padding then moves MATLAB's 'last' output
    assert s["right"]["probs"][0] == pytest.approx(s["masked"], abs=1e-6)
    assert abs(s["right"]["probs"][5] - s["masked"]) > 1e-4


def test_explorer_redraws_and_fits_800px(net):
    x = np.linspace(-1, 1, 8, dtype=np.float32)[:, None]
    w = dltk.widgets.PaddingExplorer(dltk.widgets.padding_sweep(net, x, "a", max_pad=4), units=3, interactive=False)
    assert w.fig.get_figwidth() * w.fig.dpi <= 800
    w.padding.value = 4
    assert list(w.raw_marks[0].get_xdata()) == [8 + 4 - 1] and list(w.dltk_marks[0].get_xdata()) == [7]
    w.direction.value = "left"
    assert list(w.dltk_marks[0].get_xdata()) == [8 + 4 - 1]
    assert len(w.line_x.get_xdata()) == 12 and not w.errors
    w.close()


def test_bad_input_is_named(net):
    with pytest.raises(OptionError, match="padding_sweep.*true_class"):
        dltk.widgets.padding_sweep(net, np.zeros((4, 1)), "z", max_pad=2)
    with pytest.raises(OptionError, match=r"padding_sweep: x must be one sequence \(T, C\)"):
        dltk.widgets.padding_sweep(net, np.zeros((2, 4, 1)), "a", max_pad=2)
