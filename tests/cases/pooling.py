"""Battery cases for the pooling layers.

References in float64: ``F.avg_pool2d/3d``, ``F.max_pool2d/3d(return_indices=True)``
(padding written out with ``F.pad``: zeros for average, −inf for max),
``F.adaptive_avg_pool*``/``adaptive_max_pool*``, ``F.max_unpool2d``, and an
explicit loop for ROI max pooling (no torchvision).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import img, roi_inputs, torch_roi_pool, torch_unpool, unpool_inputs, vol

NEG = -float("inf")


def _avg_mean_padding(x, pads, k, s):
    """Average over real elements only (PaddingValue 'mean'): pads = F.pad order."""
    num = F.avg_pool2d(F.pad(x, pads), k, s, divisor_override=1)
    cnt = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), pads), k, s, divisor_override=1)
    return num / cnt


def roi_max_pool_loop(x, rois, out_hw):
    """Fast R-CNN ROI max pooling written as loops (rows [b, x, y, w, h], b 0-based, x/y 1-based)."""
    oh, ow = out_hw
    H, W = x.shape[-2:]
    outs = []
    for r in rois.tolist():
        b, x0, y0, w, h = round(r[0]), round(r[1]) - 1, round(r[2]) - 1, max(round(r[3]), 1), max(round(r[4]), 1)
        bins = torch.zeros(x.shape[1], oh, ow, dtype=x.dtype)
        for i in range(oh):
            r0 = min(max(y0 + math.floor(i * h / oh), 0), H)
            r1 = min(max(y0 + math.ceil((i + 1) * h / oh), 0), H)
            for j in range(ow):
                c0 = min(max(x0 + math.floor(j * w / ow), 0), W)
                c1 = min(max(x0 + math.ceil((j + 1) * w / ow), 0), W)
                if r1 > r0 and c1 > c0:
                    bins[:, i, j] = x[b, :, r0:r1, c0:c1].amax(dim=(-1, -2))
        outs.append(bins)
    return torch.stack(outs)


def _unpool_inputs():
    x = torch.randn(2, 3, 6, 5)
    y, idx = F.max_pool2d(x, 2, 2, return_indices=True)
    return [y, idx, torch.tensor([2, 3, 6, 5])]


ROIS = torch.tensor([[0.0, 1, 1, 4, 4], [1, 3, 2, 5, 6], [1, 6, 5, 5, 5], [0, 2, 3, 1, 1]])

CASES = [
    LayerCase(
        id="averagePooling2dLayer-stride",
        make=lambda: dltk.averagePooling2dLayer(2, Stride=2),
        inputs=lambda: [torch.randn(2, 3, 5, 6)],
        reference=lambda layer, x: F.avg_pool2d(x, 2, 2),
        signal_shapes={"window_mean": (2, 3, 2, 3), "window_count": (1, 1, 2, 3)},
        bad_inputs=[([torch.randn(2, 3, 5)], "rank 3"), ([torch.randn(1, 1, 1, 6)], "after padding")],
        bench=Bench(
            make=lambda: dltk.averagePooling2dLayer(2, Stride=2),
            torch=lambda: nn.AvgPool2d(2, 2),
            inputs=lambda: [img()],
        ),
    ),
    LayerCase(
        # 'same', stride 2, pool 3: H 5 -> 3 rows, total 2 -> [1 1]; W 6 -> 3 cols, total 1 -> [0 1]
        id="averagePooling2dLayer-same-zeros-counted",
        make=lambda: dltk.averagePooling2dLayer(3, Stride=2, Padding="same"),
        inputs=lambda: [torch.randn(2, 2, 5, 6)],
        reference=lambda layer, x: F.avg_pool2d(F.pad(x, (0, 1, 1, 1)), 3, 2),
    ),
    LayerCase(
        id="averagePooling2dLayer-padding-mean",
        make=lambda: dltk.averagePooling2dLayer([3, 2], Padding=[1, 0, 1, 1], PaddingValue="mean"),
        inputs=lambda: [torch.randn(1, 2, 4, 4)],
        reference=lambda layer, x: _avg_mean_padding(x, (1, 1, 1, 0), (3, 2), 1),
        signal_shapes={"window_count": (1, 1, 3, 5)},
    ),
    LayerCase(
        id="averagePooling2dLayer-image-sequence",
        make=lambda: dltk.averagePooling2dLayer(2, Stride=2),
        inputs=lambda: [torch.randn(2, 3, 2, 4, 4)],
        reference=lambda layer, x: F.avg_pool2d(x.flatten(0, 1), 2, 2).unflatten(0, (2, 3)),
    ),
    LayerCase(
        id="averagePooling3dLayer",
        # pool [h w d] = [2 2 1] -> torch (1, 2, 2); Padding [a b c] = [1 1 0]: no depth padding
        make=lambda: dltk.averagePooling3dLayer([2, 2, 1], Stride=[1, 2, 1], Padding=[1, 1, 0]),
        inputs=lambda: [torch.randn(1, 2, 3, 4, 3)],
        reference=lambda layer, x: F.avg_pool3d(F.pad(x, (1, 1, 1, 1, 0, 0)), (1, 2, 2), (1, 1, 2)),
        bad_inputs=[([torch.randn(1, 2, 3, 4)], "rank 4")],
        bench=Bench(
            make=lambda: dltk.averagePooling3dLayer(2, Stride=2),
            torch=lambda: nn.AvgPool3d(2, 2),
            inputs=lambda: [vol()],
        ),
    ),
    LayerCase(
        id="maxPooling2dLayer-stride",
        make=lambda: dltk.maxPooling2dLayer(2, Stride=2),
        inputs=lambda: [torch.randn(2, 3, 5, 6)],
        reference=lambda layer, x: F.max_pool2d(x, 2, 2),
        signal_shapes={"indices": (2, 3, 2, 3), "window_max": (2, 3, 2, 3), "switch_mask": (2, 3, 5, 6)},
        bad_inputs=[([torch.randn(2, 3, 5)], "rank 3"), ([torch.randn(1, 1, 6, 1)], "after padding")],
        bench=Bench(
            make=lambda: dltk.maxPooling2dLayer(2, Stride=2), torch=lambda: nn.MaxPool2d(2, 2), inputs=lambda: [img()]
        ),
    ),
    LayerCase(
        # 'same', pool 3 stride 2: H 6 -> 3 rows, total 1 -> [0 1]; W 5 -> 3 cols, total 2 -> [1 1]
        id="maxPooling2dLayer-same-unpooling-outputs",
        make=lambda: dltk.maxPooling2dLayer(3, Stride=2, Padding="same", HasUnpoolingOutputs=True),
        inputs=lambda: [torch.randn(2, 2, 6, 5)],
        reference=lambda layer, x: (*_max_pool_unpadded(x, (1, 1, 0, 1), 3, 2), torch.tensor([2, 2, 6, 5])),
    ),
    LayerCase(
        id="maxPooling2dLayer-asymmetric-padding",
        make=lambda: dltk.maxPooling2dLayer([2, 3], Padding=[1, 0, 2, 1], Stride=[1, 2]),
        inputs=lambda: [torch.randn(1, 2, 4, 5)],
        reference=lambda layer, x: F.max_pool2d(F.pad(x, (2, 1, 1, 0), value=NEG), (2, 3), (1, 2)),
    ),
    LayerCase(
        id="maxPooling3dLayer",
        make=lambda: dltk.maxPooling3dLayer([2, 3, 2], Stride=2),
        inputs=lambda: [torch.randn(1, 2, 4, 4, 5)],
        reference=lambda layer, x: F.max_pool3d(x, (2, 2, 3), 2),
        signal_shapes={"indices": (1, 2, 2, 2, 2), "switch_mask": (1, 2, 4, 4, 5)},
        bench=Bench(
            make=lambda: dltk.maxPooling3dLayer(2, Stride=2), torch=lambda: nn.MaxPool3d(2, 2), inputs=lambda: [vol()]
        ),
    ),
    LayerCase(
        id="globalAveragePooling2dLayer",
        make=lambda: dltk.globalAveragePooling2dLayer(),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        reference=lambda layer, x: F.adaptive_avg_pool2d(x, 1),
        bad_inputs=[([torch.randn(2, 3)], "rank 2")],
        bench=Bench(
            make=lambda: dltk.globalAveragePooling2dLayer(),
            torch=lambda: nn.AdaptiveAvgPool2d(1),
            inputs=lambda: [img()],
        ),
    ),
    LayerCase(
        id="globalAveragePooling3dLayer",
        make=lambda: dltk.globalAveragePooling3dLayer(),
        inputs=lambda: [torch.randn(2, 3, 2, 4, 3)],
        reference=lambda layer, x: F.adaptive_avg_pool3d(x, 1),
        bench=Bench(
            make=lambda: dltk.globalAveragePooling3dLayer(),
            torch=lambda: nn.AdaptiveAvgPool3d(1),
            inputs=lambda: [vol()],
        ),
    ),
    LayerCase(
        id="globalMaxPooling2dLayer",
        make=lambda: dltk.globalMaxPooling2dLayer(),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        reference=lambda layer, x: F.adaptive_max_pool2d(x, 1),
        signal_shapes={"indices": (2, 3, 1, 1), "switch_mask": (2, 3, 4, 5)},
        bench=Bench(
            make=lambda: dltk.globalMaxPooling2dLayer(), torch=lambda: nn.AdaptiveMaxPool2d(1), inputs=lambda: [img()]
        ),
    ),
    LayerCase(
        id="globalMaxPooling3dLayer",
        make=lambda: dltk.globalMaxPooling3dLayer(),
        inputs=lambda: [torch.randn(2, 3, 2, 4, 3)],
        reference=lambda layer, x: F.adaptive_max_pool3d(x, 1),
        signal_shapes={"indices": (2, 3, 1, 1, 1)},
        bench=Bench(
            make=lambda: dltk.globalMaxPooling3dLayer(), torch=lambda: nn.AdaptiveMaxPool3d(1), inputs=lambda: [vol()]
        ),
    ),
    LayerCase(
        id="maxUnpooling2dLayer",
        make=lambda: dltk.maxUnpooling2dLayer(),
        inputs=_unpool_inputs,
        reference=lambda layer, y, idx, size: F.max_unpool2d(y, idx, 2, 2, output_size=(6, 5)),
        bad_inputs=[
            ([torch.randn(2, 3, 3, 2), torch.zeros(2, 3, 3, 2), torch.tensor([2, 3, 6, 5])], "int64"),
            ([torch.randn(2, 3, 3, 2), torch.full((2, 3, 3, 2), 30), torch.tensor([2, 3, 6, 5])], "plane"),
        ],
        bench=Bench(make=lambda: dltk.maxUnpooling2dLayer(), torch=torch_unpool, inputs=unpool_inputs),
    ),
    LayerCase(
        id="roiMaxPooling2dLayer",
        make=lambda: dltk.roiMaxPooling2dLayer([2, 3]),
        inputs=lambda: [torch.randn(2, 2, 7, 8), ROIS.clone()],
        reference=lambda layer, x, rois: roi_max_pool_loop(x, rois, (2, 3)),
        signal_shapes={"boxes": (4, 4)},
        bad_inputs=[
            ([torch.randn(2, 2, 7, 8), torch.zeros(3, 4)], "(R, 5)"),
            ([torch.randn(2, 2, 7, 8), torch.tensor([[2.0, 1, 1, 2, 2]])], "batch indices"),
            ([torch.randn(2, 2, 7, 8), torch.tensor([[0.0, 1, 1, 2, 2], [1.0, 1, 1, 0, 2]])], "positive widths"),
        ],
        bench=Bench(make=lambda: dltk.roiMaxPooling2dLayer([4, 4]), torch=torch_roi_pool, inputs=roi_inputs),
    ),
]


def _max_pool_unpadded(x, pads, k, s):
    """Max pooling with −inf padding; indices converted back to the unpadded plane."""
    l, r, t, b = pads
    xp = F.pad(x, pads, value=NEG)
    y, idx = F.max_pool2d(xp, k, s, return_indices=True)
    wp, w = xp.shape[-1], x.shape[-1]
    return y, (idx // wp - t) * w + (idx % wp - l)
