"""Recorded signals rebuilt from a fused kernel's hidden states (the path that keeps autograd).

The fused kernel returns every h_t, so the gates follow from ONE batched
matrix product over all time steps (``[x_t, h_{t−1}] -> pre-activations``),
and an LSTM's cell states from the linear scan ``c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t``
(:func:`linear_scan`, a few √T small ops instead of T).

With autograd on, every step is an out-of-place op (the graph reaches every
recorded signal). Without it (a plain recording, and every machine without the
compiled loops) each pass writes in place into the recorded tensors themselves:
one product, one sigmoid over every gate block (tanh(a) = 1 − 2σ(−2a) on rows
scaled by −2, which is exact), the cell states scanned in place.

Signals come and go as tuples in the order of ``LSTM_SIGNALS``/``GRU_SIGNALS``
(:mod:`.lstm`, :mod:`.gru`); ``want`` is a tuple of booleans in that order
and unwanted signals are None.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import torch

from ._sequence_masks import padded_steps, shift_prev

Tensor = torch.Tensor


def linear_scan(f: Tensor, u: Tensor, c0: Tensor, out: Tensor | None = None, reverse: bool = False) -> Tensor:
    """c_t = f_t ⊙ c_{t−1} + u_t along dim 1 of (B, T, H), starting from c0 (B, H).

    ``reverse``: the recursion runs from the last step down, c_t = f_t ⊙ c_{t+1} + u_t
    (c0 enters at step T − 1). ``out``: a (B, T, H) tensor to write into (it may be
    ``u`` itself). A few √T small ops instead of T (chunked scans, :func:`_scan_into`),
    and only products and sums (no division: f may be exactly 0), so it is as
    accurate as the step recursion :func:`linear_scan_reference`. Without autograd
    it allocates nothing larger than (B, T/L, H) for chunks of L steps, except for
    few values a step (B·H ≤ ``THIN``): there one buffer of 2·T·B·H values (at most
    2·``STACKED_MAX``) saves half the small ops (:func:`_scan_stacked`).
    """
    if torch.is_grad_enabled() and (f.requires_grad or u.requires_grad or c0.requires_grad):
        c = _scan_graph(f.flip(1), u.flip(1), c0).flip(1) if reverse else _scan_graph(f, u, c0)
        return c if out is None else out.copy_(c)
    return _scan_into(f, u, c0, u.new_empty(u.shape) if out is None else out, reverse)


def linear_scan_reference(f: Tensor, u: Tensor, c0: Tensor, reverse: bool = False) -> Tensor:
    """The readable step recursion :func:`linear_scan` must equal: c_t = f_t ⊙ c_{t∓1} + u_t, one step at a time."""
    c, cs = c0, [c0] * u.shape[1]
    for t in range(u.shape[1] - 1, -1, -1) if reverse else range(u.shape[1]):
        c = f[:, t] * c + u[:, t]
        cs[t] = c
    return torch.stack(cs, 1)


THIN = 256  # B·H up to which a scan's ops cost their fixed overhead only: the stacked scan (measured, 1 thread)
STACKED_MAX = 1 << 20  # T·B·H up to which the stacked scan's buffer (2·T·B·H values) is allowed


def _stacked(T: int, BH: int) -> bool:
    """True when :func:`_scan_stacked` takes the scan: few values a step, its buffer ≤ 2·``STACKED_MAX`` values."""
    return BH <= THIN and T * BH <= STACKED_MAX


@functools.lru_cache(maxsize=256)
def _chunk(T: int, BH: int) -> int:
    """Chunk length L for :func:`_scan_into` over T steps of B·H values; L = T: one step at a time.

    Chunks pay for long sequences of few values (each op costs a few µs however
    small). Two-pass scan: L minimises the 2L + T//L + T%L small ops
    of one level (L ≈ √(T/2)); short sequences of many values (B·H ≥ 8192, T ≤ 64;
    measured) go step by step. Stacked scan (:func:`_stacked`): see :func:`_thin_cost`.
    """
    if T < 16 or (BH >= 8192 and T <= 64):
        return T
    if _stacked(T, BH):
        return _thin_cost(T)[1]
    return min(range(2, math.isqrt(T) + 2), key=lambda L: 2 * L + T // L + T % L)


_STEP, _LEVEL = 1.0, 16.0  # a step op with its views; one level's fixed ops, in step-op units (measured: ≈ 5 and 80 µs)


@functools.lru_cache(maxsize=256)
def _thin_cost(T: int) -> tuple[float, int]:
    """(cost, L) of the stacked scan over T steps, in step-op units: L − 1 steps, a level's
    fixed ops, the scan over the T // L chunk ends and T % L steps left over; L = T: T steps."""
    best = (_STEP * T, T)
    if T >= 16:
        for L in range(2, T // 2 + 1):
            cost = _STEP * (L - 1 + T % L) + _LEVEL + _thin_cost(T // L)[0]
            best = min(best, (cost, L))
    return best


def _steps(fs: Sequence[Tensor], us: Sequence[Tensor], outs: Sequence[Tensor], prev: Tensor) -> Tensor:
    """outs[j] = fs[j] ⊙ prev + us[j], prev = outs[j], in order; returns the last."""
    for fj, uj, oj in zip(fs, us, outs):
        prev = torch.addcmul(uj, fj, prev, out=oj)
    return prev


def _scan_into(f: Tensor, u: Tensor, c0: Tensor, out: Tensor, reverse: bool) -> Tensor:
    """c_t = f_t ⊙ c_{t∓1} + u_t written into ``out`` (may be ``u`` itself); no autograd.

    Chunks of L steps (:func:`_chunk`); thin scans (:func:`_stacked`) go to
    :func:`_scan_stacked`. Otherwise: (1) scan every chunk from zero at once (L ops
    on (B, K, H)), keeping only the chunk ends, and the product of f over each
    chunk (one op); (2) the true chunk ends follow from the same recursion over
    the K chunks (with the chunk products as f), scanned the same way;
    (3) scan every chunk again from its true start, writing the final values (L ops);
    the T − K·L steps left over go one by one. Every step view comes from one
    ``unbind`` (no per-op indexing).
    """
    B, T, H = u.shape
    L = _chunk(T, B * H)
    K, rem = T // L, T % L
    order = (lambda v: v[::-1]) if reverse else (lambda v: v)  # noqa: E731
    if K <= 1:
        _tail(f, u, out, slice(0, T), c0, order)
        return out
    if _stacked(T, B * H):
        return _scan_stacked(f, u, c0, out, reverse, L)
    main = slice(rem, T) if reverse else slice(0, K * L)
    fm = f[:, main].unflatten(1, (K, L))  # (B, K, L, H)
    fc, uc = (order(v.unbind(2)) for v in (fm, u[:, main].unflatten(1, (K, L))))
    cc = uc if out is u else order(out[:, main].unflatten(1, (K, L)).unbind(2))
    s = uc[0].clone()  # (1) local scans from zero, all chunks at once: only their ends are kept
    for fj, uj in zip(fc[1:], uc[1:]):
        torch.addcmul(uj, fj, s, out=s)
    prod = torch.prod(fm, 2)  # (B, K, H)
    ends = _scan_into(prod, s, c0, s, reverse)  # (2) the true chunk ends: the same scan over the K chunks
    start = torch.empty_like(s)  # each chunk's true start state: c0, then the previous chunk's end
    first, rest, prev = (-1, slice(0, -1), slice(1, None)) if reverse else (0, slice(1, None), slice(0, -1))
    start[:, first] = c0
    start[:, rest] = ends[:, prev]
    last = _steps(fc, uc, cc, start)  # (3) every chunk again, from its true start
    tail = slice(0, rem) if reverse else slice(K * L, T)
    _tail(f, u, out, tail, last[:, 0 if reverse else -1], order)
    return out


def _tail(f: Tensor, u: Tensor, out: Tensor, tail: slice, prev: Tensor, order: Callable) -> None:
    """The steps ``tail`` (those left over after the chunks, or all of them) one by one from ``prev``."""
    if tail.start == tail.stop:
        return
    us = order(u[:, tail].unbind(1))
    _steps(order(f[:, tail].unbind(1)), us, us if out is u else order(out[:, tail].unbind(1)), prev)


def _scan_stacked(f: Tensor, u: Tensor, c0: Tensor, out: Tensor, reverse: bool, L: int) -> Tensor:
    """:func:`_scan_into` for few values a step (:func:`_stacked`): one small op per step of a chunk.

    Over K chunks of L steps at once, the local scan from zero s_j = f_j ⊙ s_{j−1} + u_j
    and the running product P_j = f_j ⊙ P_{j−1} are the same recursion, so one
    buffer Z = [s; P] (2, B, K, L, H), holding [u; 0] with P_0 = f_0, is scanned in
    place by one ``addcmul_`` a step (L − 1 ops). The true chunk ends follow from
    the same scan over the K chunks (f: the chunk products P_{L−1}, u: the local
    ends s_{L−1}); each chunk's true start c_s gives every value at once:
    c_j = s_j + P_j ⊙ c_s (one op). Only products and sums (f may be 0 or 1). The
    T − K·L steps left over go one by one. The buffer Z is the one temporary as large as
    the sequence: 2·T·B·H values, at most 2·``STACKED_MAX``.
    """
    B, T, H = u.shape
    K, rem = T // L, T % L
    order = (lambda v: v[::-1]) if reverse else (lambda v: v)  # noqa: E731
    main = slice(rem, T) if reverse else slice(0, K * L)
    fm = f[:, main].unflatten(1, (K, L))  # (B, K, L, H)
    z = u.new_empty(2, B, K, L, H)
    z[0].copy_(u[:, main].unflatten(1, (K, L)))
    z[1].zero_()
    fs, zs = order(fm.unbind(2)), order(z.unbind(3))  # step views: (B, K, H), (2, B, K, H)
    zs[0][1].copy_(fs[0])
    for fj, zj, zp in zip(fs[1:], zs[1:], zs):
        zj.addcmul_(fj, zp)
    e = u.new_empty(B, K + 1, H)  # c0 and the K true chunk ends, in time order
    cin, ends, starts, last = (K, slice(0, K), slice(1, None), 0) if reverse else (0, slice(1, None), slice(0, K), K)
    e.select(1, cin).copy_(c0)
    _scan_into(zs[-1][1], zs[-1][0], c0, e[:, ends], reverse)
    torch.addcmul(z[0], z[1], e[:, starts, None], out=out[:, main].unflatten(1, (K, L)))
    _tail(f, u, out, slice(0, rem) if reverse else slice(K * L, T), e[:, last], order)
    return out


def _scan_graph(f: Tensor, u: Tensor, c0: Tensor) -> Tensor:
    """:func:`linear_scan` with autograd: out-of-place ops only.

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


def _needs_graph(*ts: Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in ts)


def _prev_states(x: Tensor, hs: Tensor, h0: Tensor, reverse: bool, lengths: Tensor | None) -> Tensor:
    """(B, T, D + H): [x_t, previous state]: h_{t−1} (h_0 first), or with ``reverse``
    h_{t+1} (h_0 at each sequence's last real step)."""
    B, T, D = x.shape
    xh = x.new_empty(B, T, D + hs.shape[2])
    xh[..., :D] = x
    if not reverse:
        xh[:, 0, D:] = h0
        xh[:, 1:, D:] = hs[:, :-1]
    else:
        xh[:, :-1, D:] = hs[:, 1:]
        if lengths is None:
            xh[:, -1, D:] = h0
        else:
            xh[torch.arange(B, device=x.device), lengths.to(x.device) - 1, D:] = h0
    return xh


def _gate_blocks(want: Sequence[bool]) -> list[int]:
    """The gate blocks (0 i, 1 f, 2 g, 3 o) to recompute for the wanted LSTM signals, in order:
    the wanted gates, i, f, g for the cell state, all four for the pre-activations."""
    if want[6]:
        return [0, 1, 2, 3]
    blocks = {k for k in range(4) if want[k]} | ({0, 1, 2} if want[4] else set())
    return sorted(blocks)


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

    Without autograd every pass writes in place into the recorded tensors: one
    product for the pre-activations (B, T, n·H), one sigmoid over all of them
    (with sigmoid/tanh the cell-candidate rows are scaled by −2, exactly, and
    tanh(a) = 1 − 2σ(−2a): a quarter of tanh's cost on CPU), the cell states
    scanned in place from i ⊙ g.
    """
    if _needs_graph(x, hs, h0, c0, W, R, b):
        return _lstm_signals_graph(x, hs, h0, c0, W, R, b, want, gate, state, reverse, lengths)
    B, T, _ = x.shape
    H = R.shape[1]
    out: list[Tensor | None] = [None] * 7
    if want[5]:
        out[5] = hs
    ks = _gate_blocks(want)
    if not ks:
        return out
    fast = gate is torch.sigmoid and state is torch.tanh
    rows = [slice(k * H, (k + 1) * H) for k in ks]
    WR, bk = torch.cat([W, R], 1), b
    if len(ks) < 4:
        WR, bk = torch.cat([WR[r] for r in rows]), torch.cat([b[r] for r in rows])
    at = {k: j for j, k in enumerate(ks)}
    g_rows = slice(at[2] * H, (at[2] + 1) * H) if 2 in at else None
    if fast and g_rows is not None:  # −2·a is exact: the pre-activations are unscaled exactly below
        bk = bk.clone() if bk is b else bk  # WR is a new tensor already
        WR[g_rows].mul_(-2.0)
        bk[g_rows].mul_(-2.0)
    xh = _prev_states(x, hs, h0, reverse, lengths)
    pre = torch.addmm(bk, xh.view(B * T, -1), WR.t()).view(B, T, len(ks) * H)
    del xh
    blk = lambda t, k: t[..., at[k] * H : (at[k] + 1) * H]  # noqa: E731
    act = torch.empty_like(pre) if want[6] else pre  # the gates: in place when the pre-activations are not wanted
    if fast:
        torch.sigmoid(pre, out=act)
        if g_rows is not None:
            ag = act[..., g_rows]
            torch.add(ag.new_ones(()), ag, alpha=-2.0, out=ag)  # tanh(a) = 1 − 2σ(−2a), one pass
            if want[6]:
                pre[..., g_rows].mul_(-0.5)
    else:
        for k in ks:
            blk(act, k).copy_((state if k == 2 else gate)(blk(pre, k)))
    if want[6]:
        out[6] = pre
    for k in ks:
        if want[k]:
            out[k] = blk(act, k)
    if want[4]:
        f, c = blk(act, 1), torch.mul(blk(act, 0), blk(act, 2))  # c holds i ⊙ g, then the scan in place
        if reverse and lengths is not None:  # padded steps keep c (f = 1, u = 0): each scan starts at its own end
            pad = padded_steps(lengths, T, x.device)[..., None]
            f = f.masked_fill(pad, 1.0)
            c.masked_fill_(pad, 0.0)
        out[4] = linear_scan(f, c, c0, out=c, reverse=reverse)
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
    """The five GRU signals (r, z, h~, h, gates_pre) of one direction from its hidden states ``hs`` (B, T, H).

    Without autograd the passes write in place into the recorded tensors (r, z, h~
    side by side in one (B, T, 3H) buffer, the pre-activations in another); with
    sigmoid/tanh the candidate's rows are scaled by −2 (exactly) and
    tanh(a) = 1 − 2σ(−2a), as in :func:`lstm_signals`.
    """
    if _needs_graph(x, hs, h0, W, R, bx, bh):
        return _gru_signals_graph(x, hs, h0, W, R, bx, bh, mode, want, gate, state)
    B, T, D = x.shape
    H = R.shape[1]
    out: list[Tensor | None] = [None] * 5
    if want[3]:
        out[3] = hs
    if not any(want[k] for k in (0, 1, 2, 4)):
        return out
    fast = gate is torch.sigmoid and state is torch.tanh
    s = -2.0 if fast else 1.0  # the candidate rows' scale (exact)
    rz, n = slice(0, 2 * H), slice(2 * H, 3 * H)
    need_n = want[2] or want[4]
    before = mode == "before-multiplication"
    hp = shift_prev(hs, h0).view(B * T, H)  # (BT, H): h_{t-1}
    if need_n:
        pre = torch.addmm(torch.cat([bx[rz], s * bx[n]]), x.reshape(B * T, D), torch.cat([W[rz], s * W[n]]).t())
    else:
        pre = torch.addmm(bx[rz], x.reshape(B * T, D), W[rz].t())
    if need_n and not before:  # (BT, 3H): R h_{t−1} (+ recurrent bias), candidate rows scaled
        Rs = torch.cat([R[rz], s * R[n]])
        rh = hp @ Rs.t() if bh is None else torch.addmm(torch.cat([bh[rz], s * bh[n]]), hp, Rs.t())
    else:
        rh = hp @ R[rz].t() if bh is None else torch.addmm(bh[rz], hp, R[rz].t())
    pre[:, rz] += rh[:, rz]
    act = pre.new_empty(B * T, 3 * H if need_n else 2 * H)  # r, z, h~ side by side
    if fast:
        torch.sigmoid(pre[:, rz], out=act[:, rz])
    else:
        act[:, rz] = gate(pre[:, rz])
    r = act[:, :H]
    if need_n:
        pn = pre[:, n]
        if before:
            pn.addmm_(r * hp, (s * R[n]).t())
        else:
            torch.addcmul(pn, r, rh[:, n], out=pn)
        del rh
        if fast:
            an = torch.sigmoid(pn, out=act[:, n])
            torch.add(an.new_ones(()), an, alpha=-2.0, out=an)  # tanh(a) = 1 − 2σ(−2a), one pass
            if want[4]:
                pn.mul_(-0.5)
        else:
            act[:, n] = state(pn)
    pre, act = pre.view(B, T, -1), act.view(B, T, -1)
    if want[4]:
        out[4] = pre
    for k in range(3):
        if want[k]:
            out[k] = act[..., k * H : (k + 1) * H]
    return out


def _lstm_signals_graph(
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
    """:func:`lstm_signals` with autograd (out-of-place ops only)."""
    B, T, D = x.shape
    H = R.shape[1]
    out: list[Tensor | None] = [None] * 7
    if want[5]:
        out[5] = hs
    ks = _gate_blocks(want)
    if not ks:
        return out
    rows = [slice(k * H, (k + 1) * H) for k in ks]
    Wk, Rk, bk = (torch.cat([p[r] for r in rows]) if len(ks) < 4 else p for p in (W, R, b))
    xh = _prev_states(x, hs, h0, reverse, lengths)
    pre = torch.addmm(bk, xh.view(B * T, D + H), torch.cat([Wk, Rk], 1).t()).view(B, T, len(ks) * H)
    at = {k: j for j, k in enumerate(ks)}
    sig = {}
    if 2 in at:  # tanh is ~10x slower on strided data: copy the block first
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
        if reverse and lengths is not None:  # padded steps keep c (f = 1, u = 0): each scan starts at its own end
            pad = padded_steps(lengths, T, x.device)[..., None]
            f, u = f.masked_fill(pad, 1.0), u.masked_fill(pad, 0.0)
        out[4] = linear_scan(f, u, c0, reverse=reverse)
    return out


def _gru_signals_graph(
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
    """:func:`gru_signals` with autograd (out-of-place ops only)."""
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
