"""Per-layer speed: plain dltk forward vs the equivalent PyTorch forward.

For every catalog layer, one representative configuration and input — the
sizes a student's network feeds it (float32; images B×C×H×W = 32×16×28×28,
sequences B×T×C = 32×50×64, features 128×256, volumes 8×8×16³, losses on
128×10 class probabilities (MATLAB's default mini-batch) or 8×5×64×64 pixel
maps; every row of the table states its input) — the dltk layer (no
recording) and its PyTorch counterpart run side by side in one process.

Both sides are called the way a network calls a layer: the dltk layer as
``layer(x)`` (output layers: ``layer.loss(y, targets)``), the PyTorch side as a
module call — PyTorch's own module when there is one (``nn.Conv2d``,
``nn.Flatten``, ``nn.L1Loss`` …), otherwise a minimal ``nn.Module`` whose
``forward`` is the op or formula named in ``torch_equivalent`` (the explicit
formula for losses PyTorch lacks). Timing: warm-up, then repeats interleaved
(dltk, torch, torch, dltk, …, the order alternating), each repeat timing a
block of calls in process CPU time and wall time, in 3 rounds with freshly made
inputs (where tensors land in memory moves a memory-bound op by a few percent).
The ratio is the median over all repeats of dltk block / adjacent torch block
(paired, so slow drifts of a shared machine cancel), in CPU time (a process that waits for a core loses
wall time, not CPU time); the wall ratio is shown beside it. One thread by
default (``--threads N`` to change): the table compares per-layer cost, and
idle OpenMP workers spinning on a shared 2-core machine add noise to CPU time.
glibc is asked to keep freed memory in the process (``mallopt``), as a long
training run does: otherwise whether an output lands on fresh pages — hundreds
of page faults for a 2 MB tensor — depends on the allocation history, not on
the code measured.
Target: ≤ 1.05 per layer.

``roiMaxPooling2dLayer`` is compared with ``torchvision.ops.roi_pool`` when
torchvision is installed, otherwise with the explicit per-bin loop of
``tests/cases/pooling.py`` (the note column says which).

Dropout runs in training mode (both sides), everything else in evaluation
mode. Weights are not copied: they do not change the cost.

Run: ``python -m benchmarks.bench_layers [--quick] [--threads N] [--rounds R] [names ...]``
(``make bench`` runs it with every other ``bench_*.py``).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import dltk

TARGET = 1.05
B = 32


def img(c: int = 16, h: int = 28, w: int = 28, b: int = B) -> torch.Tensor:
    return torch.randn(b, c, h, w)


def seq(c: int = 64, t: int = 50, b: int = B) -> torch.Tensor:
    return torch.randn(b, t, c)


def vol(c: int = 8, d: int = 16, b: int = 8) -> torch.Tensor:
    return torch.randn(b, c, d, d, d)


def feat(c: int = 256, b: int = 128) -> torch.Tensor:
    return torch.randn(b, c)


def _standardize(*stat_shape: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """(x − μ) / σ with per-channel statistics shaped as the input layer keeps them."""
    mu, sd = torch.randn(stat_shape), torch.rand(stat_shape) + 0.5
    return lambda x: (x - mu) / sd


def probs(*shape: int) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape), dim=1)


@dataclass
class Entry:
    name: str
    make: Callable[[], Any]  # the dltk layer
    torch_fn: Callable[[], Callable[..., Any]]  # builds the PyTorch callable
    inputs: Callable[[], Sequence[Any]]
    layouts: Sequence[str | None] = ()
    train: bool = False
    targets: Callable[[], Any] | None = None  # output layers: compare loss(y, targets)
    note: str = field(default="")


class _Op(nn.Module):
    """A minimal module whose ``forward`` is ``fn`` — how a PyTorch network holds an op
    that has no module of its own (``fn`` is the forward itself: no extra call layer)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.forward = fn  # type: ignore[method-assign]
        self.note = getattr(fn, "note", "")


