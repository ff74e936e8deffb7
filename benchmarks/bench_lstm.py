"""Recurrent speed: dltk LSTM, BiLSTM and GRU (plain, recordings) vs the fused PyTorch modules.

For each family (LSTM, BiLSTM, GRU in its three ResetGateModes), (B, T, D, H)
grid point and depth (1 or 3 stacked layers), measured side by side in one run
(median of several repeats after warm-up, candidates interleaved):

* torch: ``torch.nn.LSTM`` / ``nn.LSTM(bidirectional=True)`` / ``nn.GRU`` (fused kernel), no grad;
* (a) dltk plain: the same stack of dltk layers, no recording;
* (b) dltk recording: ``dltk.record`` of the stack capturing every signal;
* (c) as (b), the gate/state signals only (no ``gates_pre``);
* (d) (b) without the compiled loop (``DLTK_NO_LSTM_KERNEL=1``: a machine without a compiler),
  interleaved with torch runs of its own (its ratio is taken within one window of the machine's load);
* (e) recording with autograd on (``keep_graph=True``), forward plus backward through every
  recorded signal, against the fused module's forward plus backward.

Then: peak RSS of a full recording against the bytes it records (fresh
subprocess per point), and length-aware training steps (forward + backward
with ``lengths``) on MATLAB's Japanese Vowels batches against a plain PyTorch
step that runs the padded batch unpacked.

Targets (issue 13): (a) ≤ 1.05; (b), (c) median ≤ 1.25, worst ≤ 1.75; (d) median ≤ 1.6,
worst ≤ 2.5; (e) ≤ 2; memory ≤ 1.2 × (recorded bytes + plain peak); length-aware ≤ 1.1.

Ratios are medians over repeats of the calling thread's CPU time with one torch
thread (exact on a loaded machine), of wall-clock time otherwise. ``DLTK_BENCH_THREADS``
sets the torch threads (default 2). Options: ``python -m benchmarks.bench_lstm [--runs N (default 5)] [--quick]
[--families LSTM,GRU-after,...] [--sections grid,grad,memory,lengths]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn

import dltk
from dltk.layers import _lstm_kernel
from dltk.layers import _recurrent_run as run

GRID = [(32, 100, 12, 100), (1, 1000, 1, 64), (128, 50, 28, 128)]
DEPTHS = (1, 3)
FAMILIES = ("LSTM", "BiLSTM", "GRU-after", "GRU-before", "GRU-rbias")
GRU_MODE = {
    "GRU-after": "after-multiplication",
    "GRU-before": "before-multiplication",
    "GRU-rbias": "recurrent-bias-after-multiplication",
}
TARGETS = {
    "plain": ("≤ 1.05 each", None, 1.05),
    "record": ("median ≤ 1.25, worst ≤ 1.75", 1.25, 1.75),
    "gates": ("median ≤ 1.25, worst ≤ 1.75", 1.25, 1.75),
    "fallback": ("median ≤ 1.6, worst ≤ 2.5", 1.6, 2.5),
    "grad": ("≤ 2 (worst)", None, 2.0),
}


def _clock() -> Callable[[], float]:
    """The calling thread's CPU time with one torch thread (exact on a loaded machine), else wall-clock."""
    return time.thread_time if torch.get_num_threads() == 1 else time.perf_counter


