"""dropoutLayer: inverted dropout statistics, identity at prediction, the mask signal, options."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import dltk
from dltk.errors import OptionError

D = torch.float64


def test_training_drops_about_p_and_scales_survivors() -> None:
    layer = dltk.dropoutLayer(0.25).train()
    x = torch.ones(50, 8, 10, 10, dtype=D)
    y = layer(x)
    kept = y != 0
    assert abs(kept.to(D).mean().item() - 0.75) < 0.01  # 40,000 draws: sd of the mean ≈ 0.002
    assert torch.all(y[kept] == 1 / 0.75)
    # one mask value per element: within one channel of one image some survive and some do not
    per_channel = kept.to(D).mean((2, 3))
    assert ((per_channel > 0) & (per_channel < 1)).all()


def test_matches_torch_dropout_under_the_same_seed_with_gradients() -> None:
    x = torch.randn(3, 5, 4, dtype=D, requires_grad=True)
    layer = dltk.dropoutLayer(0.4).train()
    torch.manual_seed(3)
    y = layer(x)
    y.sum().backward()
    g = x.grad.clone()
    x.grad = None
    torch.manual_seed(3)
    y_ref = F.dropout(x, 0.4, True)
    y_ref.sum().backward()
    assert torch.equal(y, y_ref) and torch.equal(g, x.grad)


def test_mask_signal_explains_the_output_and_recording_changes_nothing() -> None:
    layer = dltk.dropoutLayer().train()
    x = torch.randn(4, 6, dtype=D)
    torch.manual_seed(7)
    plain = layer(x)
    torch.manual_seed(7)
    rec = dltk.record(layer, x)
    mask = rec["dropout"]["mask"]
    assert torch.equal(rec.output, plain)
    assert set(mask.unique().tolist()) <= {0.0, 1.0} and mask.dtype == D
    torch.testing.assert_close(plain, x * mask / 0.5)


def test_identity_at_prediction_and_for_zero_probability() -> None:
    x = torch.randn(2, 3, 4, 4)
    assert dltk.dropoutLayer(0.9).eval()(x) is x
    assert dltk.dropoutLayer(0).train()(x) is x
    assert "mask" not in dltk.record(dltk.dropoutLayer().eval(), x)["dropout"]


def test_options_and_description() -> None:
    layer = dltk.dropoutLayer()
    assert layer.Probability == 0.5 and layer.description() == "Dropout 50%"
    assert dltk.dropoutLayer("Probability", 0.125, "Name", "d").description() == "Dropout 12.5%"
    for bad in (1, 1.5, -0.1, "half"):
        with pytest.raises(OptionError, match="dropoutLayer: Probability"):
            dltk.dropoutLayer(bad)
