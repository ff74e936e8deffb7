"""Battery cases for the crop and resize layers.

References in float64: plain slicing for the crops (offsets worked out by
hand), ``F.interpolate`` where a resize mode corresponds (half-pixel bilinear
and trilinear with ``align_corners=False``, half-pixel nearest with 'round' =
``'nearest-exact'``, asymmetric nearest with 'floor' = ``'nearest'``), and an
explicit per-pixel loop (:func:`resize_loop`) for the other modes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import img, vol


def _source(i, scale, mode):
    return (i + 0.5) / scale - 0.5 if mode == "half-pixel" else i / scale


def resize_loop(x, out_hw, scales, method, mode, rounding):
    """Resize the last two axes pixel by pixel (float64), following the documented formulas."""
    H, W = x.shape[-2:]
    oh, ow = out_hw
    y = torch.zeros(*x.shape[:-2], oh, ow, dtype=x.dtype)

    def near(i, n, s):
        if rounding == "onnx-10":
            k = math.floor(i / s)
        else:
            u = _source(i, s, mode)
            k = math.floor(u) if rounding == "floor" else int(math.copysign(math.floor(abs(u) + 0.5), u))
        return min(max(k, 0), n - 1)

    def lin(i, n, s):
        u = max(_source(i, s, mode), 0.0)
        k0 = min(math.floor(u), n - 1)
        return k0, min(k0 + 1, n - 1), u - k0

    for i in range(oh):
        for j in range(ow):
            if method == "nearest":
                y[..., i, j] = x[..., near(i, H, scales[0]), near(j, W, scales[1])]
            else:
                a0, a1, la = lin(i, H, scales[0])
                b0, b1, lb = lin(j, W, scales[1])
                top = (1 - lb) * x[..., a0, b0] + lb * x[..., a0, b1]
                bottom = (1 - lb) * x[..., a1, b0] + lb * x[..., a1, b1]
                y[..., i, j] = (1 - la) * top + la * bottom
    return y


CASES = [
    LayerCase(
        # H 7 -> 4: offset ⌊3/2⌋ = 1; W 8 -> 5: offset ⌊3/2⌋ = 1 (odd extra dropped at the bottom/right)
        id="crop2dLayer-centercrop",
        make=lambda: dltk.crop2dLayer("centercrop"),
        inputs=lambda: [torch.randn(2, 3, 7, 8), torch.randn(2, 1, 4, 5)],
        reference=lambda layer, x, ref: x[:, :, 1:5, 1:6],
        signal_shapes={"location": (2,)},
        bad_inputs=[([torch.randn(2, 3, 3, 8), torch.randn(2, 1, 4, 5)], "crop window outside the input")],
        bench=Bench(
            make=lambda: dltk.crop2dLayer("centercrop"),
            torch=lambda: lambda x, r: x[..., 6:22, 6:22],
            inputs=lambda: [img(), img(c=1, h=16, w=16)],
        ),
    ),
    LayerCase(
        id="crop2dLayer-location",
        make=lambda: dltk.crop2dLayer([3, 2]),  # x = 3 (column), y = 2 (row), 1-based
        inputs=lambda: [torch.randn(2, 3, 7, 8), torch.randn(2, 3, 4, 5)],
        reference=lambda layer, x, ref: x[:, :, 1:5, 2:7],
        bad_inputs=[([torch.randn(2, 3, 7, 6), torch.randn(2, 3, 4, 5)], "Location [3 2]")],
    ),
    LayerCase(
        id="crop3dLayer-centercrop",
        make=lambda: dltk.crop3dLayer(),
        inputs=lambda: [torch.randn(1, 2, 5, 6, 4), torch.randn(1, 1, 2, 3, 4)],
        reference=lambda layer, x, ref: x[:, :, 1:3, 1:4, 0:4],
        signal_shapes={"location": (3,)},
        bench=Bench(
            make=lambda: dltk.crop3dLayer(),
            torch=lambda: lambda x, r: x[..., 4:12, 4:12, 4:12],
            inputs=lambda: [vol(), vol(c=1, d=8)],
        ),
    ),
    LayerCase(
        id="crop3dLayer-location",
        make=lambda: dltk.crop3dLayer([2, 1, 3]),  # X (width) 2, Y (height) 1, Z (depth) 3
        inputs=lambda: [torch.randn(1, 2, 5, 6, 4), torch.randn(1, 1, 2, 3, 2)],
        reference=lambda layer, x, ref: x[:, :, 2:4, 0:3, 1:3],
    ),
    LayerCase(
        id="resize2dLayer-scale-bilinear",
        make=lambda: dltk.resize2dLayer(Scale=[2.5, 1.5], Method="bilinear"),
        inputs=lambda: [torch.randn(2, 2, 3, 4)],
        reference=lambda layer, x: F.interpolate(x, scale_factor=(2.5, 1.5), mode="bilinear", align_corners=False),
        signal_shapes={"source_h": (7,), "source_w": (6,)},
        bad_inputs=[([torch.randn(2, 3, 4)], "rank 3")],
        bench=Bench(
            make=lambda: dltk.resize2dLayer(Scale=2, Method="bilinear"),
            torch=lambda: lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
            inputs=lambda: [img()],
        ),
    ),
    LayerCase(
        id="resize2dLayer-output-size-nearest",
        make=lambda: dltk.resize2dLayer(OutputSize=[5, 3]),
        inputs=lambda: [torch.randn(2, 2, 3, 7)],
        reference=lambda layer, x: F.interpolate(x, size=(5, 3), mode="nearest-exact"),
    ),
    LayerCase(
        id="resize2dLayer-asymmetric-floor",
        make=lambda: dltk.resize2dLayer(Scale=3, GeometricTransformMode="asymmetric", NearestRoundingMode="floor"),
        inputs=lambda: [torch.randn(1, 2, 2, 3)],
        reference=lambda layer, x: F.interpolate(x, scale_factor=3, mode="nearest"),
    ),
    LayerCase(
        id="resize2dLayer-asymmetric-bilinear",
        make=lambda: dltk.resize2dLayer(OutputSize=[5, 7], Method="bilinear", GeometricTransformMode="asymmetric"),
        inputs=lambda: [torch.randn(1, 2, 3, 4)],
        reference=lambda layer, x: resize_loop(x, (5, 7), (5 / 3, 7 / 4), "bilinear", "asymmetric", "round"),
    ),
    LayerCase(
        id="resize2dLayer-half-pixel-floor",
        make=lambda: dltk.resize2dLayer(OutputSize=[7, 3], NearestRoundingMode="floor"),
        inputs=lambda: [torch.randn(1, 2, 3, 5)],
        reference=lambda layer, x: resize_loop(x, (7, 3), (7 / 3, 3 / 5), "nearest", "half-pixel", "floor"),
    ),
    LayerCase(
        id="resize2dLayer-onnx-10",
        make=lambda: dltk.resize2dLayer(Scale=[1.5, 0.5], NearestRoundingMode="onnx-10"),
        inputs=lambda: [torch.randn(1, 2, 4, 6)],
        reference=lambda layer, x: resize_loop(x, (6, 3), (1.5, 0.5), "nearest", "half-pixel", "onnx-10"),
    ),
    LayerCase(
        id="resize2dLayer-reference-input",
        make=lambda: dltk.resize2dLayer(EnableReferenceInput=True, Method="bilinear"),
        inputs=lambda: [torch.randn(2, 2, 3, 4), torch.randn(2, 5, 6, 5)],
        reference=lambda layer, x, ref: F.interpolate(x, size=(6, 5), mode="bilinear", align_corners=False),
    ),
    LayerCase(
        id="resize2dLayer-keep-aspect-ratio",
        make=lambda: dltk.resize2dLayer(OutputSize=[float("nan"), 6], Method="bilinear"),
        # W 4 -> 6: scale 1.5, so H 3 -> ⌊4.5⌋ = 4; sampling then uses output/input = 4/3 as for any OutputSize
        inputs=lambda: [torch.randn(1, 2, 3, 4)],
        reference=lambda layer, x: resize_loop(x, (4, 6), (4 / 3, 1.5), "bilinear", "half-pixel", "round"),
    ),
    LayerCase(
        id="resize3dLayer-trilinear",
        make=lambda: dltk.resize3dLayer(OutputSize=[4, 3, 5], Method="trilinear"),
        inputs=lambda: [torch.randn(1, 2, 3, 2, 4)],  # (B, C, D, H, W); OutputSize is [h w d]
        reference=lambda layer, x: F.interpolate(x, size=(5, 4, 3), mode="trilinear", align_corners=False),
        signal_shapes={"source_d": (5,), "source_h": (4,), "source_w": (3,)},
        bad_inputs=[([torch.randn(1, 2, 3, 2)], "rank 4")],
        bench=Bench(
            make=lambda: dltk.resize3dLayer(Scale=2, Method="trilinear"),
            torch=lambda: lambda x: F.interpolate(x, scale_factor=2, mode="trilinear"),
            inputs=lambda: [vol()],
        ),
    ),
    LayerCase(
        id="resize3dLayer-nearest",
        make=lambda: dltk.resize3dLayer(Scale=2),
        inputs=lambda: [torch.randn(1, 1, 2, 3, 2)],
        reference=lambda layer, x: F.interpolate(x, scale_factor=2, mode="nearest-exact"),
    ),
]
