"""Padding variable-length sequence data sets into batches.

A sequence data set is a list of (T_i, C) arrays (MATLAB: an N×1 cell of
C×T_i matrices). A batch is (B, T, C) plus the per-observation ``lengths``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .errors import DataError


def as_sequence_list(X: Any, where: str = "dltk") -> list[torch.Tensor]:
    """A list of (T_i, C) float tensors from a list of arrays, or a (B, T, C) array."""
    if isinstance(X, (torch.Tensor, np.ndarray)) and np.ndim(X) == 3:
        return [torch.as_tensor(x, dtype=torch.get_default_dtype()) for x in X]
    if not isinstance(X, (list, tuple)) or not X:
        raise DataError(f"{where}: expected a non-empty list of (T_i, C) sequences, got {type(X).__name__}.")
    out = []
    for i, x in enumerate(X):
        t = torch.as_tensor(np.asarray(x), dtype=torch.get_default_dtype())
        if t.ndim == 1:
            t = t[:, None]
        if t.ndim != 2:
            raise DataError(f"{where}: sequence {i} has shape {tuple(t.shape)}; each must be (T_i, C) [MATLAB C×T_i].")
        out.append(t)
    c = {t.shape[1] for t in out}
    if len(c) > 1:
        raise DataError(f"{where}: sequences have different feature counts C: {sorted(c)}.")
    return out


def pad_sequences(
    seqs: Sequence[torch.Tensor],
    direction: str = "right",
    value: float = 0.0,
    length: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (T_i, C) sequences to one (B, T, C) tensor.

    Args:
        seqs: the sequences.
        direction: ``'right'`` (pad after the data) or ``'left'`` (before).
        value: padding value (MATLAB ``SequencePaddingValue``).
        length: pad (or truncate, keeping the start) to this length; default
            the longest sequence.

    Returns:
        ``(X, lengths)``: X is (B, T, C); lengths (B,) int64 holds each
        sequence's real length (capped at ``length``).
    """
    T = max(int(s.shape[0]) for s in seqs) if length is None else int(length)
    B, C = len(seqs), int(seqs[0].shape[1])
    X = torch.full((B, T, C), float(value), dtype=seqs[0].dtype)
    lengths = torch.empty(B, dtype=torch.long)
    for i, s in enumerate(seqs):
        n = min(int(s.shape[0]), T)
        lengths[i] = n
        if direction == "right":
            X[i, :n] = s[:n]
        else:
            X[i, T - n :] = s[:n]
    return X, lengths


def lengths_to_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(B, T) bool mask, True at real (right-padded) time steps."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]
