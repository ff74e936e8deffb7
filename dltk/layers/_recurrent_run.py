"""Running one recurrent direction: the fused PyTorch kernels and plain step loops.

* the activation functions MATLAB offers besides sigmoid/tanh (``hard-sigmoid``, ``softsign``);
* :func:`run_fused`: one ``torch.lstm``/``torch.gru`` call. With ``lengths`` it
  runs unpacked: padding comes after every real step, so the forward direction
  is the plain run read at each sequence's own steps, and the backward direction
  is the plain run of each sequence reversed within its own length (packing is
  only needed for an LSTM's final cell states);
* :func:`lstm_loop`, :func:`gru_loop`: step loops for the configurations PyTorch
  has no kernel for (softsign, hard-sigmoid, GRU ``before-multiplication``);
* :func:`lstm_record_steps`, :func:`gru_record_steps`: step loops that keep every signal (autograd off);
* the choice between recording by steps and kernel + reconstruction
  (:func:`step_loop_pays`) and the compiled recording loops of :mod:`._lstm_kernel`.

The readable one-step equations are :func:`dltk.layers.lstm.lstm_step` and
:func:`dltk.layers.gru.gru_step`; the tests compare every path here with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import _lstm_kernel
from ._sequence_masks import last_step, mask_at, reversal_rows, reverse_within, zero_padding

Tensor = torch.Tensor


# ------------------------------------------------------------------ activations
def hard_sigmoid(x: Tensor) -> Tensor:
    """0 for x < −2.5, 0.2·x + 0.5 on [−2.5, 2.5], 1 for x > 2.5."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


GATE_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {"sigmoid": torch.sigmoid, "hard-sigmoid": hard_sigmoid}
STATE_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "softsign": F.softsign}


# --------------------------------------------------------------- fused kernels
def _fused_call(kind: str, x: Tensor, hx: Any, params: list[Tensor], bidirectional: bool, train: bool) -> tuple:
    fn = torch.lstm if kind == "lstm" else torch.gru
    res = fn(x, hx, params, True, 1, 0.0, train, bidirectional, True)
    return res[0], res[1:]


def run_fused(
    kind: str,
    x: Tensor,
    hx: Any,
    params: list[Tensor],
    bidirectional: bool,
    lengths: Tensor | None,
    train: bool,
    final_states: bool = True,
    last_only: bool = False,
) -> tuple[Tensor, Any]:
    """One ``torch.lstm``/``torch.gru`` direction pair over a right-padded batch.

    Returns (output (B, T, dirs·H) with zeros at padded steps, final states
    (dirs, B, H) — each sequence's own). With ``lengths`` the batch runs
    unpacked — forward over the padded batch, backward over each sequence
    reversed within its length — unless an LSTM's final cell states are
    needed (``final_states``): only packing gives those. Without
    ``final_states`` the states returned are None. ``last_only``: return
    only the output of MATLAB's ``'last'`` mode, (B, dirs·H).
    """
    if lengths is None:
        out, states = _fused_call(kind, x, hx, params, bidirectional, train)
        return (out[:, -1] if last_only else out), states
    if kind == "gru" or not final_states:
        return _run_unpacked(kind, x, hx, params, bidirectional, lengths, train, final_states, last_only)
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    order, unorder = packed.sorted_indices, packed.unsorted_indices
    fn = torch.lstm if kind == "lstm" else torch.gru
    hx = tuple(h.index_select(1, order) for h in hx) if kind == "lstm" else hx.index_select(1, order)
    res = fn(packed.data, packed.batch_sizes, hx, params, True, 1, 0.0, train, bidirectional)
    out, _ = pad_packed_sequence(
        type(packed)(res[0], packed.batch_sizes, order, unorder), batch_first=True, total_length=x.shape[1]
    )
    return (last_step(out, lengths) if last_only else out), tuple(h.index_select(1, unorder) for h in res[1:])


