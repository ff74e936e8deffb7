"""Right-padded variable-length batches: per-sequence reversal, last real step, masks.

A batch (B, T, …) holds B sequences padded on the right; ``lengths`` (B,)
int64 gives each one's real length (None: all are T long). Every helper here
is a no-op (or the plain operation) when ``lengths`` is None.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor

__all__ = [
    "reverse_within",
    "last_step",
    "zero_padding",
    "shift_prev",
    "mask_at",
    "padded_steps",
    "reversal_index",
    "reversal_rows",
]


def reversal_index(lengths: Tensor, T: int, device: torch.device | str | None = None) -> Tensor:
    """(B, T) int64: the time index each step reads when every sequence is reversed within its length."""
    t = torch.arange(T, device=device)[None, :]
    L = lengths.to(device)[:, None]
    return torch.where(t < L, L - 1 - t, t)


def reversal_rows(lengths: Tensor, T: int, device: torch.device | str | None = None) -> Tensor:
    """(B·T,) int64: :func:`reversal_index` as rows of the flattened (B·T, …) batch."""
    return _flat_rows(reversal_index(lengths, T, device))


def _flat_rows(index: Tensor) -> Tensor:
    """(B, T) time indices -> (B·T,) rows of the flattened (B·T, …) batch."""
    B, T = index.shape
    return (index + torch.arange(0, B * T, T, device=index.device)[:, None]).view(-1)


def reverse_within(
    x: Tensor, lengths: Tensor | None, index: Tensor | None = None, *, rows: Tensor | None = None
) -> Tensor:
    """Reverse each right-padded sequence of (B, T, …) within its own length (padding stays right).

    ``index``: :func:`reversal_index` of these lengths, or ``rows``: :func:`reversal_rows`, when
    already computed (a bidirectional run reverses its input and its output with the same rows).
    """
    if lengths is None:
        return x.flip(1)
    B, T = x.shape[:2]
    if rows is None:
        rows = _flat_rows(reversal_index(lengths, T, x.device) if index is None else index)
    # whole rows of the flattened (B·T, …) batch: a row copy (and a row add in the backward pass) is
    # ~10x faster on CPU than gather's element-wise index, which was most of what length-aware runs added
    return x.reshape(B * T, *x.shape[2:]).index_select(0, rows).view(x.shape)


def last_step(y: Tensor, lengths: Tensor | None) -> Tensor:
    """(B, T, C) -> (B, C): each sequence's own last real step."""
    if lengths is None:
        return y[:, -1]
    B, T = y.shape[:2]
    rows = torch.arange(0, B * T, T, device=y.device) + (lengths.to(y.device) - 1)
    return y.reshape(B * T, *y.shape[2:]).index_select(0, rows)


def padded_steps(lengths: Tensor, T: int, device: torch.device | str | None = None) -> Tensor:
    """(B, T) bool: True at the padded steps."""
    return torch.arange(T, device=device)[None, :] >= lengths.to(device)[:, None]


def zero_padding(y: Tensor, lengths: Tensor | None) -> Tensor:
    """Zero the padded steps of (B, T, …) (whatever they held: NaN too)."""
    if lengths is None:
        return y
    B, T = y.shape[:2]
    rows = padded_steps(lengths, T, y.device).view(-1).nonzero().squeeze(1)  # padded rows of (B·T, …)
    if not rows.numel():
        return y
    # whole rows filled (index_fill: ~3x faster on CPU than masked_fill's broadcast mask; NaN-safe, unlike ·0)
    return y.reshape(B * T, *y.shape[2:]).index_fill(0, rows, 0.0).view(y.shape)


def shift_prev(hs: Tensor, h0: Tensor) -> Tensor:
    """(B, T, H) hidden states -> the previous states h_{t−1}, h_0 first (contiguous)."""
    return torch.cat([h0[:, None], hs[:, :-1]], 1)


def mask_at(lengths: Tensor | None, t: int, like: Tensor) -> Tensor | None:
    """(B, 1) bool: which sequences are still running at step t (None without lengths)."""
    return None if lengths is None else (lengths.to(like.device) > t)[:, None]
