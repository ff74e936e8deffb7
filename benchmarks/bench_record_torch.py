"""Recording a student's own PyTorch model: ``dltk.record(model, x)`` vs the plain ``model(x)``.

Side by side in one run (interleaved, median of repeats after warm-up; no grad, and for the
recurrent models also with autograd on, what a student gets without ``torch.no_grad()``):

* recurrent: a model ``nn.LSTM``/``nn.GRU`` (batch_first, 1 or 3 layers, one
  or two directions) + ``nn.Linear`` on the last step, over the grid
  (B, T, D, H) = (32, 100, 12, 100), (1, 1000, 1, 64), (128, 50, 28, 128);
  recording every signal of every module. Target: median ≤ 1.5×, worst ≤ 2×.
* CNN: conv-bn-relu-pool ×2, linear (B = 32, 1×28×28), recording every
  module's output and signals. Target ≤ 1.5×; and TorchLens's ``trace``
  (``log_forward_pass``) of the same model when ``torchlens`` is installed
  (optional, the ``bench`` extra): dltk at least 5× faster.

Ratios as wall-clock / CPU time (the thread's with one torch thread).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

import dltk

GRID = [(32, 100, 12, 100), (1, 1000, 1, 64), (128, 50, 28, 128)]
CONFIGS = [
    ("LSTM", False, 1),
    ("LSTM", False, 3),
    ("LSTM", True, 1),
    ("GRU", False, 1),
    ("GRU", False, 3),
    ("GRU", True, 1),
]
TARGET_MEDIAN, TARGET_WORST, TARGET_CNN, TARGET_TORCHLENS = 1.5, 2.0, 1.5, 5.0


def _time(fns: dict[str, Callable[[], object]], repeats: int, budget_s: float) -> dict[str, float]:
    """Median wall and CPU seconds per call (keys ``k`` and ``k_cpu``), candidates interleaved."""
    for f in fns.values():
        f()
        f()
    cpu = time.thread_time if torch.get_num_threads() == 1 else time.process_time
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpus: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    for _ in range(repeats):
        for k, f in fns.items():
            c0, t0 = cpu(), time.perf_counter()
            f()
            wall[k].append(time.perf_counter() - t0)
            cpus[k].append(cpu() - c0)
        if time.perf_counter() - start > budget_s:
            break
    return {
        **{k: statistics.median(v) for k, v in wall.items()},
        **{k + "_cpu": statistics.median(v) for k, v in cpus.items()},
    }


class Student(nn.Module):
    """A sequence classifier as students write it."""

    def __init__(self, kind: str, D: int, H: int, layers: int, bidirectional: bool) -> None:
        super().__init__()
        self.rnn = getattr(nn, kind)(D, H, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        self.head = nn.Linear(H * (2 if bidirectional else 1), 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10),
    ).eval()  # fmt: skip


def recurrent_rows(repeats: int, budget_s: float) -> list[dict]:
    rows = []
    for kind, bi, depth in CONFIGS:
        for B, T, D, H in GRID:
            model = Student(kind, D, H, depth, bi).eval()
            x = torch.randn(B, T, D)
            fns = {"plain": lambda m=model, x=x: m(x), "record": lambda m=model, x=x: dltk.record(m, x)}
            with torch.no_grad():
                t = _time(fns, repeats, budget_s)
            with torch.enable_grad():  # what a student gets without torch.no_grad(): the graph is built
                g = _time(fns, repeats, budget_s)
            rows.append(
                {
                    "kind": ("Bi" if bi else "") + kind,
                    "depth": depth,
                    "shape": (B, T, D, H),
                    "plain_ms": 1e3 * t["plain"],
                    "ratio": t["record"] / t["plain"],
                    "ratio_cpu": t["record_cpu"] / t["plain_cpu"],
                    "grad": g["record"] / g["plain"],
                    "grad_cpu": g["record_cpu"] / g["plain_cpu"],
                }
            )
            r = rows[-1]
            print(
                f"  {r['kind']:7s} layers {depth} {str((B, T, D, H)):22s} plain {r['plain_ms']:8.2f} ms  "
                f"record {r['ratio']:.2f} / {r['ratio_cpu']:.2f}  autograd on {r['grad']:.2f} / {r['grad_cpu']:.2f}",
                flush=True,
            )
    return rows


def cnn_row(repeats: int, budget_s: float) -> dict:
    model = small_cnn()
    x = torch.randn(32, 1, 28, 28)
    fns: dict[str, Callable[[], object]] = {"plain": lambda: model(x), "record": lambda: dltk.record(model, x)}
    try:
        import torchlens

        trace = getattr(torchlens, "trace", None) or torchlens.log_forward_pass
        fns["torchlens"] = lambda: trace(model, x)
    except ImportError:
        pass
    t = _time(fns, repeats, budget_s)
    row = {
        "plain_ms": 1e3 * t["plain"],
        "ratio": t["record"] / t["plain"],
        "ratio_cpu": t["record_cpu"] / t["plain_cpu"],
    }
    if "torchlens" in t:
        row["torchlens"] = t["torchlens"] / t["plain"]
        row["torchlens_cpu"] = t["torchlens_cpu"] / t["plain_cpu"]
    return row


def layer_array_row(repeats: int, budget_s: float) -> dict:
    """``dltk.record(layers, X)`` vs the same recording of the assembled network (issue 13: ≤ 1.05)."""
    layers = [dltk.sequenceInputLayer(12), dltk.lstmLayer(100), dltk.fullyConnectedLayer(5)]
    net = dltk.Network(layers).eval()
    x = torch.randn(32, 100, 12)
    t = _time({"net": lambda: dltk.record(net, x), "array": lambda: dltk.record(layers, x)}, repeats, budget_s)
    return {"ratio": t["array"] / t["net"], "ratio_cpu": t["array_cpu"] / t["net_cpu"], "net_ms": 1e3 * t["net"]}


def markdown(rows: list[dict], cnn: dict, array: dict | None = None) -> str:
    clock = "thread" if torch.get_num_threads() == 1 else "process"
    lines = [
        f"dltk.record of a plain PyTorch model vs model(x), CPU, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s); ratios wall / {clock} CPU time.",
        "",
        "| module | layers | (B, T, D, H) | model(x) ms | record / plain, no grad | record / plain, autograd on |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['ratio']:.2f} / {r['ratio_cpu']:.2f}"
        grad = f"{r['grad']:.2f} / {r['grad_cpu']:.2f}"
        lines.append(f"| {r['kind']} | {r['depth']} | {r['shape']} | {r['plain_ms']:.2f} | {ratio} | {grad} |")
    for k, name in (
        ("ratio", "no grad, wall"),
        ("ratio_cpu", "no grad, CPU"),
        ("grad", "autograd on, wall"),
        ("grad_cpu", "autograd on, CPU"),
    ):
        v = [r[k] for r in rows]
        lines.append(
            f"\nrecurrent, {name}: median {statistics.median(v):.2f}, worst {max(v):.2f} "
            f"(target median ≤ {TARGET_MEDIAN}, worst ≤ {TARGET_WORST})."
        )
    lines.append(
        f"\nsmall CNN (B 32, 1×28×28): model(x) {cnn['plain_ms']:.2f} ms, record {cnn['ratio']:.2f} / "
        f"{cnn['ratio_cpu']:.2f} (target ≤ {TARGET_CNN})"
    )
    if "torchlens" in cnn:
        lines.append(
            f"; TorchLens trace {cnn['torchlens']:.1f} / {cnn['torchlens_cpu']:.1f} × plain: dltk "
            f"{cnn['torchlens'] / cnn['ratio']:.1f}× faster (target ≥ {TARGET_TORCHLENS})."
        )
    else:
        lines.append("; TorchLens not installed (pip install 'dltk[bench]'), not compared.")
    if array is not None:
        lines.append(
            f"\nlayer array (sequenceInput 12, lstm 100, fc 5; B 32, T 100): dltk.record(layers, X) / "
            f"dltk.record(net, X) {array['ratio']:.2f} / {array['ratio_cpu']:.2f} (target ≤ 1.05)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> tuple[list[dict], dict]:
    argv = sys.argv[1:] if argv is None else argv
    threads = int(os.environ.get("DLTK_BENCH_THREADS", "0")) or min(2, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    quick = "--quick" in argv
    repeats, budget = (5, 1.0) if quick else (15, 4.0)
    rows = recurrent_rows(repeats, budget)
    with torch.no_grad():
        cnn = cnn_row(repeats * 2, budget)
        array = layer_array_row(repeats * 2, budget)
    print(markdown(rows, cnn, array))
    return rows, cnn


if __name__ == "__main__":
    main()
