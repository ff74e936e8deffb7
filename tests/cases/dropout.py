"""Battery cases for ``dropoutLayer`` (reference: ``F.dropout`` under the same seed)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import img

CASES = [
    LayerCase(
        id="dropoutLayer-default-image-train",
        make=lambda: dltk.dropoutLayer(),
        inputs=lambda: [torch.randn(2, 3, 4, 4)],
        reference=lambda layer, x: F.dropout(x, 0.5, True),
        train=True,
        signal_shapes={"mask": (2, 3, 4, 4)},
        bad_inputs=[([torch.randn(3)], "rank 1"), ([torch.ones(2, 3, dtype=torch.int64)], "floating-point")],
        bench=Bench(
            make=lambda: dltk.dropoutLayer(0.5), torch=lambda: nn.Dropout(0.5), inputs=lambda: [img()], train=True
        ),
    ),
    LayerCase(
        id="dropoutLayer-sequence-train",
        make=lambda: dltk.dropoutLayer(0.2, Name="drop"),
        inputs=lambda: [torch.randn(3, 6, 4)],
        reference=lambda layer, x: F.dropout(x, 0.2, True),
        train=True,
        signal_shapes={"mask": (3, 6, 4)},
    ),
    LayerCase(
        id="dropoutLayer-eval-identity",
        make=lambda: dltk.dropoutLayer(0.3),
        inputs=lambda: [torch.randn(4, 5)],
        reference=lambda layer, x: x.clone(),
        absent_signals=("mask",),
        bad_inputs=[([torch.randn(1, 1, 1, 1, 1, 1)], "rank 6")],
    ),
]
