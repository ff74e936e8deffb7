"""Benchmark inputs and PyTorch formulas for the ``bench=`` entries of the layer cases.

Every catalog layer's first case carries a :class:`dltk.testing.Bench`: the layer at
the sizes a student's network feeds it and its PyTorch counterpart;
``benchmarks/bench_layers.py`` times them side by side. Sizes: images
B×C×H×W = 32×16×28×28, sequences B×T×C = 32×50×64, features 128×256, volumes
8×8×16³, losses on 128×10 class probabilities (MATLAB's default mini-batch) or
8×5×64×64 pixel maps; float32.

(Not a case module: the leading underscore keeps it out of ``all_cases()``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

import dltk

B = 32


def img(c: int = 16, h: int = 28, w: int = 28, b: int = B) -> torch.Tensor:
    return torch.randn(b, c, h, w)


def seq(c: int = 64, t: int = 50, b: int = B) -> torch.Tensor:
    return torch.randn(b, t, c)


def vol(c: int = 8, d: int = 16, b: int = 8) -> torch.Tensor:
    return torch.randn(b, c, d, d, d)


def feat(c: int = 256, b: int = 128) -> torch.Tensor:
    return torch.randn(b, c)


def probs(*shape: int) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape), dim=1)


def labels10() -> torch.Tensor:
    """128 class indices of 10 classes."""
    return torch.randint(0, 10, (128,))


def pixel_labels() -> torch.Tensor:
    """8 label maps 64×64 of 5 classes."""
    return torch.randint(0, 5, (8, 64, 64))


def standardize(*stat_shape: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """(x − μ) / σ with per-channel statistics shaped as the input layer keeps them."""
    mu, sd = torch.randn(stat_shape), torch.rand(stat_shape) + 0.5
    return lambda x: (x - mu) / sd


def dice_loss(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    oh = F.one_hot(t, y.shape[1]).movedim(-1, 1).to(y.dtype)
    w = 1 / oh.sum((2, 3)).clamp_min(1) ** 2
    inter, union = (y * oh).sum((2, 3)), (y * y + oh * oh).sum((2, 3))
    return (1 - (2 * (w * inter).sum(1) + 1e-8) / ((w * union).sum(1) + 1e-8)).mean()


def tversky_loss(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    oh = F.one_hot(t, y.shape[1]).movedim(-1, 1).to(y.dtype)
    tp, fp, fn = (y * oh).sum((2, 3)), (y * (1 - oh)).sum((2, 3)), ((1 - y) * oh).sum((2, 3))
    return (1 - (tp + 1e-8) / (tp + 0.5 * fp + 0.5 * fn + 1e-8)).sum() / y.shape[0]


def focal_loss(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    p = y.gather(1, t[:, None]).squeeze(1)
    return (-0.25 * (1 - p) ** 2 * torch.log(p)).sum() / y.shape[0]


def unpool_inputs() -> list[Any]:
    pool = dltk.maxPooling2dLayer(2, Stride=2, HasUnpoolingOutputs=True).eval()
    with torch.no_grad():
        out, idx, size = pool(img())
    return [out, idx, size]


def torch_unpool() -> Callable[..., Any]:
    unpool = nn.MaxUnpool2d(2, 2)
    return lambda x, i, s: unpool(x, i)


def roi_inputs() -> list[Any]:
    """8 feature maps 16×28×28 and 96 ROIs (12 per image) of 2…14 pixels inside them."""
    b = torch.arange(8.0).repeat_interleave(12)[:, None]
    wh = torch.randint(2, 15, (96, 2)).float()
    xy = 1 + (torch.rand(96, 2) * (29 - wh)).floor()
    return [img(b=8), torch.cat([b, xy, wh], 1)]


def torch_roi_pool() -> Callable[..., Any]:
    """``torchvision.ops.roi_pool`` when installed, else the explicit loop of the pooling cases."""
    try:
        from torchvision.ops import roi_pool
    except ImportError:  # the explicit loop of the tests (no PyTorch op without torchvision)
        from .pooling import roi_max_pool_loop

        def loop(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
            return roi_max_pool_loop(x, r, (4, 4))

        loop.note = "reference: explicit per-bin loop (torchvision not installed)"  # type: ignore[attr-defined]
        return loop
    # torchvision boxes [b, x1, y1, x2, y2] (0-based, inclusive corners) from [b, x, y, w, h] (1-based)
    return lambda x, r: roi_pool(x, torch.cat([r[:, :1], r[:, 1:3] - 1, r[:, 1:3] + r[:, 3:] - 2], 1), (4, 4))
