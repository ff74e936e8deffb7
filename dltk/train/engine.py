"""Running a mini-batch through a network: chunks, carried state, loss and metrics.

Shared by :func:`~dltk.train.trainNetwork` and the inference functions.

* :func:`run_chunks` — forward the chunks of one mini-batch (one chunk unless
  ``SequenceLength`` is an integer). Between chunks the recurrent layers'
  end states become the next chunk's initial states, *detached*: gradients
  are truncated at chunk boundaries. With masking, observations with no real
  step in a chunk sit it out (their state passes unchanged).
* :func:`chunk_loss` — the output layer's loss on the rows of a chunk that
  count, its weight in the mini-batch loss, and accuracy / squared-error sums.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .batching import Batch
from .state import StateCarrier

__all__ = ["ChunkOut", "chunk_loss", "run_chunks"]


@dataclass
class ChunkOut:
    """One chunk's prediction: ``y`` for the observations ``rows`` of the batch."""

    y: torch.Tensor
    chunk: Batch
    rows: torch.Tensor | None  # None = every row of the batch
    last: torch.Tensor | None  # rows (within ``rows``) whose final real step lies in this chunk


def _align_right(y: torch.Tensor, off: torch.Tensor) -> torch.Tensor:
    """Shift each row of (B, T, …) left by ``off`` steps (left padding → right padding)."""
    if not bool(off.any()):
        return y
    T = y.shape[1]
    idx = (torch.arange(T, device=y.device)[None, :] + off.to(y.device)[:, None]).clamp(max=T - 1)
    return y.gather(1, idx.view(*idx.shape, *([1] * (y.ndim - 2))).expand_as(y))


def run_chunks(
    net: nn.Module, chunks: list[Batch], masking: bool, keep_state: bool = False, initial: list | None = None
) -> Iterator[ChunkOut]:
    """Forward ``chunks`` in order, carrying recurrent state between them.

    Args:
        keep_state: leave the end states of the last chunk in the layers
            (stateful prediction); otherwise the stored states are restored.
        initial: explicit initial states per recurrent layer ((B, n) or None).
    """
    if len(chunks) == 1 and not keep_state and initial is None:
        c = chunks[0]
        yield ChunkOut(net(c.x, lengths=c.lengths), c, None, None)
        return
    lens = sum(c.steps for c in chunks)  # (B,) real length of each observation
    n = len(chunks)
    with StateCarrier(net, keep=keep_state) as sc:
        states = initial
        for k, c in enumerate(chunks):
            active = c.steps > 0 if masking else torch.ones_like(c.steps, dtype=torch.bool)
            if masking:
                span = c.x.shape[1]
                start = sum(int(cc.x.shape[1]) for cc in chunks[:k])
                fin = (lens > start) & (lens <= start + span)
            else:
                fin = torch.full_like(active, k == n - 1)
            every = bool(active.all())
            rows = None if every else torch.nonzero(active).squeeze(1)
            if states is not None:
                sc.set([(_take(h, rows), _take(cs, rows)) for h, cs in states])
            x = c.x if every else c.x[rows.to(c.x.device)]
            lengths = None if c.lengths is None else (c.lengths if every else c.lengths[rows])
            y = net(x, lengths=lengths)
            ends = sc.ends()
            states = [_merge(old, new, rows) for old, new in zip(states or [(None, None)] * len(ends), ends)]
            f = fin if every else fin[rows]
            last = torch.nonzero(f).squeeze(1) if bool(f.any()) else f.new_zeros(0, dtype=torch.long)
            yield ChunkOut(y, c, rows, last)
        if keep_state:
            sc.set(
                [(h.detach() if h is not None else None, cs.detach() if cs is not None else None) for h, cs in states]
            )


def _take(s: torch.Tensor | None, rows: torch.Tensor | None) -> torch.Tensor | None:
    if s is None or rows is None:
        return s
    return s[rows.to(s.device)]


def _merge(old: tuple, new: tuple, rows: torch.Tensor | None) -> tuple:
    out = []
    for o, nw in zip(old, new):
        if nw is None:
            out.append(o)
            continue
        nw = nw.detach()
        if rows is None or o is None:
            if rows is not None and o is None:
                raise RuntimeError("internal: the first chunk must hold every observation")
            out.append(nw)
        else:
            full = o.clone()
            full[rows.to(full.device)] = nw
            out.append(full)
    return tuple(out)


@dataclass
class ChunkStats:
    loss: torch.Tensor | None  # the output layer's loss on the counted rows (None: nothing counted)
    weight: float  # share of the mini-batch loss
    correct: float = 0.0
    count: float = 0.0
    sq_err: float = 0.0


def chunk_loss(
    out_layer: Any,
    co: ChunkOut,
    seq2seq: bool,
    total_weight: float,
    task: str,
    class_axis: int,
    left_raw: bool,
    metrics: bool = True,
) -> ChunkStats:
    """Loss of one chunk and its metrics (see the module docstring)."""
    c, y = co.chunk, co.y
    t = c.targets
    if t is None:
        return ChunkStats(None, 0.0)
    if t.device != y.device:
        t = t.to(y.device)
    if co.rows is not None:
        t = t[co.rows.to(t.device)]
    lengths = None
    if seq2seq:
        steps = c.steps if co.rows is None else c.steps[co.rows]
        if left_raw and c.offset is not None:
            off = c.offset if co.rows is None else c.offset[co.rows]
            y, t = _align_right(y, off), _align_right(t, off)
        full = bool((steps == y.shape[1]).all())
        lengths = None if full else steps.to(y.device)
        weight = float(steps.sum()) / total_weight
    else:
        if co.last is not None:
            if co.last.numel() == 0:
                return ChunkStats(None, 0.0)
            if co.last.numel() != y.shape[0]:
                y, t = y[co.last.to(y.device)], t[co.last.to(t.device)]
        weight = y.shape[0] / total_weight
    loss = out_layer.loss(y, t, lengths=lengths)
    st = ChunkStats(loss, weight)
    if metrics:
        with torch.no_grad():
            mask = None
            if lengths is not None:
                mask = torch.arange(y.shape[1], device=y.device)[None, :] < lengths[:, None]
            if task == "classification":
                ok = y.argmax(class_axis) == t
                if t.ndim > 1 and not seq2seq:
                    keep = t >= 0  # pixel labels: −1 undefined
                    mask = keep if mask is None else mask & keep
                st.correct = float(ok[mask].sum() if mask is not None else ok.sum())
                st.count = float(mask.sum() if mask is not None else ok.numel())
            else:
                d2 = (y.detach() - t) ** 2
                if mask is not None:
                    d2 = d2[mask]
                st.sq_err = float(d2.sum())
                st.count = float(d2.numel())
    return st