def _run_unpacked(
    kind: str,
    x: Tensor,
    hx: Any,
    params: list[Tensor],
    bidirectional: bool,
    lengths: Tensor,
    train: bool,
    final_states: bool,
    last_only: bool,
) -> tuple[Tensor, Any]:
    """Length-aware without packing: real steps never see the padding that follows them.

    ``x`` must hold zeros at the padded steps (the layers' ``_prepare`` sees to it).
    The backward direction runs on each sequence reversed within its length;
    in reversed time its step 0 is MATLAB's ``'last'`` output and its step
    L − 1 the final state. Final states: h only (an LSTM's c is None).
    """
    if not bidirectional:
        out, _ = _fused_call(kind, x, hx, params, False, train)
        last = last_step(out, lengths) if final_states or last_only else None
        y = last if last_only else zero_padding(out, lengths)
        hT = last[None] if final_states else None
        return y, ((hT, None) if kind == "lstm" else (hT,))
    pick = (lambda k: tuple(h[k : k + 1] for h in hx)) if kind == "lstm" else (lambda k: hx[k : k + 1])
    rows = reversal_rows(lengths, x.shape[1], x.device)
    out_f, _ = _fused_call(kind, x, pick(0), params[:4], False, train)
    out_r, _ = _fused_call(kind, reverse_within(x, lengths, rows=rows), pick(1), params[4:], False, train)
    last_f = last_step(out_f, lengths)
    hT = torch.stack([last_f, last_step(out_r, lengths)]) if final_states else None
    if last_only:
        y = torch.cat([last_f, out_r[:, 0]], 1)
    else:
        y = zero_padding(torch.cat([out_f, reverse_within(out_r, lengths, rows=rows)], -1), lengths)
    return y, ((hT, None) if kind == "lstm" else (hT,))


