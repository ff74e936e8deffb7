"""Battery cases for the convolution layers.

References in float64: ``F.conv2d``/``conv3d``/``conv_transpose2d``/``conv_transpose3d``
with the padding written out by hand (``numpy.pad`` for the symmetric modes,
``F.pad`` otherwise) and the ``'same'`` pads computed on paper for each case.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import img, vol


def _np_pad(x, pads, mode):
    """numpy.pad on the last two axes; pads = (top, bottom, left, right)."""
    t, b, l, r = pads
    arr = np.pad(x.detach().numpy(), [(0, 0), (0, 0), (t, b), (l, r)], mode=mode)
    return torch.from_numpy(arr)


def _conv(layer, x, **kw):
    return F.conv2d(x, layer.weight, layer.bias, **kw)


CASES = [
    LayerCase(
        id="convolution2dLayer-default",
        make=lambda: dltk.convolution2dLayer(3, 3),
        inputs=lambda: [torch.randn(2, 2, 5, 6)],
        reference=lambda layer, x: _conv(layer, x),
        signal_shapes={"padded_input": (2, 2, 5, 6), "pre_bias": (2, 3, 3, 4)},
        bad_inputs=[
            ([torch.randn(2, 3, 5, 6)], "C is 3, expected 2"),
            ([torch.randn(2, 2, 6)], "rank 3"),
            ([torch.randn(1, 2, 2, 6)], "after padding"),
            ([torch.ones(2, 2, 5, 6, dtype=torch.int64)], "floating-point"),
        ],
        bench=Bench(
            make=lambda: dltk.convolution2dLayer(3, 32, Padding="same"),
            torch=lambda: nn.Conv2d(16, 32, 3, padding=1),
            inputs=lambda: [img()],
        ),
    ),
    LayerCase(
        # 'same' with stride 2: H 8 -> 4 rows, total pad 1 -> [0 1]; W 6 -> 6 cols with
        # dilation 2 (effective width 3), total pad 2 -> [1 1]
        id="convolution2dLayer-same-stride-dilation",
        make=lambda: dltk.convolution2dLayer([3, 2], 3, Stride=[2, 1], DilationFactor=[1, 2], Padding="same"),
        inputs=lambda: [torch.randn(2, 2, 8, 6)],
        reference=lambda layer, x: _conv(layer, F.pad(x, (1, 1, 0, 1)), stride=(2, 1), dilation=(1, 2)),
        signal_shapes={"padded_input": (2, 2, 9, 8), "pre_bias": (2, 3, 4, 6)},
    ),
    LayerCase(
        id="convolution2dLayer-asymmetric-replicate",
        make=lambda: dltk.convolution2dLayer(3, 2, Padding=[1, 0, 2, 1], PaddingValue="replicate", Stride=2),
        inputs=lambda: [torch.randn(2, 2, 5, 5)],
        reference=lambda layer, x: _conv(layer, _np_pad(x, (1, 0, 2, 1), "edge"), stride=2),
        signal_shapes={"padded_input": (2, 2, 6, 8), "pre_bias": (2, 2, 2, 3)},
    ),
    LayerCase(
        id="convolution2dLayer-symmetric-include-edge",
        make=lambda: dltk.convolution2dLayer(3, 2, Padding=[2, 1], PaddingValue="symmetric-include-edge"),
        inputs=lambda: [torch.randn(1, 2, 4, 5)],
        reference=lambda layer, x: _conv(layer, _np_pad(x, (2, 2, 1, 1), "symmetric")),
    ),
    LayerCase(
        id="convolution2dLayer-symmetric-exclude-edge",
        make=lambda: dltk.convolution2dLayer(3, 2, Padding="same", PaddingValue="symmetric-exclude-edge"),
        inputs=lambda: [torch.randn(1, 2, 4, 5)],
        reference=lambda layer, x: _conv(layer, _np_pad(x, (1, 1, 1, 1), "reflect")),
    ),
    LayerCase(
        id="convolution2dLayer-padding-value",
        make=lambda: dltk.convolution2dLayer(2, 3, Padding=1, PaddingValue=2.5, NumChannels=2),
        inputs=lambda: [torch.randn(1, 2, 4, 4)],
        reference=lambda layer, x: _conv(layer, F.pad(x, (1, 1, 1, 1), value=2.5)),
        bad_inputs=[([torch.randn(1, 3, 4, 4)], "C is 3, expected 2")],
    ),
    LayerCase(
        id="convolution2dLayer-image-sequence",
        make=lambda: dltk.convolution2dLayer(3, 2, Padding="same"),
        inputs=lambda: [torch.randn(1, 2, 2, 4, 4)],  # (B, T, C, H, W)
        reference=lambda layer, x: _conv(layer, x.flatten(0, 1), padding=1).unflatten(0, (1, 2)),
        signal_shapes={"padded_input": (1, 2, 2, 6, 6), "pre_bias": (1, 2, 2, 4, 4)},
    ),
    LayerCase(
        # FilterSize [h w d] = [3 2 2] -> torch kernel (2, 3, 2); Padding [t l f; b r k]
        id="convolution3dLayer",
        make=lambda: dltk.convolution3dLayer([3, 2, 2], 3, Padding=[[1, 0, 1], [0, 1, 0]], Stride=[1, 2, 1]),
        inputs=lambda: [torch.randn(1, 2, 3, 4, 5)],
        reference=lambda layer, x: F.conv3d(F.pad(x, (0, 1, 1, 0, 1, 0)), layer.weight, layer.bias, stride=(1, 1, 2)),
        signal_shapes={"padded_input": (1, 2, 4, 5, 6), "pre_bias": (1, 3, 3, 3, 3)},
        bad_inputs=[([torch.randn(2, 2, 4, 5)], "rank 4"), ([torch.randn(1, 2, 1, 1, 1)], "after padding")],
        bench=Bench(
            make=lambda: dltk.convolution3dLayer(3, 16, Padding="same"),
            torch=lambda: nn.Conv3d(8, 16, 3, padding=1),
            inputs=lambda: [vol()],
        ),
    ),
    LayerCase(
        id="convolution3dLayer-same",
        make=lambda: dltk.convolution3dLayer(3, 2, Padding="same", Stride=2),
        inputs=lambda: [torch.randn(1, 2, 4, 3, 5)],
        # D 4: out 2, total 1 -> front 0 back 1; H 3: out 2, total 2 -> 1 1; W 5: out 3, total 2 -> 1 1
        reference=lambda layer, x: F.conv3d(F.pad(x, (1, 1, 1, 1, 0, 1)), layer.weight, layer.bias, stride=2),
    ),
    LayerCase(
        id="groupedConvolution2dLayer",
        make=lambda: dltk.groupedConvolution2dLayer(3, 1, 2, Padding=1),
        inputs=lambda: [torch.randn(1, 4, 4, 4)],
        reference=lambda layer, x: _conv(layer, x, padding=1, groups=2),
        signal_shapes={"pre_bias": (1, 2, 4, 4)},
        bad_inputs=[([torch.randn(1, 3, 4, 4)], "C is 3, expected 4")],
        bench=Bench(
            make=lambda: dltk.groupedConvolution2dLayer(3, 4, 4, Padding="same"),
            torch=lambda: nn.Conv2d(16, 16, 3, padding=1, groups=4),
            inputs=lambda: [img()],
        ),
    ),
    LayerCase(
        id="groupedConvolution2dLayer-channel-wise",
        make=lambda: dltk.groupedConvolution2dLayer([3, 1], 2, "channel-wise", Stride=[1, 2]),
        inputs=lambda: [torch.randn(1, 2, 4, 4)],
        reference=lambda layer, x: _conv(layer, x, stride=(1, 2), groups=2),
    ),
    LayerCase(
        id="transposedConv2dLayer-cropping",
        make=lambda: dltk.transposedConv2dLayer([3, 4], 2, Stride=2, Cropping=[1, 0, 1, 2]),
        inputs=lambda: [torch.randn(1, 2, 3, 3)],
        reference=lambda layer, x: F.conv_transpose2d(x, layer.weight, layer.bias, stride=2)[:, :, 1:, 1:-2],
        signal_shapes={"uncropped": (1, 2, 7, 8), "pre_bias": (1, 2, 6, 5)},
        bad_inputs=[([torch.randn(1, 5, 3, 3)], "C is 5, expected 2")],
        bench=Bench(
            make=lambda: dltk.transposedConv2dLayer(4, 8, Stride=2),
            torch=lambda: nn.ConvTranspose2d(16, 8, 4, stride=2),
            inputs=lambda: [img()],
        ),
    ),
    LayerCase(
        # 'same': output stride·in; filter 5 stride 2 -> crop 3 = [1 2] (odd extra at the bottom/right)
        id="transposedConv2dLayer-same",
        make=lambda: dltk.transposedConv2dLayer(5, 2, Stride=2, Cropping="same"),
        inputs=lambda: [torch.randn(1, 3, 3, 4)],
        reference=lambda layer, x: F.conv_transpose2d(x, layer.weight, layer.bias, stride=2)[:, :, 1:-2, 1:-2],
        signal_shapes={"uncropped": (1, 2, 9, 11), "pre_bias": (1, 2, 6, 8)},
    ),
    LayerCase(
        id="transposedConv3dLayer",
        make=lambda: dltk.transposedConv3dLayer([2, 3, 2], 2, Stride=[2, 1, 2]),
        inputs=lambda: [torch.randn(1, 2, 2, 3, 2)],
        reference=lambda layer, x: F.conv_transpose3d(x, layer.weight, layer.bias, stride=(2, 2, 1)),
        signal_shapes={"uncropped": (1, 2, 4, 6, 4)},
        bad_inputs=[([torch.randn(1, 2, 3, 2)], "rank 4")],
        bench=Bench(
            make=lambda: dltk.transposedConv3dLayer(2, 8, Stride=2),
            torch=lambda: nn.ConvTranspose3d(8, 8, 2, stride=2),
            inputs=lambda: [vol()],
        ),
    ),
]
