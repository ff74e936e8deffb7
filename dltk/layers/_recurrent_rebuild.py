"""Recorded signals rebuilt from a fused kernel's hidden states (the path that keeps autograd).

The fused kernel returns every h_t, so the gates follow from ONE batched
matrix product over all time steps (``[x_t, h_{t−1}] -> pre-activations``),
and an LSTM's cell states from the linear scan ``c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t``
(:func:`linear_scan`, about 3√T small ops instead of T).

Signals come and go as tuples in the order of ``LSTM_SIGNALS``/``GRU_SIGNALS``
(:mod:`.lstm`, :mod:`.gru`); ``want`` is a tuple of booleans in that order
and unwanted signals are None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ._sequence_masks import padded_steps, shift_prev

Tensor = torch.Tensor


def linear_scan(f: Tensor, u: Tensor, c0: Tensor) -> Tensor:
    """c_t = f_t ⊙ c_{t−1} + u_t along dim 1 of (B, T, H), starting from c0 (B, H).

    A chunked scan: split T into K chunks of L ≈ √T steps; scan all chunks at
    once from zero (L steps, each over B·K·H values) while accumulating the
    chunk's product of f; then carry the chunk-end states across the K chunks
    (K steps on (B, H)); finally c = local + (product of f) ⊙ carry. About 3√T
    small ops instead of T, and only products and sums (no division), so it
    is as accurate as the step recursion.
    """
    B, T, H = u.shape
    L = max(1, math.isqrt(T - 1) + 1) if T >= 16 else T
    K = -(-T // L)
    if K * L != T:  # pad with f = 1, u = 0: leaves the real steps unchanged
        f = torch.cat([f, f.new_ones(B, K * L - T, H)], 1)
        u = torch.cat([u, u.new_zeros(B, K * L - T, H)], 1)
    fc, uc = f.reshape(B, K, L, H), u.reshape(B, K, L, H)
    s = [torch.addcmul(uc[:, :, 0], fc[:, :, 0], torch.cat([c0[:, None], c0.new_zeros(B, K - 1, H)], 1))]
    for j in range(1, L):  # local scans of all chunks at once, each (B, K, H)
        s.append(torch.addcmul(uc[:, :, j], fc[:, :, j], s[-1]))
    if K == 1:
        return torch.stack(s, 2).reshape(B, L, H)[:, :T]
    prod = torch.cumprod(fc, 2)  # (B, K, L, H): f products within each chunk
    carry, carries = c0.new_zeros(B, H), []  # c0 is already inside chunk 0
    for k in range(K):
        carries.append(carry)
        carry = torch.addcmul(s[-1][:, k], prod[:, k, -1], carry)
    local = torch.stack(s, 2)  # (B, K, L, H)
    return torch.addcmul(local, prod, torch.stack(carries, 1)[:, :, None]).reshape(B, K * L, H)[:, :T]


def lstm_signals(
    x: Tensor,
    hs: Tensor,
    h0: Tensor,
    c0: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    want: Sequence[bool],
    gate: Callable,
    state: Callable,
    reverse: bool = False,
    lengths: Tensor | None = None,
) -> list[Tensor | None]:
    """The seven LSTM signals (i, f, g, o, c, h, gates_pre) of one direction from its hidden states ``hs`` (B, T, H).

    Only the gate blocks needed by the wanted signals are recomputed. ``reverse``:
    the backward direction, everything in original time order (its previous
    state at step t is h_{t+1}, h_0 at each sequence's last real step; its
    cell states scan from each sequence's end), so nothing is reversed but the scan.
    """
    B, T, D = x.shape
    H = R.shape[1]
    out: list[Tensor | None] = [None] * 7
    blocks = {k for k in range(4) if want[k]}
    if want[4]:  # cell state
        blocks |= {0, 1, 2}
    if want[6]:  # pre-activations
        blocks = {0, 1, 2, 3}
    if want[5]:
        out[5] = hs
    if not blocks:
        return out
    ks = sorted(blocks)
    rows = [slice(k * H, (k + 1) * H) for k in ks]
    Wk, Rk, bk = (torch.cat([p[r] for r in rows]) if len(ks) < 4 else p for p in (W, R, b))
    xh = x.new_empty(B, T, D + H)  # [x_t, h_{t-1}]
    xh[..., :D] = x
    if not reverse:
        xh[:, 0, D:] = h0
        xh[:, 1:, D:] = hs[:, :-1]
    else:
        xh[:, :-1, D:] = hs[:, 1:]
        last = (T - 1) if lengths is None else (lengths.to(x.device) - 1)
        xh[torch.arange(B, device=x.device), last, D:] = h0
    pre = torch.addmm(bk, xh.view(B * T, D + H), torch.cat([Wk, Rk], 1).t()).view(B, T, len(ks) * H)
    at = {k: j for j, k in enumerate(ks)}
    sig = {}
    if 2 in blocks:  # tanh is ~10x slower on strided data: copy the block first
        sig[2] = state(pre[..., at[2] * H : (at[2] + 1) * H].contiguous())
    act = gate(pre) if want[6] or gate is not torch.sigmoid else pre.sigmoid_()  # (B, T, nH)
    sig.update({k: act[..., at[k] * H : (at[k] + 1) * H] for k in ks if k != 2})
    if want[6]:
        out[6] = pre
    for k in ks:
        if want[k]:
            out[k] = sig[k]
    if want[4]:
        f, u = sig[1], sig[0] * sig[2]
        if not reverse:
            out[4] = linear_scan(f, u, c0)
        else:  # padded steps keep c (f = 1, u = 0), so each sequence's scan starts from c0 at its own end
            if lengths is not None:
                pad = padded_steps(lengths, T, x.device)[..., None]
                f, u = f.masked_fill(pad, 1.0), u.masked_fill(pad, 0.0)
            out[4] = linear_scan(f.flip(1), u.flip(1), c0).flip(1)
    return out


def gru_signals(
    x: Tensor,
    hs: Tensor,
    h0: Tensor,
    W: Tensor,
    R: Tensor,
    bx: Tensor,
    bh: Tensor | None,
    mode: str,
    want: Sequence[bool],
    gate: Callable,
    state: Callable,
) -> list[Tensor | None]:
    """The five GRU signals (r, z, h~, h, gates_pre) of one direction from its hidden states ``hs`` (B, T, H)."""
    B, T, D = x.shape
    H = R.shape[1]
    out: list[Tensor | None] = [None] * 5
    if want[3]:
        out[3] = hs
    if not any(want[k] for k in (0, 1, 2, 4)):
        return out
    hp = shift_prev(hs, h0).view(B * T, H)  # (BT, H): h_{t-1}
    gx = torch.addmm(bx, x.reshape(B * T, D), W.t())  # (BT, 3H)
    rh = hp @ R.t() if bh is None else torch.addmm(bh, hp, R.t())  # (BT, 3H)
    pre_rz = gx[:, : 2 * H] + rh[:, : 2 * H]
    rz = gate(pre_rz)
    if mode == "before-multiplication":
        pre_n = gx[:, 2 * H :] + (rz[:, :H] * hp) @ R[2 * H :].t()
    else:
        pre_n = gx[:, 2 * H :] + rz[:, :H] * rh[:, 2 * H :]
    if want[4]:
        out[4] = torch.cat([pre_rz, pre_n], 1).view(B, T, 3 * H)
    rz = rz.view(B, T, 2 * H)
    if want[0]:
        out[0] = rz[..., :H]
    if want[1]:
        out[1] = rz[..., H:]
    if want[2]:
        out[2] = state(pre_n).view(B, T, H)
    return out