def _time(fns: dict[str, Callable[[], object]], repeats: int, budget_s: float) -> dict[str, float]:
    """Median seconds per call (see :func:`_clock`), candidates interleaved (two warm-up calls each)."""
    for f in fns.values():
        f()
        f()
    clock = _clock()
    times: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = clock()
            f()
            times[k].append(clock() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return {k: statistics.median(v) for k, v in times.items()}


def _paired(fns: dict[str, Callable[[], object]], base: str, repeats: int) -> dict[str, tuple[float, float, float]]:
    """Per candidate: (median, lowest, highest) of the ratios to ``base`` measured in the same repeat
    (candidates interleaved, two warm-up calls each): steadier than a ratio of medians when the
    kernel's own time drifts between repeats."""
    for f in fns.values():
        f()
        f()
    clock = _clock()
    ratios: dict[str, list[float]] = {k: [] for k in fns if k != base}
    for _ in range(repeats):
        t = {}
        for k, f in fns.items():
            t0 = clock()
            f()
            t[k] = clock() - t0
        for k in ratios:
            ratios[k].append(t[k] / t[base])
    return {k: (statistics.median(v), min(v), max(v)) for k, v in ratios.items()}


@contextlib.contextmanager
def no_compiled_loop() -> Iterator[None]:
    """As on a machine without a compiler: the compiled loops are unavailable."""
    saved = dict(_lstm_kernel._state)
    _lstm_kernel._state.update(op=None, tried=True, reason="disabled by the benchmark")
    try:
        yield
    finally:
        _lstm_kernel._state.clear()
        _lstm_kernel._state.update(saved)


def _stack(family: str, D: int, H: int, depth: int) -> tuple[nn.Module, nn.Sequential]:
    """The fused PyTorch module and the dltk stack with the same weights (MATLAB's one bias = b_ih + b_hh)."""
    bi, gru = family == "BiLSTM", family.startswith("GRU")
    ref = (nn.GRU if gru else nn.LSTM)(D, H, num_layers=depth, batch_first=True, bidirectional=bi)
    layers = []
    for k in range(depth):
        d = D if k == 0 else (2 * H if bi else H)
        if gru:
            lay = dltk.layers.GRU(H, input_size=d, reset_gate_mode=GRU_MODE[family], name=f"gru_{k + 1}")
        else:
            lay = (dltk.layers.BiLSTM if bi else dltk.layers.LSTM)(H, input_size=d, name=f"rnn_{k + 1}")
        with torch.no_grad():
            sfx = [f"_l{k}", f"_l{k}_reverse"] if bi else [f"_l{k}"]
            lay.input_weights.copy_(torch.cat([getattr(ref, "weight_ih" + s) for s in sfx]))
            lay.recurrent_weights.copy_(torch.cat([getattr(ref, "weight_hh" + s) for s in sfx]))
            if family == "GRU-rbias":
                lay.bias.copy_(torch.cat([getattr(ref, f"bias_ih_l{k}"), getattr(ref, f"bias_hh_l{k}")]))
            elif not gru:
                lay.bias.copy_(torch.cat([getattr(ref, "bias_ih" + s) + getattr(ref, "bias_hh" + s) for s in sfx]))
        layers.append(lay)
    return ref.eval(), nn.Sequential(*layers).eval()


def _gate_state_signals(stack: nn.Sequential) -> list[str]:
    return [s for s in stack[0].signals if not s.endswith("gates_pre")]


def measure_grid(families, grid, depths, repeats: int = 9, budget_s: float = 4.0) -> list[dict]:
    rows = []
    for family in families:
        for B, T, D, H in grid:
            for depth in depths:
                torch.manual_seed(0)
                ref, stack = _stack(family, D, H, depth)
                x = torch.randn(B, T, D)
                six = _gate_state_signals(stack)
                with torch.no_grad():
                    fns = {
                        "torch": lambda ref=ref, x=x: ref(x),
                        "plain": lambda stack=stack, x=x: stack(x),
                        "record": lambda stack=stack, x=x: dltk.record(stack, x),
                        "gates": lambda stack=stack, x=x, six=six: dltk.record(stack, x, signals=six),
                    }
                    t = _time(fns, repeats, budget_s)
                    with no_compiled_loop():  # (d) interleaved with its own torch runs: one window, one load
                        t_d = _time({"torch": fns["torch"], "fallback": fns["record"]}, repeats, budget_s / 2)
                r = {k: t[k] / t["torch"] for k in ("plain", "record", "gates")}
                r["fallback"] = t_d["fallback"] / t_d["torch"]
                rows.append({"family": family, "B": B, "T": T, "D": D, "H": H, "depth": depth, **r})
                rows[-1]["torch_ms"] = 1e3 * t["torch"]
    return rows


def measure_grad(families, grid, depths, repeats: int = 5, budget_s: float = 4.0) -> list[dict]:
    """(e): recording with autograd on, forward + backward through every signal, vs fused forward + backward."""
    rows = []
    for family in families:
        for B, T, D, H in grid:
            for depth in depths:
                torch.manual_seed(0)
                ref, stack = _stack(family, D, H, depth)
                x = torch.randn(B, T, D)

                def fused(ref=ref, x=x):
                    ref(x)[0].sum().backward()

                def recorded(stack=stack, x=x):
                    rec = dltk.record(stack, x, keep_graph=True)
                    sum(v.sum() for layer in rec for v in rec[layer].values() if v.requires_grad).backward()

                t = _time({"torch": fused, "grad": recorded}, repeats, budget_s)
                rows.append({"family": family, "B": B, "T": T, "D": D, "H": H, "depth": depth})
                rows[-1]["grad"] = t["grad"] / t["torch"]
    return rows


_MEMORY_CHILD = r"""
import json, sys, torch, dltk
sys.path.insert(0, ".")
from benchmarks.bench_lstm import _stack
family, B, T, D, H, depth = json.loads(sys.argv[1])
torch.set_num_threads(1)
ref, stack = _stack(family, D, H, depth)
x = torch.randn(B, T, D)

def status(key):  # kB lines of /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

def reset_peak():  # Linux: writing 5 to clear_refs resets VmHWM to the current RSS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

with torch.no_grad():
    dltk.record(stack, torch.randn(1, 2, D))  # build / load the compiled loop first
    reset_peak(); base = status("VmRSS")
    y = stack(x)
    plain = status("VmHWM") - base
    del y
    reset_peak(); base = status("VmRSS")
    rec = dltk.record(stack, x)
    peak = status("VmHWM") - base
nbytes = sum(v.numel() * v.element_size() for n in rec for v in rec[n].values())
print(json.dumps({"plain_peak": plain, "record_peak": peak, "recorded": nbytes}))
"""


def measure_memory(families, grid, depths) -> list[dict]:
    """Peak RSS growth of a full recording (fresh process per point) vs the bytes it records + the plain peak."""
    rows = []
    for family in families:
        for point in grid:
            for depth in depths:
                arg = json.dumps([family, *point, depth])
                out = subprocess.run(
                    [sys.executable, "-c", _MEMORY_CHILD, arg], capture_output=True, text=True, check=True
                ).stdout
                m = json.loads(out.strip().splitlines()[-1])
                B, T, D, H = point
                ratio = m["record_peak"] / max(1, m["recorded"] + m["plain_peak"])
                rows.append({"family": family, "B": B, "T": T, "D": D, "H": H, "depth": depth, **m, "ratio": ratio})
    return rows


def _vowel_batches(size: int = 27) -> list[tuple[torch.Tensor, torch.Tensor]]:
    X, _, _, _ = dltk.data.japanese_vowels()
    X = sorted(X, key=len)
    out = []
    for s in range(0, len(X) - len(X) % size, size):
        seqs = [torch.as_tensor(x, dtype=torch.float32) for x in X[s : s + size]]
        out.append(dltk.sequences.pad_sequences(seqs))
    return out


def measure_lengths(repeats: int = 15) -> list[dict]:
    """Length-aware training steps (forward + backward, lengths given) vs the padded batch run unpacked by PyTorch.

    One pass over the Japanese Vowels training set in sorted mini-batches of 27,
    D = 12, H = 100; 'packed' forces the packed run the layers used before.
    """
    batches = _vowel_batches()
    rows = []
    for family, mode in (("BiLSTM", "last"), ("BiLSTM", "sequence"), ("LSTM", "last"), ("GRU-after", "last")):
        torch.manual_seed(0)
        ref, stack = _stack(family, 12, 100, 1)
        lay = stack[0].train()
        lay.output_mode = mode
        ref.train()

        def plain(ref=ref):
            for x, _ in batches:
                ref(x)[0].sum().backward()

        def dltk_run(lay=lay):
            for x, L in batches:
                lay(x, lengths=L).sum().backward()

        def packed(lay=lay):
            original = run.run_fused
            run.run_fused = lambda *a, **kw: original(*a, **{**kw, "final_states": a[0] == "lstm"})
            try:
                dltk_run(lay)
            finally:
                run.run_fused = original

        r = _paired({"torch": plain, "dltk": dltk_run, "packed": packed}, "torch", repeats)
        rows.append({"family": family, "mode": mode, "dltk": r["dltk"][0], "packed": r["packed"][0],
                     "spread": r["dltk"][1:]})  # fmt: skip
    return rows


def _summary(rows: list[dict], key: str) -> str:
    v = [r[key] for r in rows]
    text, med, worst = TARGETS[key]
    ok = (med is None or statistics.median(v) <= med) and (worst is None or max(v) <= worst)
    return f"median {statistics.median(v):.2f}, worst {max(v):.2f} (target {text}: {'met' if ok else 'NOT met'})"


def markdown_grid(rows: list[dict]) -> str:
    lines = [
        f"Recurrent forward, CPU, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"{'thread CPU' if torch.get_num_threads() == 1 else 'wall-clock'} time ratios to the fused PyTorch "
        "module (median of repeats), no grad.",
        "",
        "| family | (B, T, D, H) | layers | torch ms | (a) plain | (b) full recording | (c) gate/state signals "
        "| (d) (b) without compiler |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['family']} | ({r['B']}, {r['T']}, {r['D']}, {r['H']}) | {r['depth']} | {r['torch_ms']:.2f} | "
            + " | ".join(f"{r[k]:.2f}" for k in ("plain", "record", "gates", "fallback"))
            + " |"
        )
    lines.append("")
    for fam in sorted({r["family"] for r in rows}, key=FAMILIES.index):
        sub = [r for r in rows if r["family"] == fam]
        for key, what in (("record", "(b)"), ("gates", "(c)"), ("fallback", "(d)")):
            lines.append(f"{fam} {what}: {_summary(sub, key)}.  ")
    fused = [r for r in rows if r["family"] != "GRU-before"]  # (a) needs a fused PyTorch counterpart
    lines.append(f"(a) plain, every family with a fused PyTorch counterpart: {_summary(fused, 'plain')}.  ")
    before = [r["plain"] for r in rows if r["family"] == "GRU-before"]
    if before:
        lines.append(
            f"(a) plain GRU-before (no PyTorch counterpart; / nn.GRU for scale only): "
            f"median {statistics.median(before):.2f}, worst {max(before):.2f}.  "
        )
    for key, what in (("record", "(b) recording"), ("gates", "(c)"), ("fallback", "(d)")):
        lines.append(f"all families {what}: {_summary(rows, key)}.  ")
    return "\n".join(lines)


def markdown_runs(runs: list[list[dict]]) -> str:
    """One line per consecutive run: median / worst over every family and grid point."""
    keys = (("plain", "(a) plain*"), ("record", "(b) full recording"), ("gates", "(c) gate/state"),
            ("fallback", "(d) without compiler"))  # fmt: skip
    lines = [
        "Consecutive runs, median / worst over every family and grid point (* families with a fused "
        "PyTorch counterpart):",
        "",
        "| run | " + " | ".join(name for _, name in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for k, rows in enumerate(runs, 1):
        cells = []
        for key, _ in keys:
            v = [r[key] for r in rows if key != "plain" or r["family"] != "GRU-before"]
            cells.append(f"{statistics.median(v):.2f} / {max(v):.2f}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    met = all(
        statistics.median(v) <= TARGETS[key][1] and max(v) <= TARGETS[key][2]
        for rows in runs
        for key in ("record", "gates", "fallback")
        for v in [[r[key] for r in rows]]
    )
    lines.append(f"\n(b)–(d) targets met in every run: {'yes' if met else 'NO'}.")
    return "\n".join(lines)


def markdown_grad(rows: list[dict]) -> str:
    lines = ["| family | (B, T, D, H) | layers | (e) recording fwd+bwd / fused fwd+bwd |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['family']} | ({r['B']}, {r['T']}, {r['D']}, {r['H']}) | {r['depth']} | {r['grad']:.2f} |")
    lines.append(f"\n(e) autograd on: {_summary(rows, 'grad')}.")
    return "\n".join(lines)


def markdown_memory(rows: list[dict]) -> str:
    lines = [
        "| family | (B, T, D, H) | layers | recorded MB | plain peak MB | recording peak MB "
        "| peak / (recorded + plain) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mb = lambda v: f"{v / 2**20:.1f}"  # noqa: E731
        lines.append(
            f"| {r['family']} | ({r['B']}, {r['T']}, {r['D']}, {r['H']}) | {r['depth']} | {mb(r['recorded'])} | "
            f"{mb(r['plain_peak'])} | {mb(r['record_peak'])} | {r['ratio']:.2f} |"
        )
    worst = max(r["ratio"] for r in rows)
    lines.append(f"\nmemory: worst {worst:.2f} (target ≤ 1.2: {'met' if worst <= 1.2 else 'NOT met'}).")
    return "\n".join(lines)


def markdown_lengths(rows: list[dict]) -> str:
    lines = [
        "Japanese Vowels training set, sorted mini-batches of 27, D 12, H 100, forward + backward per batch "
        "(median of the ratios measured in the same repeat; the lowest–highest of them beside):",
        "",
        "| family | OutputMode | dltk with lengths / torch padded | (lowest–highest) "
        "| packed (before) / torch padded |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["spread"]
        lines.append(f"| {r['family']} | {r['mode']} | {r['dltk']:.2f} | {lo:.2f}–{hi:.2f} | {r['packed']:.2f} |")
    worst = max(r["dltk"] for r in rows)
    lines.append(
        f"\nlength-aware, the layer alone: worst {worst:.2f} (for reference: issue 13's ≤ 1.1 applies to training, "
        "judged by `python -m benchmarks train`)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="bench_lstm")
    p.add_argument("--runs", type=int, default=5, help="repeat the grid this many times (each run reported)")
    p.add_argument("--quick", action="store_true", help="first grid point and depth 1 only")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--sections", default="grid,grad,memory,lengths")
    a = p.parse_args(sys.argv[1:] if argv is None and __name__ == "__main__" else argv or [])
    threads = int(os.environ.get("DLTK_BENCH_THREADS", "0")) or min(2, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    families = a.families.split(",")
    grid, depths = (GRID[:1], (1,)) if a.quick else (GRID, DEPTHS)
    sections = a.sections.split(",")
    out: dict = {}
    with torch.no_grad():
        dltk.record(_stack("LSTM", 2, 2, 1)[1], torch.randn(1, 2, 2))  # build / load the compiled loops first
    print(f"compiled loops: {_lstm_kernel._state['reason']}")
    if "grid" in sections:
        for k in range(a.runs):
            rows = measure_grid(families, grid, depths)
            print(f"\nrun {k + 1} of {a.runs}\n" + markdown_grid(rows), flush=True)
            out.setdefault("grid", []).append(rows)
        if a.runs > 1:
            print("\n" + markdown_runs(out["grid"]), flush=True)
    if "grad" in sections:
        out["grad"] = measure_grad(families, grid, (1,))
        print("\n" + markdown_grad(out["grad"]), flush=True)
    if "memory" in sections:
        out["memory"] = measure_memory(("LSTM", "BiLSTM", "GRU-after"), grid, depths)
        print("\n" + markdown_memory(out["memory"]), flush=True)
    if "lengths" in sections:
        out["lengths"] = measure_lengths()
        print("\n" + markdown_lengths(out["lengths"]), flush=True)
    return out


if __name__ == "__main__":
    main()
