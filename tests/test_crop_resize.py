"""Crop and resize layers beyond the shared battery: offset rules, sweeps against
``F.interpolate`` (values and gradients), rounding details, options and errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import dltk
from dltk.errors import LayerInputError, OptionError
from tests.cases.crop_resize import resize_loop

D = torch.float64


@pytest.mark.parametrize(("big", "small", "offset"), [(7, 4, 1), (8, 4, 2), (8, 5, 1), (5, 5, 0), (6, 1, 2)])
def test_centercrop_offset_rule(big: int, small: int, offset: int) -> None:
    # offset ⌊(in − ref)/2⌋: with an odd difference the extra row is dropped at the bottom
    x = torch.arange(float(big)).view(1, 1, big, 1).expand(1, 1, big, big)
    y = dltk.crop2dLayer()(x, torch.zeros(1, 1, small, small))
    assert y[0, 0, :, 0].tolist() == list(map(float, range(offset, offset + small)))
    rec = dltk.record(dltk.crop2dLayer(), (x, torch.zeros(1, 1, small, small)))
    assert rec["crop"]["location"].tolist() == [offset + 1, offset + 1]


def test_crop_location_and_channels() -> None:
    x = torch.randn(2, 5, 6, 7)
    layer = dltk.crop2dLayer([4, 2])
    assert layer.Mode == "custom" and layer.Location == [4, 2]
    y = layer(x, torch.zeros(2, 1, 3, 2))
    assert torch.equal(y, x[:, :, 1:4, 3:5])  # keeps the 5 channels of 'in'
    seq = torch.randn(2, 3, 4, 6, 6)  # image sequence (B, T, C, H, W)
    assert dltk.crop2dLayer()(seq, torch.zeros(2, 3, 4, 2, 2)).shape == (2, 3, 4, 2, 2)
    assert dltk.crop2dLayer().description() == "center crop" and dltk.crop2dLayer().InputNames == ["in", "ref"]


@pytest.mark.parametrize("size", [(2, 3), (5, 9), (7, 4), (12, 12), (1, 1)])
@pytest.mark.parametrize(
    ("opts", "torch_mode"),
    [
        ({"Method": "bilinear"}, {"mode": "bilinear", "align_corners": False}),
        ({}, {"mode": "nearest-exact"}),
        ({"GeometricTransformMode": "asymmetric", "NearestRoundingMode": "floor"}, {"mode": "nearest"}),
    ],
)
def test_resize_matches_interpolate_values_and_gradients(size, opts, torch_mode) -> None:  # noqa: ANN001
    x = torch.randn(2, 3, 5, 6, dtype=D, requires_grad=True)
    y = dltk.resize2dLayer(OutputSize=list(size), **opts)(x)
    ref = F.interpolate(x, size=size, **torch_mode)
    torch.testing.assert_close(y, ref, atol=1e-12, rtol=0)
    g = torch.randn_like(y)
    torch.testing.assert_close(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(ref, x, g)[0], atol=1e-12, rtol=0)


@pytest.mark.parametrize("scale", [0.5, 1.5, 2.0, 3.3])
def test_resize_scale_matches_interpolate(scale: float) -> None:
    x = torch.randn(1, 2, 6, 7, dtype=D)
    for opts, mode in (({"Method": "bilinear"}, {"mode": "bilinear", "align_corners": False}),
                       ({}, {"mode": "nearest-exact"})):  # fmt: skip
        y = dltk.resize2dLayer(Scale=scale, **opts)(x)
        torch.testing.assert_close(y, F.interpolate(x, scale_factor=scale, **mode), atol=1e-12, rtol=0)


def test_round_is_half_away_from_zero_and_floor_differs() -> None:
    # Scale 0.5, half-pixel: u = 2i + 0.5 exactly; 'round' -> 2i + 1, 'floor' -> 2i
    x = torch.arange(8.0, dtype=D).view(1, 1, 1, 8)
    assert dltk.resize2dLayer(Scale=[1, 0.5])(x).flatten().tolist() == [1, 3, 5, 7]
    assert dltk.resize2dLayer(Scale=[1, 0.5], NearestRoundingMode="floor")(x).flatten().tolist() == [0, 2, 4, 6]
    assert dltk.resize2dLayer(Scale=[1, 0.5], NearestRoundingMode="onnx-10")(x).flatten().tolist() == [0, 2, 4, 6]
    up = dltk.resize2dLayer(Scale=[1, 3], GeometricTransformMode="asymmetric", NearestRoundingMode="round")
    xs = x[..., :2]  # u = i/3: 0, .33, .67, 1, 1.33, 1.67 -> 0 0 1 1 1 2 -> clipped to 1
    assert up(xs).flatten().tolist() == [0, 0, 1, 1, 1, 1]


def test_asymmetric_bilinear_and_3d_against_loop_and_interpolate() -> None:
    x = torch.randn(1, 2, 3, 4, dtype=D)
    y = dltk.resize2dLayer(Scale=[2, 0.75], Method="bilinear", GeometricTransformMode="asymmetric")(x)
    torch.testing.assert_close(y, resize_loop(x, (6, 3), (2, 0.75), "bilinear", "asymmetric", "round"))
    v = torch.randn(1, 2, 3, 4, 5, dtype=D)
    y3 = dltk.resize3dLayer(Scale=[0.5, 2, 1.5], Method="trilinear")(v)  # [h w d]
    torch.testing.assert_close(y3, F.interpolate(v, scale_factor=(1.5, 0.5, 2), mode="trilinear"), atol=1e-12, rtol=0)


def test_signals_are_source_coordinates() -> None:
    rec = dltk.record(dltk.resize2dLayer(OutputSize=[4, 2]), torch.randn(1, 1, 2, 4))
    assert rec["resize"]["source_h"].tolist() == [-0.25, 0.25, 0.75, 1.25]
    assert rec["resize"]["source_w"].tolist() == [0.5, 2.5]


def test_options_and_errors() -> None:
    with pytest.raises(OptionError, match="exactly one"):
        dltk.resize2dLayer(Scale=2, OutputSize=[4, 4])
    with pytest.raises(OptionError, match="exactly one"):
        dltk.resize2dLayer()
    with pytest.raises(OptionError, match="Method"):
        dltk.resize2dLayer(Scale=2, Method="bicubic")
    with pytest.raises(OptionError, match="Method"):
        dltk.resize3dLayer(Scale=2, Method="bilinear")
    with pytest.raises(OptionError, match="mode"):
        dltk.crop2dLayer("corner")
    r = dltk.resize2dLayer(EnableReferenceInput=True)
    assert r.InputNames == ["in", "ref"] and "reference" in r.description()
    with pytest.raises(LayerInputError, match="'ref'"):
        r(torch.randn(1, 1, 3, 3))
    with pytest.raises(LayerInputError, match=r"crop3dLayer 'crop'.*\[MATLAB 3×3×2×1×1 SSSCB\]"):
        dltk.crop3dLayer()(torch.randn(1, 1, 2, 3, 3), torch.randn(1, 1, 3, 3, 3))
    assert dltk.resize2dLayer(OutputSize=[float("nan"), 8])(torch.randn(1, 1, 3, 4)).shape == (1, 1, 6, 8)


@pytest.mark.parametrize("size", [(7, 3), (2, 9)])
def test_documented_formula_equals_interpolate_where_used(size) -> None:  # noqa: ANN001
    # the layer runs F.interpolate for these settings; the docstring's formula must give the same numbers
    x = torch.randn(1, 2, 4, 5, dtype=D)
    s = (size[0] / 4, size[1] / 5)
    lin = resize_loop(x, size, s, "bilinear", "half-pixel", "round")
    torch.testing.assert_close(lin, F.interpolate(x, size=size, mode="bilinear", align_corners=False))
    near = resize_loop(x, size, s, "nearest", "half-pixel", "round")
    assert torch.equal(near, F.interpolate(x, size=size, mode="nearest-exact"))
    layer = dltk.resize2dLayer(OutputSize=list(size), Method="bilinear", GeometricTransformMode="asymmetric")
    assert layer.torch_mode() is None  # no PyTorch equivalent: explicit formula
    torch.testing.assert_close(layer(x), resize_loop(x, size, s, "bilinear", "asymmetric", "round"))
