"""Right-padded variable-length batches: per-sequence reversal, last real step, masks.

A batch (B, T, …) holds B sequences padded on the right; ``lengths`` (B,)
int64 gives each one's real length (None: all are T long). Every helper here
is a no-op (or the plain operation) when ``lengths`` is None.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor

__all__ = ["reverse_within", "last_step", "zero_padding", "shift_prev", "mask_at", "padded_steps", "reversal_index"]


def reversal_index(lengths: Tensor, T: int, device: torch.device | str | None = None) -> Tensor:
    """(B, T) int64: the time index each step reads when every sequence is reversed within its length."""
    t = torch.arange(T, device=device)[None, :]
    L = lengths.to(device)[:, None]
    return torch.where(t < L, L - 1 - t, t)


def reverse_within(x: Tensor, lengths: Tensor | None, index: Tensor | None = None) -> Tensor:
    """Reverse each right-padded sequence of (B, T, …) within its own length (padding stays right).

    ``index``: :func:`reversal_index` of these lengths, when already computed.
    """
    if lengths is None:
        return x.flip(1)
    idx = reversal_index(lengths, x.shape[1], x.device) if index is None else index
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.ndim - 2))).expand_as(x))


def last_step(y: Tensor, lengths: Tensor | None) -> Tensor:
    """(B, T, C) -> (B, C): each sequence's own last real step."""
    if lengths is None:
        return y[:, -1]
    idx = (lengths.to(y.device) - 1).view(-1, 1, 1).expand(-1, 1, y.shape[2])
    return y.gather(1, idx).squeeze(1)


def padded_steps(lengths: Tensor, T: int, device: torch.device | str | None = None) -> Tensor:
    """(B, T) bool: True at the padded steps."""
    return torch.arange(T, device=device)[None, :] >= lengths.to(device)[:, None]


def zero_padding(y: Tensor, lengths: Tensor | None) -> Tensor:
    """Zero the padded steps of (B, T, …) (whatever they held: NaN too)."""
    if lengths is None:
        return y
    pad = padded_steps(lengths, y.shape[1], y.device)
    return y.masked_fill(pad.view(*pad.shape, *([1] * (y.ndim - 2))), 0.0)


def shift_prev(hs: Tensor, h0: Tensor) -> Tensor:
    """(B, T, H) hidden states -> the previous states h_{t−1}, h_0 first (contiguous)."""
    return torch.cat([h0[:, None], hs[:, :-1]], 1)


def mask_at(lengths: Tensor | None, t: int, like: Tensor) -> Tensor | None:
    """(B, 1) bool: which sequences are still running at step t (None without lengths)."""
    return None if lengths is None else (lengths.to(like.device) > t)[:, None]
