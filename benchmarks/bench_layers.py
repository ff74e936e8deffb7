"""Per-layer speed: plain dltk forward vs the equivalent PyTorch forward.

For every catalog layer, one representative configuration and input — the
``bench`` entry of its first layer case (``tests/cases/<family>.py``; inputs and
PyTorch formulas in ``tests/cases/_bench.py``), at the sizes a student's network
feeds it (float32; images B×C×H×W = 32×16×28×28, sequences B×T×C = 32×50×64,
features 128×256, volumes 8×8×16³, losses on 128×10 class probabilities (MATLAB's default mini-batch) or 8×5×64×64 pixel
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
Targets (the criterion column says which applies): where the PyTorch counterpart
takes under 20 µs per call (views, identity-like input layers, crops, folding),
what dltk adds per call ≤ 2 µs (median of the paired CPU-time differences);
every other layer dltk/torch ≤ 1.05.

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
from torch import nn

#: a layer whose PyTorch counterpart takes at least SMALL_US per call: dltk/torch ≤ TARGET
TARGET = 1.05
#: a layer whose PyTorch counterpart takes under SMALL_US per call (views, identity-like input
#: layers, crops, folding): what dltk adds per call, ≤ ADDED_TARGET_US
SMALL_US = 20.0
ADDED_TARGET_US = 2.0


@dataclass
class Entry:
    """One row of the table: a catalog layer's benchmark, read from its layer case's ``bench``."""

    name: str  # the MATLAB constructor name
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


def entries() -> list[Entry]:
    """Every layer case's benchmark (``LayerCase.bench``, in ``tests/cases/<family>.py``), registry order."""
    from tests.cases import all_cases

    out = []
    for case in all_cases():
        b = case.bench
        if b is None:
            continue
        make = b.make or case.make
        out.append(Entry(type(make()).matlab_name, make, b.torch, b.inputs, b.layouts, b.train, b.targets, b.note))
    return out


def criterion(row: dict[str, Any]) -> tuple[str, bool]:
    """The target that applies to a measured row and whether it is met."""
    if 1e3 * row["torch_ms"] < SMALL_US:
        return f"added ≤ {ADDED_TARGET_US:g} µs", row["added_us"] <= ADDED_TARGET_US
    return f"ratio ≤ {TARGET}", row["ratio"] <= TARGET


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
        "added": med(a[0] - b[0] for a, b in pairs),
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
        "added_us": 1e6 * m["added"],
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
        "PyTorch side called as a module; ms: median CPU time per call; dltk − torch: median of paired "
        "CPU-time differences, dltk/torch: median of paired CPU-time ratios of interleaved repeats (wall-time "
        f"ratio beside). Target: where PyTorch takes under {SMALL_US:g} µs per call, dltk adds ≤ "
        f"{ADDED_TARGET_US:g} µs; else dltk/torch ≤ {TARGET}. The criterion column says which applies.",
        "",
        "| layer | input | dltk ms | torch ms | dltk − torch µs | dltk/torch | wall ratio | criterion | | note |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['layer']} | – | – | – | – | – | – | – | | not measured: {r['error']} |")
        else:
            rule, met = criterion(r)
            lines.append(
                f"| {r['layer']} | {r['input']} | {r['dltk_ms']:.4f} | {r['torch_ms']:.4f} "
                f"| {r['added_us']:+.1f} | {r['ratio']:.3f} "
                f"| {r['wall_ratio']:.3f} | {rule} | {'ok' if met else 'OVER'} | {r['note']} |"
            )
    ok = [r for r in rows if "ratio" in r]
    over = [r["layer"] for r in ok if not criterion(r)[1]]
    if ok:
        ratios = [r["ratio"] for r in ok]
        small = [r for r in ok if 1e3 * r["torch_ms"] < SMALL_US]
        lines += [
            "",
            f"{len(ok)} layers measured, {len(rows) - len(ok)} not measured; median ratio "
            f"{statistics.median(ratios):.3f}, worst {max(ratios):.3f}; {len(small)} judged by what dltk adds "
            f"(≤ {ADDED_TARGET_US:g} µs), {len(ok) - len(small)} by the ratio (≤ {TARGET}); "
            + (
                f"{len(ok) - len(over)} meet their target, over: {', '.join(over)}."
                if over
                else "all meet their target."
            ),
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
