"""Recorded signals checked against their own definition, not through a neighbouring value.

Each test here guards a signal a student reads (or a lesson grades) that other tests only saw
indirectly: a bug in the signal alone (an index off by one, a mask that does not match the output,
batch statistics of the wrong axis…) must fail here even while the layer's output stays right.
References are explicit (float64, written from the documented formula), never the layer itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dltk

D = torch.float64


# ------------------------------------------------------------------ max pooling: recorded indices
def _distinct(*shape: int) -> torch.Tensor:
    """Random values without ties, so every window has exactly one winner."""
    n = int(np.prod(shape))
    return (torch.randperm(n, dtype=D) + torch.rand(n, dtype=D) * 0.5).view(shape)


def _reference_indices(x: torch.Tensor, pool: tuple, stride: tuple, pads: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Window maxima and flat unpadded-plane indices from an explicit -inf padding (torch-order pads)."""
    n = len(pool)
    flat_pads = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    padded = F.pad(x, flat_pads, value=-float("inf"))
    fn = F.max_pool2d if n == 2 else F.max_pool3d
    y, idx = fn(padded, pool, stride, return_indices=True)
    coords = np.unravel_index(idx.numpy(), padded.shape[2:])
    coords = [c - pads[k][0] for k, c in enumerate(coords)]
    assert all((c >= 0).all() and (c < x.shape[2 + k]).all() for k, c in enumerate(coords))
    return y, torch.as_tensor(np.ravel_multi_index(coords, x.shape[2:]))


PADS_2D = [  # (Padding option, torch-order pairs)
    (0, ((0, 0), (0, 0))),
    (1, ((1, 1), (1, 1))),
    ([1, 0, 0, 2], ((1, 0), (0, 2))),  # [t b l r]
    ([0, 2, 1, 0], ((0, 2), (1, 0))),
]


@pytest.mark.parametrize(("padding", "pads"), PADS_2D)
def test_max_pool_2d_recorded_indices(padding, pads) -> None:
    x = _distinct(2, 3, 7, 6)
    kw = dict(Stride=2, Padding=padding)
    rec = dltk.record(dltk.maxPooling2dLayer(3, **kw), x)
    idx = rec["maxpool"]["indices"]
    # 1. the recorded indices are the layer's own unpooling indices
    y, unpool_idx, _ = dltk.maxPooling2dLayer(3, HasUnpoolingOutputs=True, **kw)(x)
    assert idx.dtype == torch.int64 and torch.equal(idx, unpool_idx)
    # 2. gathering the input at them gives the window maxima
    assert torch.equal(x.flatten(2).gather(2, idx.flatten(2)).view_as(y), rec.output)
    assert torch.equal(rec["maxpool"]["window_max"], rec.output)
    # 3. and they are the explicit reference's winners
    ry, ridx = _reference_indices(x, (3, 3), (2, 2), pads)
    assert torch.equal(rec.output, ry) and torch.equal(idx, ridx)
    # 4. the recorded indices of a layer with unpooling outputs are the ones it returns
    rec2 = dltk.record(dltk.maxPooling2dLayer(3, HasUnpoolingOutputs=True, **kw), x)
    assert torch.equal(rec2["maxpool"]["indices"], unpool_idx)


def test_max_pool_2d_indices_on_the_issue_example() -> None:
    x = torch.arange(16, dtype=D).view(1, 1, 4, 4)  # winners: bottom-right of each 2×2 block
    rec = dltk.record(dltk.maxPooling2dLayer(2, Stride=2), x)
    assert rec["maxpool"]["indices"].flatten().tolist() == [5, 7, 13, 15]
    x = torch.tensor([[9.0, 0, 9, 0], [0, 0, 0, 0], [9, 0, 9, 0], [0, 0, 0, 0]], dtype=D).view(1, 1, 4, 4)
    rec = dltk.record(dltk.maxPooling2dLayer(2, Stride=2), x)  # winners: top-left of each block
    assert rec["maxpool"]["indices"].flatten().tolist() == [0, 2, 8, 10]


PADS_3D = [
    (0, ((0, 0), (0, 0), (0, 0))),
    (1, ((1, 1), (1, 1), (1, 1))),
    ([[1, 0, 2], [2, 1, 1]], ((2, 1), (1, 2), (0, 1))),  # [t l f; b r k] -> torch (d, h, w)
]


@pytest.mark.parametrize(("padding", "pads"), PADS_3D)
def test_max_pool_3d_recorded_indices(padding, pads) -> None:
    x = _distinct(2, 2, 5, 6, 4)
    rec = dltk.record(dltk.maxPooling3dLayer([3, 2, 3], Stride=2, Padding=padding), x)
    idx = rec["maxpool"]["indices"]
    assert idx.dtype == torch.int64 and idx.shape == rec.output.shape
    assert torch.equal(x.flatten(2).gather(2, idx.flatten(2)).view_as(rec.output), rec.output)
    ry, ridx = _reference_indices(x, (3, 3, 2), (2, 2, 2), pads)  # pool [h w d] -> torch (d, h, w)
    assert torch.equal(rec.output, ry) and torch.equal(idx, ridx)


@pytest.mark.parametrize("n", [2, 3])
def test_max_pool_switch_mask_is_the_count_of_recorded_indices(n) -> None:
    x = _distinct(2, 3, 6, 7) if n == 2 else _distinct(1, 2, 5, 4, 6)
    layer = dltk.maxPooling2dLayer(3, Padding=[1, 0, 0, 1]) if n == 2 else dltk.maxPooling3dLayer(3, Padding=1)
    s = dltk.record(layer, x)["maxpool"]
    counts = torch.zeros(x.shape[:2].numel(), x.shape[2:].numel(), dtype=D)
    flat = s["indices"].flatten(2).flatten(0, 1)
    counts.scatter_add_(1, flat, torch.ones(flat.shape, dtype=D))
    assert torch.equal(s["switch_mask"], counts.view_as(x))
    assert s["switch_mask"].sum() == s["indices"].numel()
