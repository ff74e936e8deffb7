"""Convolution layers beyond the shared battery: MATLAB's 'same' rule, weight views,
initializers, lazy parameters, gradients against PyTorch, options and errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import dltk
from dltk.errors import LayerInputError, OptionError
from dltk.layers import _spatial as sp

D = torch.float64


@pytest.mark.parametrize(
    ("n", "k", "s", "pads"),
    [(8, 3, 2, (0, 1)), (7, 3, 2, (1, 1)), (6, 4, 1, (1, 2)), (5, 2, 3, (0, 0)), (4, 5, 1, (2, 2)), (9, 4, 2, (1, 2))],
)
def test_same_rule_worked_examples(n: int, k: int, s: int, pads: tuple[int, int]) -> None:
    # output ceil(n/s); total = (out-1)·s + k − n; the odd extra goes to the bottom/right
    assert sp.same_pads((n,), (k,), (s,)) == (pads,)


@pytest.mark.parametrize("h", [5, 6, 7, 8])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize(("k", "dil"), [(2, 1), (3, 1), (4, 1), (3, 2)])
def test_same_padding_matches_explicit_pad(h: int, stride: int, k: int, dil: int) -> None:
    layer = dltk.convolution2dLayer([k, 1], 2, Stride=[stride, 1], DilationFactor=[dil, 1], Padding="same").double()
    x = torch.randn(1, 1, h, 3, dtype=D)
    eff = dil * (k - 1) + 1
    out = math.ceil(h / stride)
    total = max((out - 1) * stride + eff - h, 0)
    y = layer(x)  # creates the parameters (NumChannels 'auto')
    ref = F.conv2d(F.pad(x, (0, 0, total // 2, total - total // 2)), layer.weight, layer.bias, (stride, 1), 0, (dil, 1))
    assert y.shape == (1, 2, out, 3)
    torch.testing.assert_close(y, ref, atol=1e-12, rtol=0)


def test_conv2d_weight_views_round_trip() -> None:
    layer = dltk.convolution2dLayer([3, 2], 4, NumChannels=5)
    assert layer.Weights.shape == (3, 2, 5, 4) and layer.Bias.shape == (1, 1, 4)
    assert torch.equal(layer.Weights, layer.weight.permute(2, 3, 1, 0))
    assert layer.Weights.data_ptr() == layer.weight.data_ptr()  # a view, not a copy
    w = torch.randn(3, 2, 5, 4)
    layer.Weights = w
    assert torch.equal(layer.weight[1, 2, :, :], w[:, :, 2, 1])  # torch[n, c, h, w] = MATLAB(h, w, c, n)
    layer.Bias = torch.arange(4.0)
    assert torch.equal(layer.bias, torch.arange(4.0))


def test_conv3d_grouped_transposed_weight_views() -> None:
    c3 = dltk.convolution3dLayer([3, 2, 4], 6, NumChannels=2)  # [h w d]
    assert c3.weight.shape == (6, 2, 4, 3, 2) and c3.Weights.shape == (3, 2, 4, 2, 6)
    w = torch.randn(3, 2, 4, 2, 6)
    c3.Weights = w
    assert torch.equal(c3.weight[5, 1, 3, 2, 1], w[2, 1, 3, 1, 5])
    assert c3.Bias.shape == (1, 1, 1, 6)

    g = dltk.groupedConvolution2dLayer(3, 2, 3, NumChannelsPerGroup=4)
    assert g.weight.shape == (6, 4, 3, 3) and g.Weights.shape == (3, 3, 4, 2, 3) and g.Bias.shape == (1, 1, 2, 3)
    w = torch.randn(3, 3, 4, 2, 3)
    g.Weights = w
    assert torch.equal(g.weight[2 * 2 + 1, 3], w[:, :, 3, 1, 2])  # group 2, filter 1, channel 3
    g.Bias = torch.tensor([[1.0, 2, 3], [4, 5, 6]])  # F×G
    assert torch.equal(g.bias, torch.tensor([1.0, 4, 2, 5, 3, 6]))

    t = dltk.transposedConv2dLayer([2, 3], 5, NumChannels=4)
    assert t.weight.shape == (4, 5, 2, 3) and t.Weights.shape == (2, 3, 5, 4)  # h×w×NumFilters×NumChannels
    w = torch.randn(2, 3, 5, 4)
    t.Weights = w
    assert torch.equal(t.weight[3, 1], w[:, :, 1, 3])


def test_given_matlab_weights_set_num_channels() -> None:
    w = torch.randn(3, 3, 2, 4, dtype=D)
    layer = dltk.convolution2dLayer(3, 4, Weights=w, Bias=torch.ones(1, 1, 4))
    assert layer.NumChannels == 2
    assert torch.equal(layer.Weights, w.float()) and torch.equal(layer.bias, torch.ones(4))  # default dtype


def test_lazy_parameters_and_setup() -> None:
    layer = dltk.convolution2dLayer(3, 4)
    assert layer.weight is None and layer.NumChannels == "auto" and layer.Weights is None
    layer.setup([torch.zeros(1, 6, 8, 8)], ["BCHW"])
    assert layer.NumChannels == 6 and layer.weight.shape == (4, 6, 3, 3)
    seq = dltk.convolution2dLayer(3, 4)
    seq.setup([torch.zeros(1, 2, 5, 8, 8)], ["BTCHW"])  # image sequence: C is axis 2
    assert seq.NumChannels == 5
    cw = dltk.groupedConvolution2dLayer(3, 2, "channel-wise")
    cw(torch.randn(1, 7, 5, 5))
    assert cw.NumGroups == 7 and cw.NumFilters == 14 and cw.NumChannelsPerGroup == 1


def test_initializers_and_factors() -> None:
    layer = dltk.convolution2dLayer([5, 4], 30, NumChannels=20)
    fan_in, fan_out = 20 * 20, 20 * 30
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.95 * bound
    assert torch.equal(layer.bias, torch.zeros(30))
    he = dltk.convolution2dLayer(3, 64, NumChannels=32, WeightsInitializer="he")
    assert abs(he.weight.std().item() - math.sqrt(2 / (9 * 32))) < 0.05 * math.sqrt(2 / (9 * 32))
    assert layer.learn_factors() == {"weight": (1.0, 1.0), "bias": (1.0, 0.0)}
    f = dltk.convolution2dLayer(3, 2, WeightLearnRateFactor=2, BiasL2Factor=0.5, NumChannels=1)
    assert f.learn_factors() == {"weight": (2.0, 1.0), "bias": (1.0, 0.5)}
    ones = dltk.convolution2dLayer(2, 2, NumChannels=1, WeightsInitializer="ones", BiasInitializer="ones")
    assert torch.equal(ones.weight, torch.ones(2, 1, 2, 2)) and torch.equal(ones.bias, torch.ones(2))
    fn = dltk.convolution2dLayer(2, 3, NumChannels=2, WeightsInitializer=lambda shape: torch.full(shape, 0.5))
    assert torch.equal(fn.weight, torch.full((3, 2, 2, 2), 0.5))


@pytest.mark.parametrize(
    ("make", "ref"),
    [
        (
            lambda: dltk.convolution2dLayer(
                3, 3, Padding=[0, 1, 2, 0], Stride=2, PaddingValue="symmetric-exclude-edge"
            ),  # noqa: E501
            lambda m, x: F.conv2d(F.pad(x, (2, 0, 0, 1), mode="reflect"), m.weight, m.bias, 2),
        ),
        (
            lambda: dltk.groupedConvolution2dLayer(2, 3, 2, Padding="same"),
            lambda m, x: F.conv2d(F.pad(x, (0, 1, 0, 1)), m.weight, m.bias, groups=2),
        ),
        (
            lambda: dltk.transposedConv2dLayer(3, 3, Stride=2, Cropping=[0, 1, 1, 0]),
            lambda m, x: F.conv_transpose2d(x, m.weight, m.bias, 2)[:, :, :-1, 1:],
        ),
    ],
)
def test_gradients_match_pytorch(make, ref) -> None:  # noqa: ANN001
    layer = make().double()
    x = torch.randn(2, 4, 5, 6, dtype=D, requires_grad=True)
    y = layer(x)  # creates the parameters
    g = torch.randn_like(y)
    gx, gw, gb = torch.autograd.grad(y, (x, layer.weight, layer.bias), g)
    rx, rw, rb = torch.autograd.grad(ref(layer, x), (x, layer.weight, layer.bias), g)
    for a, b in ((gx, rx), (gw, rw), (gb, rb)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def test_recording_matches_plain_and_signals() -> None:
    layer = dltk.convolution2dLayer(3, 2, Padding=[1, 0, 0, 1], PaddingValue="replicate").double()
    x = torch.randn(2, 3, 4, 4, dtype=D)
    rec = dltk.record(layer, x)
    torch.testing.assert_close(rec.output, layer(x), atol=1e-12, rtol=0)
    torch.testing.assert_close(rec["conv"]["pre_bias"] + layer.bias.view(1, -1, 1, 1), rec.output)
    assert torch.equal(rec["conv"]["padded_input"][:, :, 1:, :4], x)  # top row and right column added


def test_matlab_front_and_descriptions() -> None:
    layer = dltk.convolution2dLayer(5, 20, "Padding", "same", "Stride", 2)
    assert layer.description() == "20 5×5 convolutions with stride [2 2] and padding 'same'"
    assert dltk.convolution2dLayer(5, 20).description() == "20 5×5 convolutions with stride [1 1] and padding [0 0 0 0]"
    assert layer.PaddingMode == "same" and layer.FilterSize == (5, 5)
    assert dltk.convolution2dLayer(3, 4, NumChannels=3).description().startswith("4 3×3×3 convolutions")
    c3 = dltk.convolution3dLayer(3, 8, Padding=[[1, 2, 3], [4, 5, 6]])
    assert c3.description().endswith("padding [1 2 3; 4 5 6]") and c3.PaddingSize == [[1, 2, 3], [4, 5, 6]]
    assert dltk.groupedConvolution2dLayer(3, 4, 2).description().startswith("2 groups of 4 3×3 convolutions")
    t = dltk.transposedConv2dLayer(11, 96, "Stride", 4)
    assert t.description() == "96 11×11 transposed convolutions with stride [4 4] and cropping [0 0 0 0]"


def test_float32_and_image_sequence() -> None:
    layer = dltk.convolution2dLayer(3, 4, Padding=1)
    x = torch.randn(2, 3, 2, 5, 5)  # (B, T, C, H, W): each time step convolved
    y = layer(x)
    assert y.dtype == torch.float32 and y.shape == (2, 3, 4, 5, 5)
    torch.testing.assert_close(y[:, 1], layer(x[:, 1]))
    assert layer.output_layout(["BTCHW"]) == "BTCHW"


def test_option_errors() -> None:
    with pytest.raises(OptionError, match="Padding"):
        dltk.convolution2dLayer(3, 4, Padding=[1, 2, 3])
    with pytest.raises(OptionError, match="PaddingValue"):
        dltk.convolution2dLayer(3, 4, PaddingValue="mirror")
    with pytest.raises(OptionError, match="Stride"):
        dltk.convolution2dLayer(3, 4, Stride=0)
    with pytest.raises(OptionError, match="unknown option"):
        dltk.convolution2dLayer(3, 4, Paddding=1)
    with pytest.raises(OptionError, match="FilterSize >= Stride"):
        dltk.transposedConv2dLayer(2, 4, Stride=3, Cropping="same")
    with pytest.raises(OptionError, match="NumGroups"):
        dltk.groupedConvolution2dLayer(3, 4, "depth-wise")


def test_input_errors_name_layer_and_both_notations() -> None:
    layer = dltk.convolution2dLayer(5, 4, Name="c1")
    with pytest.raises(LayerInputError, match=r"convolution2dLayer 'c1'.*\(1, 3, 4, 9\) BCHW \[MATLAB 4×9×3×1 SSCB\]"):
        layer(torch.randn(1, 3, 4, 9))
    g = dltk.groupedConvolution2dLayer(3, 2, 2)
    with pytest.raises(LayerInputError, match="divisible by NumGroups 2"):
        g(torch.randn(1, 3, 5, 5))
    t = dltk.transposedConv2dLayer(2, 2, Cropping=[2, 1, 0, 0])
    with pytest.raises(LayerInputError, match="cropped to nothing"):
        t(torch.randn(1, 1, 1, 3))