# ------------------------------------------------------------------ step loops
def lstm_loop(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    lengths: Tensor | None,
    gate: Callable,
    state: Callable,
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM direction step by step (for activations without a fused kernel)."""
    B, T, _ = x.shape
    H = R.shape[1]
    xw = torch.addmm(b, x.reshape(B * T, -1), W.t()).view(B, T, 4 * H)  # (B, T, 4H)
    outs = []
    for t in range(T):
        z = torch.addmm(xw[:, t], h, R.t())  # (B, 4H)
        a = gate(z)
        c_new = a[:, H : 2 * H] * c + a[:, :H] * state(z[:, 2 * H : 3 * H])
        h_new = a[:, 3 * H :] * state(c_new)
        m = mask_at(lengths, t, x)
        if m is None:
            h, c = h_new, c_new
            outs.append(h)
        else:
            h, c = torch.where(m, h_new, h), torch.where(m, c_new, c)
            outs.append(h_new * m)
    return torch.stack(outs, 1), h, c


def gru_loop(
    x: Tensor,
    h: Tensor,
    W: Tensor,
    R: Tensor,
    bx: Tensor,
    bh: Tensor | None,
    mode: str,
    lengths: Tensor | None,
    gate: Callable,
    state: Callable,
) -> tuple[Tensor, Tensor]:
    """One GRU direction step by step (``bh``: recurrent bias, or None)."""
    B, T, _ = x.shape
    H = R.shape[1]
    xw = torch.addmm(bx, x.reshape(B * T, -1), W.t()).view(B, T, 3 * H)  # (B, T, 3H)
    outs = []
    for t in range(T):
        rh = h @ R.t() if bh is None else torch.addmm(bh, h, R.t())  # (B, 3H)
        rz = gate(xw[:, t, : 2 * H] + rh[:, : 2 * H])
        r, z = rz[:, :H], rz[:, H:]
        if mode == "before-multiplication":
            n = state(xw[:, t, 2 * H :] + (r * h) @ R[2 * H :].t())
        else:
            n = state(xw[:, t, 2 * H :] + r * rh[:, 2 * H :])
        h_new = n + z * (h - n)
        m = mask_at(lengths, t, x)
        h = h_new if m is None else torch.where(m, h_new, h)
        outs.append(h if m is None else h_new * m)
    return torch.stack(outs, 1), h


def lstm_record_steps(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    lengths: Tensor | None,
    gate: Callable,
    state: Callable,
    reverse: bool = False,
) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...]]:
    """One LSTM direction step by step, keeping every signal (no autograd).

    Returns (h (B, T, H), h_T, c_T, the seven signals in ``LSTM_SIGNALS``
    order). ``reverse``: the backward direction, run from the last step down
    and returned in original time order (a sequence's padded steps keep h_0, c_0
    until its own last real step). Time-major buffers keep every per-step slice contiguous, and every
    step writes straight into them: one ``addmm_``, one sigmoid over all four
    gate blocks and four fused element-wise ops. With sigmoid/tanh no tanh is
    taken (a quarter of sigmoid's speed on CPU): the cell candidate's rows are
    scaled by −2 (exactly) so that g = 1 − 2σ(−2a) = tanh(a), i ⊙ g = i − 2 i ⊙ σ(−2a)
    and o ⊙ tanh(c) = o − 2 o ⊙ σ(−2c); g itself and the unscaled
    pre-activations follow after the loop in one pass each.
    """
    B, T, D = x.shape
    H = R.shape[1]
    g3 = slice(2 * H, 3 * H)
    fast = gate is torch.sigmoid and state is torch.tanh
    if fast:
        W, R, b = W.clone(), R.clone(), b.clone()
        for p in (W, R, b):
            p[g3] *= -2.0
    pre = torch.addmm(b, x.transpose(0, 1).reshape(T * B, D), W.t()).view(T, B, 4 * H)  # (T, B, 4H)
    act, cs, hs = torch.empty_like(pre), x.new_empty(T, B, H), x.new_empty(T, B, H)
    Rt = R.t()
    P, A, C, Hs = pre.unbind(0), act.unbind(0), cs.unbind(0), hs.unbind(0)
    I, F, G, O = (act[..., k * H : (k + 1) * H].unbind(0) for k in range(4))  # noqa: E741
    u, tmp, m2 = x.new_empty(B, H), x.new_empty(B, H), x.new_tensor(-2.0)  # m2: no scalar wrapping per step
    for t in range(T - 1, -1, -1) if reverse else range(T):
        z = P[t].addmm_(h, Rt)  # (B, 4H) pre-activations
        if fast:
            torch.sigmoid(z, out=A[t])
            torch.addcmul(I[t], I[t], G[t], value=-2.0, out=u)  # i ⊙ tanh(a)
            c_new = torch.addcmul(u, F[t], c, out=C[t])
            torch.mul(c_new, m2, out=tmp).sigmoid_()
            h_new = torch.addcmul(O[t], O[t], tmp, value=-2.0, out=Hs[t])  # o ⊙ tanh(c)
        else:
            a = A[t]
            a.copy_(gate(z))
            a[:, g3] = state(z[:, g3])
            c_new = torch.addcmul(torch.mul(I[t], G[t]), F[t], c, out=C[t])
            h_new = torch.mul(O[t], state(c_new), out=Hs[t])
        m = mask_at(lengths, t, x)
        h, c = (h_new, c_new) if m is None else (torch.where(m, h_new, h), torch.where(m, c_new, c))
    if fast:
        act[..., g3].mul_(-2.0).add_(1.0)
        pre[..., g3].mul_(-0.5)
    bt = lambda v: v.transpose(0, 1)  # noqa: E731  (T, B, n) -> (B, T, n) view
    out = zero_padding(bt(hs), lengths)
    gates = tuple(bt(act[..., k * H : (k + 1) * H]) for k in range(4))
    return out, h, c, (*gates, bt(cs), out, bt(pre))


def _gates(z: Tensor, out: Tensor, gate: Callable, fast: bool) -> None:
    if fast:
        torch.sigmoid(z, out=out)
    else:
        out.copy_(gate(z))


def gru_record_steps(
    x: Tensor,
    h: Tensor,
    W: Tensor,
    R: Tensor,
    bx: Tensor,
    bh: Tensor | None,
    mode: str,
    lengths: Tensor | None,
    gate: Callable,
    state: Callable,
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """One GRU direction step by step, keeping every signal (no autograd).

    Returns (h (B, T, H), h_T, the five signals in ``GRU_SIGNALS`` order:
    r, z, h~, h, gates_pre). As :func:`lstm_record_steps`: time-major buffers,
    every step written straight into them (eight ops a step), and with
    sigmoid/tanh the candidate's rows scaled by −2 (exactly) so that
    h~ = 1 − 2σ(−2a) = tanh(a) without a tanh; the unscaled pre-activations
    follow after the loop.
    """
    B, T, D = x.shape
    H = R.shape[1]
    rz, n3 = slice(0, 2 * H), slice(2 * H, 3 * H)
    fast = gate is torch.sigmoid and state is torch.tanh
    before = mode == "before-multiplication"
    if fast:
        W, R, bx = W.clone(), R.clone(), bx.clone()
        bh = None if bh is None else bh.clone()
        for p in (W, R, bx, bh):
            if p is not None:
                p[n3] *= -2.0
    pre = torch.addmm(bx, x.transpose(0, 1).reshape(T * B, D), W.t()).view(T, B, 3 * H)  # (T, B, 3H)
    act, hs = torch.empty_like(pre), x.new_empty(T, B, H)
    Hs = hs.unbind(0)
    Prz, Pn, Arz, Ar, Z, N = (
        v[..., s].unbind(0)
        for v, s in ((pre, rz), (pre, n3), (act, rz), (act, slice(0, H)), (act, slice(H, 2 * H)), (act, n3))
    )
    rh, tmp, one = x.new_empty(B, 2 * H if before else 3 * H), x.new_empty(B, H), x.new_ones(())
    Rt = R[rz].t() if before else R.t()
    Rn = R[n3].t()
    for t in range(T):
        if before:  # (B, 2H) gates, then the candidate from (r ⊙ h) R_n
            torch.add(Prz[t], torch.mm(h, Rt, out=rh) if bh is None else torch.addmm(bh[rz], h, Rt, out=rh), out=Prz[t])
            _gates(Prz[t], Arz[t], gate, fast)
            Pn[t].addmm_(torch.mul(Ar[t], h, out=tmp), Rn)
        else:
            torch.mm(h, Rt, out=rh) if bh is None else torch.addmm(bh, h, Rt, out=rh)
            torch.add(Prz[t], rh[:, rz], out=Prz[t])
            _gates(Prz[t], Arz[t], gate, fast)
            torch.addcmul(Pn[t], Ar[t], rh[:, n3], out=Pn[t])
        if fast:  # h~ = 1 − 2σ(−2a)
            torch.addcmul(one, torch.sigmoid(Pn[t], out=N[t]), one, value=-2.0, out=N[t])
        else:
            N[t].copy_(state(Pn[t]))
        h_new = torch.addcmul(N[t], Z[t], torch.sub(h, N[t], out=tmp), out=Hs[t])  # h~ + z ⊙ (h − h~)
        m = mask_at(lengths, t, x)
        h = h_new if m is None else torch.where(m, h_new, h)
    if fast:
        pre[..., n3].mul_(-0.5)
    bt = lambda v: v.transpose(0, 1)  # noqa: E731  (T, B, n) -> (B, T, n) view
    out = zero_padding(bt(hs), lengths)
    return out, h, (*(bt(act[..., k * H : (k + 1) * H]) for k in range(3)), out, bt(pre))


# ----------------------------------------------------- which recording path
def step_loop_pays(B: int, D: int, H: int, gates: int, x: Tensor | None = None) -> bool:
    """True when recording by a per-step loop beats kernel + reconstruction.

    The compiled loops (:mod:`._lstm_kernel`, ``x`` given) compute nothing twice
    and beat the reconstruction on every benchmark shape, so they are used
    whenever they can be. Without them the choice is between the Python loop
    (:func:`lstm_record_steps`, :func:`gru_record_steps`: about 8 small ops of a
    few µs a step, but every product computed once) and the reconstruction (one
    fast batched pass, but the products [x_t, h_{t−1}]·[W, R]ᵀ computed a second
    time: 2·B·(D + H)·gates·H FLOPs a step). Measured (torch 2.13, AVX2, B = 2 … 128,
    D = 1 … 100, H = 32 … 128, T = 100): the loop wins once those FLOPs exceed about
    1.2 MFLOP a step per thread (the products speed up with threads, the Python
    overhead does not): (32, ·, 12, 100) and (128, ·, 28, 128) take the loop, B = 1 the reconstruction.
    """
    if x is not None and compiled_ok(x):
        return True
    return 2 * B * (D + H) * gates * H >= 1.2e6 * torch.get_num_threads()


def compiled_ok(x: Tensor) -> bool:
    """True when the compiled recording loops can take ``x`` (built on first use; False if they cannot be)."""
    return _lstm_kernel.usable(x)


lstm_compiled_ok = compiled_ok
lstm_record_compiled = _lstm_kernel.lstm_record
gru_record_compiled = _lstm_kernel.gru_record
