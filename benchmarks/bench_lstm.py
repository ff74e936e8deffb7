"""LSTM speed: dltk plain and full-recording forward passes vs ``torch.nn.LSTM``.

For each (B, T, D, H) grid point and depth (1 or 3 stacked layers), measured
side by side in one run (median of several repeats after warm-up, no grad):

* torch: ``torch.nn.LSTM(D, H, num_layers=depth, batch_first=True)`` (fused kernel);
* (a) dltk plain: ``depth`` chained ``dltk.layers.LSTM`` layers, no recording;
* (b) dltk recording: ``dltk.record`` of the same stack capturing every signal
  (gates, pre-activations ``gates_pre``, cell and hidden states, outputs);
* (c) as (b) without ``gates_pre``: the six gate/state signals
  (``signals=[input_gate, …, hidden_state]``).

Targets: (a) ≤ 1.05; (b) median ≤ 1.5 and worst ≤ 2.0.

Each ratio is given as wall-clock and as CPU time (the calling thread's with
``DLTK_BENCH_THREADS=1``: exact on a loaded machine; the process's otherwise).
(b)/(c) use the compiled recording loop of :mod:`dltk.layers._lstm_kernel`
when it builds (the first run compiles it, ~1 min, during the warm-up);
``DLTK_NO_LSTM_KERNEL=1`` measures the pure-PyTorch fallback.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import dltk
from dltk.layers import LSTM, LSTM_GATES_STATES

SIX = LSTM_GATES_STATES
GRID = [(32, 100, 12, 100), (1, 1000, 1, 64), (128, 50, 28, 128)]
DEPTHS = (1, 3)
TARGET_PLAIN, TARGET_REC_MEDIAN, TARGET_REC_WORST = 1.05, 1.5, 2.0


def _cpu_clock() -> Callable[[], float]:
    """CPU seconds: of this thread with one torch thread (exact under load), else of the process
    (which then also counts OpenMP workers spinning while they wait for a descheduled peer)."""
    return time.thread_time if torch.get_num_threads() == 1 else time.process_time


def _time(fns: dict[str, Callable[[], object]], repeats: int, budget_s: float) -> dict[str, float]:
    """Median wall and CPU seconds per call (keys ``k`` and ``k_cpu``), candidates interleaved."""
    for f in fns.values():  # warm-up
        f()
        f()
    cpu = _cpu_clock()
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpus: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    for _ in range(repeats):
        for k, f in fns.items():
            c0, t0 = cpu(), time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
            cpus[k].append(cpu() - c0)
        if time.perf_counter() - start > budget_s:
            break
    return {
        **{k: statistics.median(v) for k, v in times.items()},
        **{k + "_cpu": statistics.median(v) for k, v in cpus.items()},
    }


def _stack(B: int, T: int, D: int, H: int, depth: int) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    ref = nn.LSTM(D, H, num_layers=depth, batch_first=True).eval()
    layers = [LSTM(H, input_size=D if k == 0 else H, name=f"lstm_{k + 1}") for k in range(depth)]
    with torch.no_grad():
        for k, lay in enumerate(layers):  # same weights (MATLAB single bias = b_ih + b_hh)
            lay.input_weights.copy_(getattr(ref, f"weight_ih_l{k}"))
            lay.recurrent_weights.copy_(getattr(ref, f"weight_hh_l{k}"))
            lay.bias.copy_(getattr(ref, f"bias_ih_l{k}") + getattr(ref, f"bias_hh_l{k}"))
    return ref, nn.Sequential(*layers).eval(), torch.randn(B, T, D)


def measure(repeats: int = 15, budget_s: float = 6.0) -> list[dict[str, float]]:
    rows = []
    with torch.no_grad():
        for B, T, D, H in GRID:
            for depth in DEPTHS:
                ref, stack, x = _stack(B, T, D, H, depth)
                t = _time(
                    {
                        "torch": lambda ref=ref, x=x: ref(x),
                        "plain": lambda stack=stack, x=x: stack(x),
                        "record": lambda stack=stack, x=x: dltk.record(stack, x),
                        "gates": lambda stack=stack, x=x: dltk.record(stack, x, signals=list(SIX)),
                    },
                    repeats,
                    budget_s,
                )
                ratios = {k: t[k] / t["torch"] for k in ("plain", "record", "gates")}
                ratios.update({k + "_cpu": t[k + "_cpu"] / t["torch_cpu"] for k in ("plain", "record", "gates")})
                rows.append({"B": B, "T": T, "D": D, "H": H, "depth": depth, "torch_ms": 1e3 * t["torch"], **ratios})
    return rows


def markdown(rows: list[dict[str, float]]) -> str:
    clock = "thread" if torch.get_num_threads() == 1 else "process"
    lines = [
        f"LSTM forward, CPU, torch {torch.__version__}, torch.set_num_threads({torch.get_num_threads()}), "
        f"median of repeats after warm-up, no grad; ratios as wall-clock / {clock} CPU time.",
        "",
        "| (B, T, D, H) | layers | torch.nn.LSTM ms | (a) dltk plain / torch | (b) full recording / torch "
        "| (c) six gate/state signals / torch |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| ({r['B']}, {r['T']}, {r['D']}, {r['H']}) | {r['depth']} | {r['torch_ms']:.2f} | "
            + " | ".join(f"{r[k]:.2f} / {r[k + '_cpu']:.2f}" for k in ("plain", "record", "gates"))
            + " |"
        )
    lines.append("")
    for k, what, target in (
        ("plain", "(a) plain", f"target ≤ {TARGET_PLAIN}"),
        ("record", "(b) recording", f"target median ≤ {TARGET_REC_MEDIAN}, worst ≤ {TARGET_REC_WORST}"),
        ("gates", "(c) six signals", "no target"),
    ):
        for suffix, name in (("", "wall"), ("_cpu", "CPU")):
            v = [r[k + suffix] for r in rows]
            lines.append(f"{what}, {name}: median {statistics.median(v):.2f}, worst {max(v):.2f} ({target}).  ")
    return "\n".join(lines)


def main() -> list[dict[str, float]]:
    threads = int(os.environ.get("DLTK_BENCH_THREADS", "0")) or min(2, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = measure()
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
