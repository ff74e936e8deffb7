"""trainNetwork vs a hand-written PyTorch loop on MATLAB's Japanese Vowels example.

Same data (sorted by length, mini-batch 27, padded per batch), same model
(BiLSTM(100) 'last' → FC(9) → softmax → cross-entropy), same solver (Adam,
lr 1e-3, per-parameter l2norm clipping at 1, L2 1e-4 on weights), same number
of epochs; the two runs alternate so that machine load hits both alike.
Prints seconds per epoch and the ratio dltk / PyTorch (target ≤ 1.2).

``python -m benchmarks train`` (or ``python benchmarks/bench_train.py [epochs] [repeats]``).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import dltk


class PlainBiLSTM(nn.Module):
    def __init__(self, c: int = 12, h: int = 100, k: int = 9) -> None:
        super().__init__()
        self.lstm = nn.LSTM(c, h, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * h, k)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        h = self.lstm.hidden_size
        fwd = out[torch.arange(len(lengths)), lengths - 1, :h]  # forward direction at each last real step
        bwd = out[:, 0, h:]  # backward direction at step 1 (MATLAB 'last' for BiLSTM)
        return self.fc(torch.cat([fwd, bwd], 1))


def _data() -> tuple[list[np.ndarray], np.ndarray]:
    XTrain, YTrain, _, _ = dltk.data.japanese_vowels()
    order = np.argsort([len(x) for x in XTrain], kind="stable")
    return [XTrain[i] for i in order], YTrain[order]


def plain_epochs(X: list[np.ndarray], Y: np.ndarray, epochs: int) -> float:
    """Seconds per epoch of a plain PyTorch loop doing what trainNetwork does."""
    model = PlainBiLSTM()
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
            loss = nn.functional.cross_entropy(model(xb, lb), yb)
            loss.backward()
            for p in model.parameters():
                nn.utils.clip_grad_norm_([p], 1.0)
            for p in decay:
                p.grad.add_(p.detach(), alpha=1e-4)
            opt.step()
            float(loss.detach())
    return (time.perf_counter() - t0) / epochs


def dltk_epochs(X: list[np.ndarray], Y: np.ndarray, epochs: int) -> float:
    layers = [
        dltk.sequenceInputLayer(12),
        dltk.bilstmLayer(100, OutputMode="last"),
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
    )
    _, info = dltk.trainNetwork(X, Y, layers, opts)
    return info.TimeElapsed / epochs


def main(epochs: int = 5, repeats: int = 3) -> dict[str, float]:
    X, Y = _data()
    torch.manual_seed(0)
    plain_epochs(X, Y, 1)  # warm-up (allocator, kernels)
    dltk_epochs(X, Y, 1)
    p, d = [], []
    for _ in range(repeats):
        p.append(plain_epochs(X, Y, epochs))
        d.append(dltk_epochs(X, Y, epochs))
    tp, td = min(p), min(d)
    print(f"torch threads: {torch.get_num_threads()}; {epochs} epochs × {repeats} repeats, best of each")
    print(f"  plain PyTorch loop : {tp * 1000:8.1f} ms/epoch")
    print(f"  dltk trainNetwork  : {td * 1000:8.1f} ms/epoch")
    print(f"  ratio dltk/PyTorch : {td / tp:8.2f}   (target ≤ 1.2)")
    return {"plain_s_per_epoch": tp, "dltk_s_per_epoch": td, "ratio": td / tp}


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
