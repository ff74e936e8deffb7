"""Activation layers: MATLAB front and defaults, gradients against torch, regime masks, PReLU."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import dltk
from dltk.errors import LayerInputError, OptionError

D = torch.float64


def _grads(fn, x):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    return y.detach(), x.grad


@pytest.mark.parametrize(
    "layer, ref",
    [
        (dltk.reluLayer(), F.relu),
        (dltk.leakyReluLayer(), lambda x: F.leaky_relu(x, 0.01)),
        (dltk.leakyReluLayer(0.3), lambda x: F.leaky_relu(x, 0.3)),
        (dltk.clippedReluLayer(0.7), lambda x: torch.clamp(x, 0, 0.7)),
        (dltk.eluLayer(), F.elu),
        (dltk.eluLayer(2.5), lambda x: F.elu(x, 2.5)),
        (dltk.tanhLayer(), torch.tanh),
        (dltk.sigmoidLayer(), torch.sigmoid),
    ],
    ids=lambda v: getattr(v, "matlab_name", "") or "ref",
)
def test_output_and_gradient_match_torch(layer, ref) -> None:
    x = torch.randn(3, 4, 5, 2, dtype=D)
    torch.manual_seed(1)  # the same upstream gradient for both
    y, gx = _grads(layer, x)
    torch.manual_seed(1)
    y_ref, gx_ref = _grads(ref, x)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(gx, gx_ref, atol=1e-12, rtol=0)


def test_matlab_defaults_properties_and_descriptions() -> None:
    assert dltk.leakyReluLayer().Scale == 0.01
    assert dltk.eluLayer().Alpha == 1.0
    assert dltk.clippedReluLayer(10).Ceiling == 10
    assert dltk.reluLayer().description() == "ReLU"
    assert dltk.leakyReluLayer().description() == "Leaky ReLU with scale 0.01"
    assert dltk.clippedReluLayer(10).description() == "Clipped ReLU with ceiling 10"
    assert dltk.eluLayer().description() == "ELU with Alpha 1"
    assert dltk.softmaxLayer().description() == "softmax"
    lr = dltk.leakyReluLayer(0.2, "Name", "lr")
    assert (lr.name, lr.scale, lr.name_prefix, str(lr)) == ("lr", 0.2, "leakyrelu", "lr: Leaky ReLU with scale 0.2")
    lr.Scale = 0.5  # MATLAB property writes the state the forward pass uses
    assert lr(torch.tensor([[-2.0]])).item() == -1.0


@pytest.mark.parametrize(
    "make, option",
    [
        (lambda: dltk.clippedReluLayer(0), "Ceiling"),
        (lambda: dltk.clippedReluLayer(-1), "Ceiling"),
        (lambda: dltk.eluLayer(0), "Alpha"),
        (lambda: dltk.leakyReluLayer("big"), "Scale"),
        (lambda: dltk.reluLayer(Slope=2), "Slope"),
        (lambda: dltk.preluLayer(0, "p"), "numChannels"),
    ],
)
def test_bad_options_name_layer_and_option(make, option) -> None:
    with pytest.raises(OptionError, match=option):
        make()


def test_regime_masks_are_recorded_and_match_the_formula() -> None:
    x = torch.tensor([[-1.0, 0.0, 0.5, 2.0, 3.0]])
    rec = dltk.record(dltk.clippedReluLayer(2), x)
    assert rec["clippedrelu"]["clipped_low"].tolist() == [[True, False, False, False, False]]
    assert rec["clippedrelu"]["clipped_high"].tolist() == [[False, False, False, True, True]]
    assert rec.output.tolist() == [[0.0, 0.0, 0.5, 2.0, 2.0]]
    assert dltk.record(dltk.reluLayer(), x)["relu"]["active"].tolist() == [[False, False, True, True, True]]
    assert dltk.record(dltk.eluLayer(), x)["elu"]["negative"].tolist() == [[True, False, False, False, False]]
    assert dltk.record(dltk.leakyReluLayer(), x)["leakyrelu"]["negative"].sum().item() == 1
    only = dltk.record(dltk.clippedReluLayer(2), x, signals=["clipped_high"])
    assert list(only["clippedrelu"]) == ["clipped_high"]  # unwanted masks are not computed


def test_softmax_normalizes_over_channels_per_pixel_and_time_step() -> None:
    img = torch.randn(2, 4, 3, 5, dtype=D)
    p = dltk.softmaxLayer()(img)
    torch.testing.assert_close(p.sum(1), torch.ones(2, 3, 5, dtype=D))
    seq = torch.randn(2, 6, 3, dtype=D)
    rec = dltk.record(dltk.softmaxLayer(), seq)
    torch.testing.assert_close(rec["softmax"]["probabilities"].sum(-1), torch.ones(2, 6, dtype=D))
    assert torch.equal(rec["softmax"]["logits"], seq)
    lay = dltk.softmaxLayer()
    lay.input_layout = "BTCHW"
    torch.testing.assert_close(lay(torch.randn(2, 3, 4, 2, 2, dtype=D)).sum(2), torch.ones(2, 3, 2, 2, dtype=D))


def test_input_errors_name_the_layer_in_both_notations() -> None:
    with pytest.raises(LayerInputError, match=r"reluLayer 'relu': expected .*rank 1"):
        dltk.reluLayer()(torch.randn(3))
    with pytest.raises(LayerInputError, match=r"preluLayer 'p'.*\(2, 4, 5, 5\) BCHW \[MATLAB 5×5×4×2 SSCB\]"):
        dltk.preluLayer(3, "p")(torch.randn(2, 4, 5, 5))


def test_prelu_is_the_matlab_custom_layer_example() -> None:
    layer = dltk.preluLayer(20, "prelu")
    assert layer.name == "prelu" and tuple(layer.Alpha.shape) == (1, 1, 20)
    assert 0 <= layer.Alpha.min() and layer.Alpha.max() < 1  # rand init
    assert [n for n, _ in layer.named_parameters()] == ["Alpha"]
    layer = layer.double()
    x = torch.randn(2, 20, 5, 5, dtype=D, requires_grad=True)
    y = layer(x)
    dz = torch.randn_like(y)
    (y * dz).sum().backward()
    alpha = layer.Alpha.detach().reshape(1, 20, 1, 1)
    # MATLAB's backward: dX = Alpha*dZ where X <= 0, dZ where X > 0; dAlpha = sum over h, w, batch of min(0, X)*dZ
    torch.testing.assert_close(x.grad, torch.where(x > 0, dz, alpha * dz))
    torch.testing.assert_close(layer.Alpha.grad.reshape(20), (torch.clamp(x.detach(), max=0) * dz).sum((0, 2, 3)))
    # and it is torch's PReLU with one slope per channel
    ref = torch.nn.PReLU(20).double()
    with torch.no_grad():
        ref.weight.copy_(layer.Alpha.reshape(20))
    torch.testing.assert_close(y, ref(x))
