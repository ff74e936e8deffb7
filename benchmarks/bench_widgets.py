"""Widget responsiveness: callback time of ``LSTMStepper`` and ``NetworkExplorer``.

On a (T=100, H=100) LSTM recording (B=8, 12 input channels), headless, with
the static (Agg) canvas — what ``%matplotlib inline`` users get:

* ``LSTMStepper``, one time step: setting ``time.value`` updates the cell
  diagram and the heatmap cursors and redraws both figures with Agg
  (blitting the changed artists over a cached background), then encodes each
  figure as PNG for the ``Image`` widget. Reported with and without the PNG
  encoding (under ipympl the canvas sends its own diff image instead).
* ``NetworkExplorer``, one layer switch: setting ``layer.value``; *cold* =
  the layer's view is built and drawn for the first time (cache of one view),
  *warm* = the layer was shown before (cached view, PNG re-published).

Targets: median ≤ 50 ms and p95 ≤ 100 ms per callback on 2 cores, Agg canvas
draw included. The machine's load average is printed: the development
machines are shared and wall times grow with the load, so the CPU time this
process spent per callback is printed beside it (close to the wall time of an
otherwise idle machine; the verdict ok/MISSED is on wall time).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import torch

import dltk
from dltk.widgets import LSTMStepper, NetworkExplorer
from dltk.widgets.base import FigureView

B, T, C, H = 8, 100, 12, 100
TARGET_MEDIAN, TARGET_P95 = 50.0, 100.0


def _stats(times: list[float]) -> tuple[float, float]:
    ms = np.asarray(times) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 95))


def _time(fn: Callable[[int], None], n: int, warmup: int = 3) -> tuple[float, float, float, float]:
    """(median, p95) of wall time and of this process's CPU time, in ms."""
    for k in range(warmup):
        fn(k)
    wall, cpu = [], []
    for k in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(warmup + k)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return (*_stats(wall), *_stats(cpu))


def _row(name: str, med: float, p95: float, cmed: float, cp95: float) -> None:
    ok = "ok" if med <= TARGET_MEDIAN and p95 <= TARGET_P95 else "MISSED"
    print(
        f"{name:<50} wall median {med:6.1f} p95 {p95:6.1f} ms {ok:<6} | CPU median {cmed:6.1f} p95 {cp95:6.1f} ms",
        flush=True,
    )


def bench_stepper(n: int) -> None:
    net = dltk.Network(
        [
            dltk.sequenceInputLayer(C),
            dltk.lstmLayer(H),
            dltk.fullyConnectedLayer(9),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )
    X = torch.randn(B, T, C)
    w = LSTMStepper(net, X, units=(0, 1, 2), interactive=False)

    def step(k: int) -> None:
        w.time.value = (k * 7 + 1) % T

    _row("LSTMStepper time step (Agg blit + PNG publish)", *_time(step, n))
    FigureView.publish = False
    try:
        _row("LSTMStepper time step (Agg blit only)", *_time(step, n))
    finally:
        FigureView.publish = True
    assert not w.errors, w.errors
    w.close()


def bench_explorer(n: int) -> None:
    net = dltk.Network(
        [
            dltk.sequenceInputLayer(C),
            dltk.lstmLayer(H),
            dltk.dropoutLayer(0.2),
            dltk.lstmLayer(H, OutputMode="last"),
            dltk.fullyConnectedLayer(9),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    )
    X = torch.randn(B, T, C)
    names = net.layer_names
    cases = (
        (1, False, "cold: first drawing of the layer, cache 1"),
        (len(names), True, "default: views pre-rendered when the widget is built"),
    )
    for cache, prerender, label in cases:
        t0 = time.perf_counter()
        w = NetworkExplorer(net, X, cache=cache, prerender=prerender, interactive=False)
        print(f"NetworkExplorer built in {1000 * (time.perf_counter() - t0):.0f} ms ({label})")

        def switch(k: int, w: NetworkExplorer = w) -> None:
            w.layer.value = names[(k + 1) % len(names)]

        _row(f"NetworkExplorer layer switch ({label})", *_time(switch, n, warmup=len(names)))
        assert not w.errors, w.errors
        w.close()


def main() -> None:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    n = 30 if dltk.config.fast else 100
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"widgets benchmark: B={B}, T={T}, H={H}; {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}, load average {load:.1f}; Agg canvas; {n} callbacks each"
    )
    print(f"targets: median <= {TARGET_MEDIAN:.0f} ms, p95 <= {TARGET_P95:.0f} ms")
    bench_stepper(n)
    bench_explorer(n)


if __name__ == "__main__":
    main()
