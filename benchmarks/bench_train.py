"""trainNetwork vs a hand-written PyTorch loop on MATLAB's Japanese Vowels example.

Same data (sorted by length, mini-batch 27, padded per batch), same model
(BiLSTM(100) 'last' → FC(9) → softmax → cross-entropy), same solver (Adam,
lr 1e-3, per-parameter l2norm clipping at 1, L2 1e-4 on weights), same number
of epochs; the runs alternate so that machine load hits all of them alike.

Two comparisons:

* **trainNetwork** (dltk's default, length-aware) / the PyTorch loop that packs
  each batch (``pack_padded_sequence``, what a careful PyTorch user writes):
  target ≤ 1.2.
* **length-aware training** (issue 13): dltk's default, which runs every
  sequence only over its own length, / the PyTorch loop that runs the padded
  batch unpacked (reads step T for the forward direction and step 1 for the
  backward one, padding included): target ≤ 1.1. Measured for the BiLSTM of
  MATLAB's example, an LSTM and a GRU (``'last'``); dltk with
  ``SequenceMasking=False`` (the padded batch, as the unpacked loop) beside;
  and for a BiLSTM ``'sequence'`` (a label at every time step, the vowel's
  speaker; the packed loop and dltk leave padded steps out of the loss, the
  unpacked loop and ``SequenceMasking=False`` count them).

Each figure is the median over repeats of the ratio of the two runs made next
to each other, with the lowest–highest beside. Times are wall-clock seconds of
the training loops alone (dltk's ``TimeElapsed``; the plain loop from its first
epoch), so building the network and preparing the data do not count; run it on
an otherwise idle machine.

``python -m benchmarks train`` (or ``python benchmarks/bench_train.py [epochs] [repeats]``;
``DLTK_BENCH_THREADS`` sets the torch threads, default 1).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import dltk

#: (name, recurrent family, OutputMode)
CASES = (("BiLSTM", "BiLSTM", "last"), ("LSTM", "LSTM", "last"), ("GRU", "GRU", "last"),
         ("BiLSTM 'sequence'", "BiLSTM", "sequence"))  # fmt: skip


class PlainRNN(nn.Module):
    """``family`` (BiLSTM, LSTM, GRU) → FC, as a student writes it; ``packed`` packs each batch.

    ``mode`` 'last': one output per sequence; 'sequence': one per time step, (B, T, K).
    """

    def __init__(
        self, family: str = "BiLSTM", packed: bool = True, mode: str = "last", c: int = 12, h: int = 100, k: int = 9
    ) -> None:
        super().__init__()
        bi = family == "BiLSTM"
        self.rnn = (nn.GRU if family == "GRU" else nn.LSTM)(c, h, batch_first=True, bidirectional=bi)
        self.fc = nn.Linear(2 * h if bi else h, k)
        self.packed, self.mode = packed, mode

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.rnn.hidden_size
        if self.packed:
            out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
            last = out[torch.arange(len(lengths)), lengths - 1, :h]  # forward direction at each last real step
        else:
            out, _ = self.rnn(x)  # the padded batch, padding included
            last = out[:, -1, :h]
        if self.mode == "sequence":
            return self.fc(out)
        if self.rnn.bidirectional:  # backward direction at step 1 (MATLAB 'last' for BiLSTM)
            last = torch.cat([last, out[:, 0, h:]], 1)
        return self.fc(last)


def _loss(z: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor, packed: bool) -> torch.Tensor:
    """Cross-entropy; for per-step outputs (B, T, K) over the real steps only when ``packed``."""
    if z.ndim == 2:
        return nn.functional.cross_entropy(z, y)
    steps = y[:, None].expand(z.shape[:2])
    if not packed:  # padded steps count, labelled as their sequence
        return nn.functional.cross_entropy(z.flatten(0, 1), steps.flatten())
    real = torch.arange(z.shape[1])[None, :] < lengths[:, None]
    return nn.functional.cross_entropy(z[real], steps[real])


def _data() -> tuple[list[np.ndarray], np.ndarray]:
    XTrain, YTrain, _, _ = dltk.data.japanese_vowels()
    order = np.argsort([len(x) for x in XTrain], kind="stable")
    return [XTrain[i] for i in order], YTrain[order]


def plain_epochs(
    X: list[np.ndarray], Y: np.ndarray, epochs: int, family: str = "BiLSTM", packed: bool = True, mode: str = "last"
) -> float:
    """Seconds of ``epochs`` epochs of a plain PyTorch loop doing what trainNetwork does (the loop only)."""
    model = PlainRNN(family, packed, mode)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    classes = sorted(set(Y))
    y = torch.tensor([classes.index(v) for v in Y])
    batches = []
    for s in range(0, len(X) - len(X) % 27, 27):
        seqs = [torch.as_tensor(x) for x in X[s : s + 27]]
        lens = torch.tensor([len(q) for q in seqs])
        batches.append((nn.utils.rnn.pad_sequence(seqs, batch_first=True), lens, y[s : s + 27]))
    decay = [p for n, p in model.named_parameters() if "bias" not in n]
    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, lb, yb in batches:
            opt.zero_grad()
            loss = _loss(model(xb, lb), yb, lb, packed)
            loss.backward()
            for p in model.parameters():
                nn.utils.clip_grad_norm_([p], 1.0)
            for p in decay:
                p.grad.add_(p.detach(), alpha=1e-4)
            opt.step()
            float(loss.detach())
    return time.perf_counter() - t0


def dltk_epochs(
    X: list[np.ndarray], Y: np.ndarray, epochs: int, family: str = "BiLSTM", masking: bool = True, mode: str = "last"
) -> float:
    """Seconds of ``epochs`` epochs of ``dltk.trainNetwork`` (``masking``: dltk's ``SequenceMasking``).

    ``TimeElapsed``: the training loop, as for the plain loop; not the network's assembly and
    initialization or the data's preparation before it.
    """
    rnn = {"BiLSTM": dltk.bilstmLayer, "LSTM": dltk.lstmLayer, "GRU": dltk.gruLayer}[family]
    if mode == "sequence":  # the sequence's label at each of its steps
        Y = [np.repeat(y, len(x)) for x, y in zip(X, Y, strict=True)]  # type: ignore[assignment]
    layers = [
        dltk.sequenceInputLayer(12),
        rnn(100, OutputMode=mode),
        dltk.fullyConnectedLayer(9),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    opts = dltk.trainingOptions(
        "adam",
        GradientThreshold=1,
        MaxEpochs=epochs,
        MiniBatchSize=27,
        Shuffle="never",
        Verbose=False,
        ExecutionEnvironment="cpu",
        SequenceMasking=masking,
    )
    return dltk.trainNetwork(X, Y, layers, opts)[1].TimeElapsed


def _median_spread(a: list[float], b: list[float]) -> tuple[float, float, float]:
    r = [x / y for x, y in zip(a, b, strict=True)]
    return statistics.median(r), min(r), max(r)


def measure(family: str, epochs: int, repeats: int, mode: str = "last") -> dict[str, float]:
    """Seconds per epoch of each run and the paired ratios, for one recurrent ``family`` and ``mode``."""
    X, Y = _data()
    runs = {
        "plain packed": lambda: plain_epochs(X, Y, epochs, family, packed=True, mode=mode),
        "plain padded": lambda: plain_epochs(X, Y, epochs, family, packed=False, mode=mode),
        "dltk": lambda: dltk_epochs(X, Y, epochs, family, masking=True, mode=mode),
        "dltk no masking": lambda: dltk_epochs(X, Y, epochs, family, masking=False, mode=mode),
    }
    for fn in runs.values():  # warm-up (allocator, kernels)
        fn()
    t: dict[str, list[float]] = {k: [] for k in runs}
    names = list(runs)
    for k in range(repeats):
        for name in names if k % 2 == 0 else names[::-1]:  # the order alternates
            torch.manual_seed(k)
            t[name].append(runs[name]() / epochs)
    return {
        **{name: statistics.median(v) for name, v in t.items()},
        "vs packed": _median_spread(t["dltk"], t["plain packed"]),
        "length-aware": _median_spread(t["dltk"], t["plain padded"]),
        "no masking": _median_spread(t["dltk no masking"], t["plain padded"]),
    }


def main(epochs: int = 3, repeats: int = 7, cases: tuple[str, ...] = ()) -> dict[str, dict]:
    torch.set_num_threads(int(os.environ.get("DLTK_BENCH_THREADS", "1")))
    out = {name: measure(family, epochs, repeats, mode) for name, family, mode in CASES if not cases or name in cases}
    print(
        f"Japanese Vowels training, torch threads {torch.get_num_threads()}, {epochs} epochs × {repeats} "
        "interleaved repeats; ms per epoch (median) and the median of paired ratios (lowest–highest):\n"
    )
    print("| family, OutputMode | plain packed | plain padded | dltk | dltk no masking "
          "| dltk / plain packed | dltk / plain padded | dltk no masking / plain padded |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---|---|---|")
    fmt = "{:.2f} ({:.2f}–{:.2f})"
    for f, m in out.items():
        print(
            f"| {f} | {1e3 * m['plain packed']:.1f} | {1e3 * m['plain padded']:.1f} | {1e3 * m['dltk']:.1f} "
            f"| {1e3 * m['dltk no masking']:.1f} | {fmt.format(*m['vs packed'])} | {fmt.format(*m['length-aware'])} "
            f"| {fmt.format(*m['no masking'])} |"
        )
    worst_train = max(m["vs packed"][0] for m in out.values())
    worst_len = max(m["length-aware"][0] for m in out.values())
    print(f"\ntrainNetwork / plain packed loop: worst {worst_train:.2f} (target ≤ 1.2: "
          f"{'met' if worst_train <= 1.2 else 'NOT met'}).  ")  # fmt: skip
    print(f"length-aware trainNetwork / plain padded loop: worst {worst_len:.2f} (target ≤ 1.1: "
          f"{'met' if worst_len <= 1.1 else 'NOT met'}).")  # fmt: skip
    return out


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