def _dice(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    oh = F.one_hot(t, y.shape[1]).movedim(-1, 1).to(y.dtype)
    w = 1 / oh.sum((2, 3)).clamp_min(1) ** 2
    inter, union = (y * oh).sum((2, 3)), (y * y + oh * oh).sum((2, 3))
    return (1 - (2 * (w * inter).sum(1) + 1e-8) / ((w * union).sum(1) + 1e-8)).mean()


def _tversky(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    oh = F.one_hot(t, y.shape[1]).movedim(-1, 1).to(y.dtype)
    tp, fp, fn = (y * oh).sum((2, 3)), (y * (1 - oh)).sum((2, 3)), ((1 - y) * oh).sum((2, 3))
    return (1 - (tp + 1e-8) / (tp + 0.5 * fp + 0.5 * fn + 1e-8)).sum() / y.shape[0]


def _focal(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    p = y.gather(1, t[:, None]).squeeze(1)
    return (-0.25 * (1 - p) ** 2 * torch.log(p)).sum() / y.shape[0]


def entries() -> list[Entry]:
    lab10 = lambda: torch.randint(0, 10, (128,))  # noqa: E731
    pix = lambda: torch.randint(0, 5, (8, 64, 64))  # noqa: E731
    return [
        # input layers (statistics from the data, as trainNetwork does)
        Entry(
            "imageInputLayer",
            lambda: dltk.imageInputLayer([28, 28, 16], Normalization="zscore"),
            lambda: _standardize(16, 1, 1),
            lambda: [img()],
        ),
        Entry(
            "image3dInputLayer",
            lambda: dltk.image3dInputLayer([16, 16, 16, 8], Normalization="zscore"),
            lambda: _standardize(8, 1, 1, 1),
            lambda: [vol()],
        ),
        Entry(
            "sequenceInputLayer",
            lambda: dltk.sequenceInputLayer(64, Normalization="zscore"),
            lambda: _standardize(64),
            lambda: [seq()],
        ),
        Entry(
            "featureInputLayer",
            lambda: dltk.featureInputLayer(256, Normalization="zscore"),
            lambda: _standardize(256),
            lambda: [feat()],
        ),
        Entry("roiInputLayer", lambda: dltk.roiInputLayer(), lambda: nn.Identity(), lambda: [torch.rand(64, 5) * 16]),
        # convolution and fully connected
        Entry(
            "convolution2dLayer",
            lambda: dltk.convolution2dLayer(3, 32, Padding="same"),
            lambda: nn.Conv2d(16, 32, 3, padding=1),
            lambda: [img()],
        ),
        Entry(
            "convolution3dLayer",
            lambda: dltk.convolution3dLayer(3, 16, Padding="same"),
            lambda: nn.Conv3d(8, 16, 3, padding=1),
            lambda: [vol()],
        ),
        Entry(
            "groupedConvolution2dLayer",
            lambda: dltk.groupedConvolution2dLayer(3, 4, 4, Padding="same"),
            lambda: nn.Conv2d(16, 16, 3, padding=1, groups=4),
            lambda: [img()],
        ),
        Entry(
            "transposedConv2dLayer",
            lambda: dltk.transposedConv2dLayer(4, 8, Stride=2),
            lambda: nn.ConvTranspose2d(16, 8, 4, stride=2),
            lambda: [img()],
        ),
        Entry(
            "transposedConv3dLayer",
            lambda: dltk.transposedConv3dLayer(2, 8, Stride=2),
            lambda: nn.ConvTranspose3d(8, 8, 2, stride=2),
            lambda: [vol()],
        ),
        Entry(
            "fullyConnectedLayer", lambda: dltk.fullyConnectedLayer(128), lambda: nn.Linear(256, 128), lambda: [feat()]
        ),
        # recurrent
        Entry(
            "lstmLayer",
            lambda: dltk.lstmLayer(128),
            lambda: (lambda m: lambda x: m(x)[0])(nn.LSTM(64, 128, batch_first=True)),
            lambda: [seq()],
        ),
        Entry(
            "bilstmLayer",
            lambda: dltk.bilstmLayer(128),
            lambda: (lambda m: lambda x: m(x)[0])(nn.LSTM(64, 128, batch_first=True, bidirectional=True)),
            lambda: [seq()],
        ),
        Entry(
            "gruLayer",
            lambda: dltk.gruLayer(128),
            lambda: (lambda m: lambda x: m(x)[0])(nn.GRU(64, 128, batch_first=True)),
            lambda: [seq()],
        ),
        # sequence utilities
        Entry(
            "sequenceFoldingLayer",
            lambda: dltk.sequenceFoldingLayer(),
            lambda: nn.Flatten(0, 1),
            lambda: [torch.randn(8, 10, 16, 28, 28)],
            layouts=["BTCHW"],
        ),
        Entry(
            "sequenceUnfoldingLayer",
            lambda: dltk.sequenceUnfoldingLayer(),
            lambda: lambda x, n: x.unflatten(0, (int(n), -1)),
            lambda: [img(b=80), torch.tensor(8)],
            layouts=["BCHW", None],
        ),
        Entry(
            "flattenLayer",
            lambda: dltk.flattenLayer(),
            lambda: lambda x: x.transpose(-1, -2).flatten(2),
            lambda: [torch.randn(8, 10, 16, 28, 28)],
            layouts=["BTCHW"],
        ),
        Entry(
            "wordEmbeddingLayer",
            lambda: dltk.wordEmbeddingLayer(64, 1000),
            lambda: (lambda m: lambda x: m(x.squeeze(-1).long() - 1))(
                nn.Embedding(1000, 64)
            ),  # MATLAB indices are 1-based
            lambda: [torch.randint(1, 1001, (B, 50, 1)).float()],
        ),
        # activation
        Entry("reluLayer", lambda: dltk.reluLayer(), lambda: nn.ReLU(), lambda: [img()]),
        Entry("leakyReluLayer", lambda: dltk.leakyReluLayer(), lambda: nn.LeakyReLU(0.01), lambda: [img()]),
        Entry("clippedReluLayer", lambda: dltk.clippedReluLayer(6), lambda: nn.Hardtanh(0, 6), lambda: [img()]),
        Entry("eluLayer", lambda: dltk.eluLayer(), lambda: nn.ELU(), lambda: [img()]),
        Entry("tanhLayer", lambda: dltk.tanhLayer(), lambda: nn.Tanh(), lambda: [img()]),
        Entry("sigmoidLayer", lambda: dltk.sigmoidLayer(), lambda: nn.Sigmoid(), lambda: [img()]),
        Entry("softmaxLayer", lambda: dltk.softmaxLayer(), lambda: nn.Softmax(dim=1), lambda: [img()]),
        Entry("preluLayer", lambda: dltk.preluLayer(16), lambda: nn.PReLU(16), lambda: [img()]),
        # normalization, dropout, cropping, resizing
        Entry(
            "batchNormalizationLayer",
            lambda: dltk.batchNormalizationLayer(),
            lambda: nn.BatchNorm2d(16),
            lambda: [img()],
        ),
        Entry(
            "groupNormalizationLayer",
            lambda: dltk.groupNormalizationLayer(4),
            lambda: nn.GroupNorm(4, 16),
            lambda: [img()],
        ),
        Entry(
            "crossChannelNormalizationLayer",
            lambda: dltk.crossChannelNormalizationLayer(5),
            lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            lambda: [img()],
        ),
        Entry("dropoutLayer", lambda: dltk.dropoutLayer(0.5), lambda: nn.Dropout(0.5), lambda: [img()], train=True),
        Entry(
            "crop2dLayer",
            lambda: dltk.crop2dLayer("centercrop"),
            lambda: lambda x, r: x[..., 6:22, 6:22],
            lambda: [img(), img(c=1, h=16, w=16)],
        ),
        Entry(
            "crop3dLayer",
            lambda: dltk.crop3dLayer(),
            lambda: lambda x, r: x[..., 4:12, 4:12, 4:12],
            lambda: [vol(), vol(c=1, d=8)],
        ),
        Entry(
            "resize2dLayer",
            lambda: dltk.resize2dLayer(Scale=2, Method="bilinear"),
            lambda: lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
            lambda: [img()],
        ),
        Entry(
            "resize3dLayer",
            lambda: dltk.resize3dLayer(Scale=2, Method="trilinear"),
            lambda: lambda x: F.interpolate(x, scale_factor=2, mode="trilinear"),
            lambda: [vol()],
        ),
        # pooling
        Entry(
            "averagePooling2dLayer",
            lambda: dltk.averagePooling2dLayer(2, Stride=2),
            lambda: nn.AvgPool2d(2, 2),
            lambda: [img()],
        ),
        Entry(
            "averagePooling3dLayer",
            lambda: dltk.averagePooling3dLayer(2, Stride=2),
            lambda: nn.AvgPool3d(2, 2),
            lambda: [vol()],
        ),
        Entry(
            "maxPooling2dLayer",
            lambda: dltk.maxPooling2dLayer(2, Stride=2),
            lambda: nn.MaxPool2d(2, 2),
            lambda: [img()],
        ),
        Entry(
            "maxPooling3dLayer",
            lambda: dltk.maxPooling3dLayer(2, Stride=2),
            lambda: nn.MaxPool3d(2, 2),
            lambda: [vol()],
        ),
        Entry(
            "globalAveragePooling2dLayer",
            lambda: dltk.globalAveragePooling2dLayer(),
            lambda: nn.AdaptiveAvgPool2d(1),
            lambda: [img()],
        ),
        Entry(
            "globalAveragePooling3dLayer",
            lambda: dltk.globalAveragePooling3dLayer(),
            lambda: nn.AdaptiveAvgPool3d(1),
            lambda: [vol()],
        ),
        Entry(
            "globalMaxPooling2dLayer",
            lambda: dltk.globalMaxPooling2dLayer(),
            lambda: nn.AdaptiveMaxPool2d(1),
            lambda: [img()],
        ),
        Entry(
            "globalMaxPooling3dLayer",
            lambda: dltk.globalMaxPooling3dLayer(),
            lambda: nn.AdaptiveMaxPool3d(1),
            lambda: [vol()],
        ),
        Entry("maxUnpooling2dLayer", lambda: dltk.maxUnpooling2dLayer(), _torch_unpool, _unpool_inputs),
        Entry(
            "roiMaxPooling2dLayer",
            lambda: dltk.roiMaxPooling2dLayer([4, 4]),
            _torch_roi_pool,
            _roi_inputs,
        ),
        # combination
        Entry("additionLayer", lambda: dltk.additionLayer(2), lambda: torch.add, lambda: [img(), img()]),
        Entry("multiplicationLayer", lambda: dltk.multiplicationLayer(2), lambda: torch.mul, lambda: [img(), img()]),
        Entry(
            "depthConcatenationLayer",
            lambda: dltk.depthConcatenationLayer(2),
            lambda: lambda a, b: torch.cat([a, b], 1),
            lambda: [img(), img(c=8)],
        ),
        Entry(
            "concatenationLayer",
            lambda: dltk.concatenationLayer(3, 2),
            lambda: lambda a, b: torch.cat([a, b], 1),
            lambda: [img(), img(c=8)],
        ),
        Entry(
            "weightedAdditionLayer",
            lambda: dltk.weightedAdditionLayer(2),
            lambda: (lambda w: lambda a, b: w[0] * a + w[1] * b)(torch.rand(2)),
            lambda: [img(), img()],
        ),
        # output layers: loss(y, targets)
        Entry(
            "classificationLayer",
            lambda: dltk.classificationLayer(),
            lambda: lambda y, t: F.nll_loss(torch.log(y), t, reduction="sum") / y.shape[0],
            lambda: [probs(128, 10)],
            targets=lab10,
        ),
        Entry(
            "regressionLayer",
            lambda: dltk.regressionLayer(),
            lambda: lambda y, t: 0.5 * ((y - t) ** 2).sum() / y.shape[0],
            lambda: [feat(10)],
            targets=lambda: feat(10),
        ),
        Entry(
            "pixelClassificationLayer",
            lambda: dltk.pixelClassificationLayer(),
            lambda: lambda y, t: F.nll_loss(torch.log(y), t, ignore_index=-1, reduction="sum") / t.numel(),
            lambda: [probs(8, 5, 64, 64)],
            targets=pix,
        ),
        Entry(
            "dicePixelClassificationLayer",
            lambda: dltk.dicePixelClassificationLayer(),
            lambda: _dice,
            lambda: [probs(8, 5, 64, 64)],
            targets=pix,
        ),
        Entry("focalLossLayer", lambda: dltk.focalLossLayer(), lambda: _focal, lambda: [probs(128, 10)], targets=lab10),
        Entry(
            "rpnSoftmaxLayer",
            lambda: dltk.rpnSoftmaxLayer(),
            lambda: lambda x: torch.softmax(x.unflatten(1, (2, -1)), dim=1).flatten(1, 2),
            lambda: [img(c=18)],
        ),
        Entry(
            "rpnClassificationLayer",
            lambda: dltk.rpnClassificationLayer(),
            lambda: (
                lambda y, t: (
                    F.nll_loss(torch.log(y.unflatten(1, (2, -1))), t, ignore_index=-1, reduction="sum") / y.shape[0]
                )
            ),
            lambda: [probs(8, 18, 32, 32)],
            targets=lambda: torch.randint(0, 2, (8, 9, 32, 32)),
        ),
        Entry(
            "rcnnBoxRegressionLayer",
            lambda: dltk.rcnnBoxRegressionLayer(),
            lambda: lambda y, t: F.smooth_l1_loss(y, t, reduction="sum") / y.shape[0],
            lambda: [feat(40)],
            targets=lambda: feat(40),
        ),
        Entry(
            "weightedClassificationLayer",
            lambda: dltk.weightedClassificationLayer(torch.rand(10).tolist()),
            lambda: (lambda w: lambda y, t: F.nll_loss(torch.log(y), t, weight=w, reduction="sum") / y.shape[0])(
                torch.rand(10)
            ),
            lambda: [probs(128, 10)],
            targets=lab10,
        ),
        Entry(
            "sseClassificationLayer",
            lambda: dltk.sseClassificationLayer(),
            lambda: lambda y, t: ((y - F.one_hot(t, 10)) ** 2).sum() / y.shape[0],
            lambda: [probs(128, 10)],
            targets=lab10,
        ),
        Entry(
            "maeRegressionLayer",
            lambda: dltk.maeRegressionLayer(),
            lambda: nn.L1Loss(),
            lambda: [feat(10)],
            targets=lambda: feat(10),
        ),
        Entry(
            "tverskyPixelClassificationLayer",
            lambda: dltk.tverskyPixelClassificationLayer(),
            lambda: _tversky,
            lambda: [probs(8, 5, 64, 64)],
            targets=pix,
        ),
    ]


def _unpool_inputs() -> list[Any]:
    pool = dltk.maxPooling2dLayer(2, Stride=2, HasUnpoolingOutputs=True).eval()
    with torch.no_grad():
        out, idx, size = pool(img())
    return [out, idx, size]


def _torch_unpool() -> Callable[..., Any]:
    unpool = nn.MaxUnpool2d(2, 2)
    return lambda x, i, s: unpool(x, i)


def _roi_inputs() -> list[Any]:
    """8 feature maps 16×28×28 and 96 ROIs (12 per image) of 2…14 pixels inside them."""
    b = torch.arange(8.0).repeat_interleave(12)[:, None]
    wh = torch.randint(2, 15, (96, 2)).float()
    xy = 1 + (torch.rand(96, 2) * (29 - wh)).floor()
    return [img(b=8), torch.cat([b, xy, wh], 1)]


def _torch_roi_pool() -> Callable[..., Any]:
    try:
        from torchvision.ops import roi_pool
    except ImportError:  # the explicit loop of the tests (no PyTorch op without torchvision)
        from tests.cases.pooling import roi_max_pool_loop

        def loop(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
            return roi_max_pool_loop(x, r, (4, 4))

        loop.note = "reference: explicit per-bin loop (torchvision not installed)"  # type: ignore[attr-defined]
        return loop
    # torchvision boxes [b, x1, y1, x2, y2] (0-based, inclusive corners) from [b, x, y, w, h] (1-based)
    return lambda x, r: roi_pool(x, torch.cat([r[:, :1], r[:, 1:3] - 1, r[:, 1:3] + r[:, 3:] - 2], 1), (4, 4))


# ------------------------------------------------------------------ timing
def _block(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call over ``n`` calls."""
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    return (time.process_time() - c0) / n, (time.perf_counter() - t0) / n


def compare(
    dl: Callable[[], Any], tf: Callable[[], Any], repeats: int, block_s: float = 0.01
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """``repeats`` adjacent pairs of blocks ((dltk CPU, wall), (torch CPU, wall)), seconds per call.

    Blocks of calls run interleaved, the order alternating (dltk, torch, torch, dltk, …).
    """
    for f in (dl, tf, dl, tf):  # warm-up
        f()
    once = max(_block(dl, 1)[1], _block(tf, 1)[1], 1e-6)
    n = max(1, int(block_s / once))
    pairs = []
    for k in range(repeats):
        if k % 2 == 0:
            a = _block(dl, n)
            b = _block(tf, n)
        else:
            b = _block(tf, n)
            a = _block(dl, n)
        pairs.append((a, b))
    return pairs


def summarize(pairs: Sequence[tuple[tuple[float, float], tuple[float, float]]]) -> dict[str, float]:
    """Median per-call times of each side and the median of the paired ratios (CPU and wall)."""
    med = statistics.median
    return {
        "dltk_cpu": med(a[0] for a, _ in pairs),
        "torch_cpu": med(b[0] for _, b in pairs),
        "ratio": med(a[0] / max(b[0], 1e-12) for a, b in pairs),
        "wall_ratio": med(a[1] / max(b[1], 1e-12) for a, b in pairs),
    }


def _shapes(xs: Sequence[Any]) -> str:
    return ", ".join("×".join(map(str, x.shape)) if isinstance(x, torch.Tensor) and x.ndim else str(x) for x in xs)


def _setup(e: Entry, seed: int) -> tuple[Any, nn.Module, list[Any], Any]:
    """A fresh (dltk layer, PyTorch module, inputs, targets or None) for entry ``e``."""
    torch.manual_seed(seed)
    layer = e.make()
    xs = list(e.inputs())
    layouts = list(e.layouts) or [None] * len(xs)
    if hasattr(layer, "setup"):
        with torch.no_grad():
            layer.setup(xs, layouts)
    layer.train(e.train)
    if hasattr(layer, "fit_normalization") and getattr(layer, "normalization", "none") != "none":
        layer.fit_normalization(xs[0])
    ref = e.torch_fn()
    if not isinstance(ref, nn.Module):
        ref = _Op(ref)
    ref.train(e.train)
    return layer, ref, xs, e.targets() if e.targets is not None else None


def measure_one(e: Entry, repeats: int, rounds: int = 3, block_s: float = 0.01) -> dict[str, Any]:
    """Pairs from ``rounds`` rounds, each with freshly made inputs, layer and module (so no
    one placement of the tensors in memory decides the result), summarized together."""
    pairs: list[Any] = []
    for r in range(rounds):
        layer, ref, xs, t = _setup(e, r)
        if t is not None:
            dl, tf = (lambda: layer.loss(*xs, t)), (lambda: ref(*xs, t))  # noqa: B023 - used in this round
        else:
            dl, tf = (lambda: layer(*xs)), (lambda: ref(*xs))  # noqa: B023
        with torch.no_grad():
            pairs += compare(dl, tf, repeats, block_s)
    m = summarize(pairs)
    return {
        "layer": e.name,
        "input": _shapes(xs) + (f"; targets {_shapes([t])}" if t is not None else ""),
        "dltk_ms": 1e3 * m["dltk_cpu"],
        "torch_ms": 1e3 * m["torch_cpu"],
        "ratio": m["ratio"],
        "wall_ratio": m["wall_ratio"],
        "note": e.note or getattr(ref, "note", ""),
    }


def measure(
    names: Sequence[str] = (), repeats: int = 15, rounds: int = 3, block_s: float = 0.01
) -> list[dict[str, Any]]:
    rows = []
    for e in entries():
        if names and e.name not in names:
            continue
        try:
            rows.append(measure_one(e, repeats, rounds, block_s))
        except Exception as err:  # noqa: BLE001 - a layer that cannot be measured is reported, not fatal
            rows.append({"layer": e.name, "error": f"{type(err).__name__}: {err}"})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Per-layer forward, CPU, torch {torch.__version__}, {torch.get_num_threads()} threads, float32, no grad; "
        "PyTorch side called as a module; ms: median CPU time per call; dltk/torch: median of paired "
        f"CPU-time ratios of interleaved repeats (wall-time ratio beside). Target dltk/torch ≤ {TARGET}.",
        "",
        "| layer | input | dltk ms | torch ms | dltk − torch µs | dltk/torch | wall ratio | | note |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['layer']} | – | – | – | – | – | – | | not measured: {r['error']} |")
        else:
            ok = "ok" if r["ratio"] <= TARGET else "OVER"
            lines.append(
                f"| {r['layer']} | {r['input']} | {r['dltk_ms']:.4f} | {r['torch_ms']:.4f} "
                f"| {1e3 * (r['dltk_ms'] - r['torch_ms']):+.1f} | {r['ratio']:.3f} "
                f"| {r['wall_ratio']:.3f} | {ok} | {r['note']} |"
            )
    ok = [r for r in rows if "ratio" in r]
    over = [r["layer"] for r in ok if r["ratio"] > TARGET]
    if ok:
        ratios = [r["ratio"] for r in ok]
        lines += [
            "",
            f"{len(ok)} layers measured, {len(rows) - len(ok)} not measured; median ratio "
            f"{statistics.median(ratios):.3f}, worst {max(ratios):.3f}; "
            + (f"over {TARGET}: {', '.join(over)}." if over else f"all ≤ {TARGET}."),
        ]
    return "\n".join(lines)


def _keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory (no trimming, no mmap for big blocks), as in one long
    training process; otherwise whether a call's output lands on fresh pages (hundreds of page
    faults for a 2 MB tensor) depends on the allocation history, not on the code measured.
    False where that is not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-1, 1 << 30)) and bool(libc.mallopt(-3, 1 << 30))  # M_TRIM_, M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def _take_int(args: list[str], flag: str, default: int) -> int:
    """The integer after ``flag`` in ``args`` (both removed from ``args``), or ``default``."""
    if flag not in args:
        return default
    k = args.index(flag)
    value = int(args[k + 1])
    del args[k : k + 2]
    return value


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = list(argv or [])
    quick = "--quick" in args
    torch.set_num_threads(_take_int(args, "--threads", 1))
    kept = _keep_freed_memory()
    rounds = _take_int(args, "--rounds", 3)  # more rounds: a steadier median (when judging one layer's change)
    names = [a for a in args if not a.startswith("--")]
    rows = measure(names, repeats=5 if quick else 15, rounds=rounds)
    print(markdown(rows), flush=True)
    if not kept:
        print("(glibc mallopt not available: page faults of fresh memory may add noise)")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
