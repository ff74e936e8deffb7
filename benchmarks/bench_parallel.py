"""ExecutionEnvironment 'parallel': seconds per epoch with 1 and 2 CPU workers, and the start-up cost.

Two tasks, each trained with the same options by one process (``'cpu'``) and
by 2 gloo workers (``'parallel'``, ``NumWorkers=2``), one thread per process,
runs interleaved so that machine load hits both alike:

* Japanese Vowels: LSTM(100) 'last' → FC(9), Adam, MiniBatchSize 27 (10 iterations per epoch);
* digits (8×8): conv 3×3×16 → batch norm (synchronised) → ReLU → FC(10), sgdm, MiniBatchSize 128.

Per-epoch time is rank 0's training time (``info.TimeElapsed``) / epochs, so it
excludes start-up; start-up = trainNetwork's wall time − training time (writing
the job files, starting the worker interpreters — importing torch and dltk —,
loading the network and data, joining the group). Small mini-batches are
communication-bound: every iteration all-reduces the gradients and broadcasts the
stop flag, so the speed-up of 2 workers grows with the work per mini-batch.

``python -m benchmarks parallel`` (or ``python benchmarks/bench_parallel.py [epochs] [repeats]``).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import torch

import dltk


def _vowels() -> tuple[Any, Any, list, dict]:
    X, Y, _, _ = dltk.data.japanese_vowels()
    layers = [
        dltk.sequenceInputLayer(12),
        dltk.lstmLayer(100, OutputMode="last"),
        dltk.fullyConnectedLayer(9),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    return X, Y, layers, {"solver": "adam", "MiniBatchSize": 27}


def _digits() -> tuple[Any, Any, list, dict]:
    X, Y, _, _ = dltk.data.digits()
    layers = [
        dltk.imageInputLayer([8, 8, 1]),
        dltk.convolution2dLayer(3, 16, Padding="same"),
        dltk.batchNormalizationLayer(),
        dltk.reluLayer(),
        dltk.fullyConnectedLayer(10),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    return X, Y, layers, {"solver": "sgdm", "MiniBatchSize": 128}


def run_once(task: tuple, env: str, epochs: int) -> tuple[float, float]:
    """(seconds per epoch inside training, start-up seconds) of one trainNetwork call."""
    X, Y, layers, kw = task
    kw = dict(kw)
    solver = kw.pop("solver")
    opts = dltk.trainingOptions(solver, MaxEpochs=epochs, Verbose=False, ExecutionEnvironment=env, NumWorkers=2, **kw)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    _, info = dltk.trainNetwork(X, Y, layers, opts)
    wall = time.perf_counter() - t0
    return info.TimeElapsed / epochs, wall - info.TimeElapsed


def main(epochs: int = 3, repeats: int = 1) -> None:
    torch.set_num_threads(1)
    print(f"{'task':<16}{'1 worker s/epoch':>18}{'2 workers s/epoch':>19}{'speed-up':>10}{'start-up s':>12}")
    for name, make in (("Japanese Vowels", _vowels), ("digits CNN", _digits)):
        task = make()
        one, two, start = [], [], []
        for _ in range(repeats):  # interleaved
            one.append(run_once(task, "cpu", epochs)[0])
            per, st = run_once(task, "parallel", epochs)
            two.append(per)
            start.append(st)
        a, b, s = float(np.median(one)), float(np.median(two)), float(np.median(start))
        print(f"{name:<16}{a:>18.3f}{b:>19.3f}{a / b:>10.2f}{s:>12.2f}", flush=True)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
