"""Pooling layers beyond the shared battery: indices and switches, unpooling round trip,
padding semantics, ROI pooling against an explicit loop (values and gradients), errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import dltk
from dltk.errors import LayerInputError, OptionError
from tests.cases.pooling import roi_max_pool_loop

D = torch.float64


def test_defaults_and_descriptions() -> None:
    m = dltk.maxPooling2dLayer(2, "Stride", 2)
    assert m.description() == "2×2 max pooling with stride [2 2] and padding [0 0 0 0]"
    a = dltk.averagePooling2dLayer([3, 2])
    assert a.Stride == (1, 1) and a.description() == "3×2 average pooling with stride [1 1] and padding [0 0 0 0]"
    assert dltk.averagePooling2dLayer(3, Padding="same").description().endswith("padding 'same'")
    assert dltk.maxPooling3dLayer(2).description() == "2×2×2 max pooling with stride [1 1 1] and padding [0 0 0; 0 0 0]"
    assert m.OutputNames == ["out"] and dltk.maxPooling2dLayer(2, HasUnpoolingOutputs=True).NumOutputs == 3


@pytest.mark.parametrize("padding", [0, 1, "same", [1, 0, 0, 1]])
def test_max_indices_are_flat_plane_positions(padding) -> None:  # noqa: ANN001
    layer = dltk.maxPooling2dLayer(3, Stride=2, Padding=padding, HasUnpoolingOutputs=True)
    x = torch.randn(2, 3, 7, 6, dtype=D)
    y, idx, size = layer(x)
    assert idx.dtype == torch.int64 and torch.equal(size, torch.tensor([2, 3, 7, 6]))
    # the documented meaning: idx = h·W + w in the unpadded input plane
    assert torch.equal(x.flatten(2).gather(2, idx.flatten(2)).view_as(y), y)
    if padding in (0, 1):  # PyTorch pads symmetrically itself: same indices
        ry, ri = F.max_pool2d(x, 3, 2, padding, return_indices=True)
        assert torch.equal(y, ry) and torch.equal(idx, ri)


def test_switch_mask_counts_wins() -> None:
    x = torch.randn(2, 3, 6, 6, dtype=D)
    rec = dltk.record(dltk.maxPooling2dLayer(2, Stride=2), x)
    mask = rec["maxpool"]["switch_mask"]
    assert set(mask.unique().tolist()) == {0.0, 1.0} and mask.sum() == 2 * 3 * 9
    torch.testing.assert_close((x * mask).sum((2, 3)), rec.output.sum((2, 3)))
    overlap = dltk.record(dltk.maxPooling2dLayer(3), x)["maxpool"]["switch_mask"]
    assert overlap.sum() == 2 * 3 * 16 and overlap.max() > 1  # overlapping windows share winners


def test_unpooling_round_trip_and_gradient() -> None:
    pool = dltk.maxPooling2dLayer(2, Stride=2, HasUnpoolingOutputs=True)
    x = torch.randn(2, 3, 6, 5, dtype=D)
    y, idx, size = pool(x)
    y = y.detach().requires_grad_(True)
    u = dltk.maxUnpooling2dLayer()(y, idx, size)
    ref = F.max_unpool2d(y, idx, 2, 2, output_size=(6, 5))
    assert torch.equal(u, ref) and u.shape == x.shape
    g = torch.randn_like(u)
    (gu,) = torch.autograd.grad(u, y, g)
    (gr,) = torch.autograd.grad(ref, y, g)
    assert torch.equal(gu, gr)


def test_max_pool_gradient_matches_pytorch_with_asymmetric_padding() -> None:
    x = torch.randn(2, 2, 5, 6, dtype=D, requires_grad=True)
    y = dltk.maxPooling2dLayer([2, 3], Stride=2, Padding=[1, 0, 0, 2])(x)
    ref = F.max_pool2d(F.pad(x, (0, 2, 1, 0), value=-float("inf")), (2, 3), 2)
    g = torch.randn_like(y)
    assert torch.equal(y, ref)
    torch.testing.assert_close(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(ref, x, g)[0])


def test_average_padding_value_semantics() -> None:
    ones = torch.ones(1, 1, 4, 4, dtype=D)
    counted = dltk.averagePooling2dLayer(3, Padding=1)(ones)  # zeros count in the mean
    assert counted[0, 0, 0, 0] == pytest.approx(4 / 9) and counted[0, 0, 1, 1] == 1
    mean = dltk.averagePooling2dLayer(3, Padding=1, PaddingValue="mean")(ones)
    torch.testing.assert_close(mean, torch.ones_like(mean))
    rec = dltk.record(dltk.averagePooling2dLayer(3, Padding=1, PaddingValue="mean"), ones)
    assert rec["avgpool"]["window_count"][0, 0].tolist()[0] == [4, 6, 6, 4]


def test_average_gradient_matches_pytorch() -> None:
    x = torch.randn(2, 2, 5, 5, dtype=D, requires_grad=True)
    y = dltk.averagePooling2dLayer(3, Stride=2, Padding=1, PaddingValue="mean")(x)
    ref = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
    g = torch.randn_like(y)
    torch.testing.assert_close(y, ref)
    torch.testing.assert_close(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(ref, x, g)[0])


def test_global_pooling_keeps_singletons_and_sequences() -> None:
    x = torch.randn(2, 3, 4, 5, 6, dtype=D)  # as an image sequence (B, T, C, H, W)
    gap = dltk.globalAveragePooling2dLayer()
    gap.setup([x], ["BTCHW"])
    assert gap(x).shape == (2, 3, 4, 1, 1)
    torch.testing.assert_close(gap(x)[:, 1], F.adaptive_avg_pool2d(x[:, 1], 1))
    assert dltk.globalAveragePooling3dLayer()(x).shape == (2, 3, 1, 1, 1)  # as a volume (B, C, D, H, W)
    rec = dltk.record(dltk.globalMaxPooling2dLayer(), x[:, 0])
    y, i = F.adaptive_max_pool2d(x[:, 0], 1, return_indices=True)
    assert torch.equal(rec.output, y) and torch.equal(rec["gmpool"]["indices"], i)


def test_roi_pooling_matches_loop_values_and_gradients() -> None:
    x = torch.randn(2, 3, 9, 10, dtype=D, requires_grad=True)
    rois = torch.tensor(
        [[0, 1, 1, 10, 9], [1, 2.4, 3.6, 5, 4], [1, 8, 7, 6, 6], [0, 4, 4, 1, 1], [1, -1, -2, 4, 5]], dtype=D
    )
    layer = dltk.roiMaxPooling2dLayer([3, 2])
    y = layer(x, rois)
    ref = roi_max_pool_loop(x, rois, (3, 2))
    assert y.shape == (5, 3, 3, 2)
    torch.testing.assert_close(y, ref, atol=0, rtol=0)
    g = torch.randn_like(y)
    torch.testing.assert_close(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(ref, x, g)[0])
    rec = dltk.record(layer, (x.detach(), rois))
    assert rec["roipool"]["boxes"][0].tolist() == [0, 0, 9, 10]  # whole map, end-exclusive


def test_roi_empty_bins_are_zero() -> None:
    x = torch.randn(1, 1, 4, 4, dtype=D)
    y = dltk.roiMaxPooling2dLayer(2)(x, torch.tensor([[0, 4, 4, 4, 4]], dtype=D))  # hangs off the map
    assert y[0, 0, 0, 0] == x[0, 0, 3, 3] and torch.equal(y[0, 0, 1], torch.zeros(2, dtype=D))


def test_errors() -> None:
    with pytest.raises(OptionError, match="smaller than the pool size"):
        dltk.maxPooling2dLayer(2, Padding=2)
    with pytest.raises(OptionError, match="PaddingValue"):
        dltk.averagePooling2dLayer(2, PaddingValue=1)
    with pytest.raises(LayerInputError, match=r"maxPooling2dLayer 'maxpool'.*\[MATLAB 1×6×2×1 SSCB\]"):
        dltk.maxPooling2dLayer(2)(torch.randn(1, 2, 1, 6))
    with pytest.raises(LayerInputError, match="'size'"):
        dltk.maxUnpooling2dLayer()(torch.randn(1, 2, 2, 2), torch.zeros(1, 2, 2, 2, dtype=torch.int64), [4, 4])


@pytest.mark.parametrize(
    "make,ref",
    [("globalMaxPooling2dLayer", torch.nn.AdaptiveMaxPool2d), ("globalMaxPooling3dLayer", torch.nn.AdaptiveMaxPool3d)],
)
def test_global_max_pooling_without_gradient_equals_pytorch_nan_included(make, ref):
    """Without a recording or a gradient the layer takes the max without switches: the same values."""
    x = torch.randn(3, 4, *([5] * (2 if "2d" in make else 3)))
    x[0, 1].view(-1)[2] = float("nan")
    layer = getattr(dltk, make)()
    with torch.no_grad():
        got = layer(x)
    torch.testing.assert_close(got, ref(1)(x), equal_nan=True, atol=0, rtol=0)
    assert torch.isnan(got[0, 1]).all()
