"""Battery cases for folding/unfolding, flatten and word embedding.

Flatten references use numpy's column-major (Fortran) flatten of the MATLAB
array h×w×c (×d), independent of the layer's transpose-and-reshape.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import B, img


def _image_sequence(layer):
    layer.input_layout = "BTCHW"
    return layer


def _fortran(a: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a.detach().numpy()).flatten(order="F").copy())


def _flatten_btchw(layer, x):
    b, t = x.shape[:2]
    rows = [_fortran(x[i, j].permute(1, 2, 0)) for i in range(b) for j in range(t)]  # h×w×c
    return torch.stack(rows).reshape(b, t, -1)


def _flatten_bchw(layer, x):
    return torch.stack([_fortran(x[i].permute(1, 2, 0)) for i in range(x.shape[0])])  # h×w×c


def _flatten_bcdhw(layer, x):
    return torch.stack([_fortran(x[i].permute(2, 3, 1, 0)) for i in range(x.shape[0])])  # h×w×d×c


def _embed(layer, x):
    k = x.squeeze(-1).long()
    k = torch.where((k < 1) | (k > layer.num_words), layer.num_words, k)
    return F.embedding(k - 1, layer.weight)


_WORDS = torch.tensor([[[1.0], [4.0], [10.0], [2.0]], [[3.0], [0.0], [12.0], [10.0]]])  # 0 and 12 are OOV

CASES = [
    LayerCase(
        id="sequenceFoldingLayer-image-sequence",
        make=lambda: dltk.sequenceFoldingLayer(),
        inputs=lambda: [torch.randn(2, 3, 2, 4, 4)],
        reference=lambda layer, x: (x.reshape(6, 2, 4, 4), torch.tensor(2)),
        signal_shapes={"folded": (6, 2, 4, 4)},
        bad_inputs=[
            ([torch.randn(2, 3, 4, 4)], "rank 4"),
            ([torch.ones(2, 3, 1, 2, 2, dtype=torch.int64)], "floating"),
        ],
        bench=Bench(
            make=lambda: dltk.sequenceFoldingLayer(),
            torch=lambda: nn.Flatten(0, 1),
            inputs=lambda: [torch.randn(8, 10, 16, 28, 28)],
            layouts=["BTCHW"],
        ),
    ),
    LayerCase(
        id="sequenceUnfoldingLayer-image",
        make=lambda: dltk.sequenceUnfoldingLayer(),
        inputs=lambda: [torch.randn(6, 2, 3, 3), torch.tensor(2)],
        reference=lambda layer, x, n: x.reshape(2, 3, 2, 3, 3),
        signal_shapes={"unfolded": (2, 3, 2, 3, 3)},
        bad_inputs=[([torch.randn(5, 2, 3, 3), torch.tensor(2)], "multiple of miniBatchSize 2")],
        bench=Bench(
            make=lambda: dltk.sequenceUnfoldingLayer(),
            torch=lambda: lambda x, n: x.unflatten(0, (int(n), -1)),
            inputs=lambda: [img(b=80), torch.tensor(8)],
            layouts=["BCHW", None],
        ),
    ),
    LayerCase(
        id="sequenceUnfoldingLayer-vectors",
        make=lambda: dltk.sequenceUnfoldingLayer(),
        inputs=lambda: [torch.randn(8, 3), torch.tensor(4)],
        reference=lambda layer, x, n: x.reshape(4, 2, 3),
        signal_shapes={"unfolded": (4, 2, 3)},
    ),
    LayerCase(
        id="flattenLayer-image-sequence",
        make=lambda: _image_sequence(dltk.flattenLayer()),
        inputs=lambda: [torch.randn(2, 3, 2, 3, 4)],
        reference=_flatten_btchw,
        bad_inputs=[([torch.randn(2)], "rank 1")],
        bench=Bench(
            make=lambda: dltk.flattenLayer(),
            torch=lambda: lambda x: x.transpose(-1, -2).flatten(2),
            inputs=lambda: [torch.randn(8, 10, 16, 28, 28)],
            layouts=["BTCHW"],
        ),
    ),
    LayerCase(
        id="flattenLayer-image",
        make=lambda: dltk.flattenLayer(),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        reference=_flatten_bchw,
    ),
    LayerCase(
        id="flattenLayer-volume",
        make=lambda: dltk.flattenLayer(),
        inputs=lambda: [torch.randn(2, 2, 3, 4, 5)],
        reference=_flatten_bcdhw,
    ),
    LayerCase(
        id="wordEmbeddingLayer-map-to-last",
        make=lambda: dltk.wordEmbeddingLayer(5, 10),
        inputs=lambda: [_WORDS.clone()],
        reference=_embed,
        gradcheck=False,  # word indices are not differentiable; weight gradients: tests/test_sequence_utils.py
        signal_shapes={"indices": (2, 4), "vectors": (2, 4, 5)},
        bad_inputs=[
            ([torch.tensor([[[1.5]]])], "whole-number word indices"),
            ([torch.ones(2, 4, 2)], "C is 2, expected 1"),
        ],
        bench=Bench(
            make=lambda: dltk.wordEmbeddingLayer(64, 1000),
            torch=lambda: (lambda m: lambda x: m(x.squeeze(-1).long() - 1))(nn.Embedding(1000, 64)),
            inputs=lambda: [torch.randint(1, 1001, (B, 50, 1)).float()],
        ),
    ),
    LayerCase(
        id="wordEmbeddingLayer-error-mode-features",
        make=lambda: dltk.wordEmbeddingLayer(3, 12, OOVMode="error", WeightsInitializer="glorot"),
        inputs=lambda: [torch.tensor([[1.0], [12.0], [7.0]])],
        reference=_embed,
        gradcheck=False,
        signal_shapes={"indices": (3,), "vectors": (3, 3)},
        bad_inputs=[([torch.tensor([[1.0], [13.0]])], "found index 13"), ([torch.tensor([[0.0]])], "found index 0")],
    ),
]
