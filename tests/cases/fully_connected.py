"""Battery cases for ``fullyConnectedLayer`` (references: ``torch.nn.functional.linear``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import feat


def _linear(layer, x):
    return F.linear(x, layer.weight, layer.bias)


def _image2d(layer, x):
    # MATLAB flattens h×w×c column-major: h fastest, then w, then c
    b, c, h, w = x.shape
    return F.linear(x.permute(0, 1, 3, 2).reshape(b, c * w * h), layer.weight, layer.bias)


def _image3d(layer, x):
    # h×w×d×c column-major: h fastest, then w, then d, then c
    b = x.shape[0]
    return F.linear(x.permute(0, 1, 2, 4, 3).reshape(b, -1), layer.weight, layer.bias)


CASES = [
    LayerCase(
        id="fullyConnectedLayer-features",
        make=lambda: dltk.fullyConnectedLayer(5),
        inputs=lambda: [torch.randn(3, 7)],
        reference=_linear,
        signal_shapes={"input_flat": (3, 7), "pre_bias": (3, 5)},
        bad_inputs=[
            ([torch.randn(3, 6)], "C is 6, expected 7"),
            ([torch.randn(7)], "rank 1"),
            ([torch.ones(3, 7, dtype=torch.int64)], "floating-point"),
        ],
        bench=Bench(
            make=lambda: dltk.fullyConnectedLayer(128), torch=lambda: nn.Linear(256, 128), inputs=lambda: [feat()]
        ),
    ),
    LayerCase(
        id="fullyConnectedLayer-sequence",
        make=lambda: dltk.fullyConnectedLayer(4, InputSize=6, BiasInitializer="narrow-normal"),
        inputs=lambda: [torch.randn(2, 5, 6)],
        reference=_linear,
        signal_shapes={"input_flat": (2, 5, 6), "pre_bias": (2, 5, 4)},
        bad_inputs=[([torch.randn(2, 5, 3)], "C is 3, expected 6")],
    ),
    LayerCase(
        id="fullyConnectedLayer-image2d",
        make=lambda: dltk.fullyConnectedLayer(3, "WeightsInitializer", "he"),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        reference=_image2d,
        signal_shapes={"input_flat": (2, 60), "pre_bias": (2, 3)},
        bad_inputs=[
            ([torch.randn(2, 3, 5, 4, 2, 1)], "rank 6"),
            ([torch.randn(2, 3, 4, 4)], "48 values per observation"),
        ],
    ),
    LayerCase(
        id="fullyConnectedLayer-image3d",
        make=lambda: dltk.fullyConnectedLayer(2),
        inputs=lambda: [torch.randn(2, 2, 3, 4, 2)],
        reference=_image3d,
        signal_shapes={"input_flat": (2, 48), "pre_bias": (2, 2)},
    ),
]
