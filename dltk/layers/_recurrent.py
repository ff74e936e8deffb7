"""Shared machinery of the recurrent layers (:mod:`.lstm`, :mod:`.gru`).

* activation functions MATLAB offers (``hard-sigmoid``, ``softsign``);
* variable-length helpers for right-padded batches (per-sequence reversal,
  last real step, masking);
* the two ways to run a direction: the fused PyTorch kernel (``torch.lstm`` /
  ``torch.gru``, also packed for ``lengths``) and a plain step loop for the
  configurations PyTorch has no kernel for (softsign, hard-sigmoid, GRU
  ``before-multiplication``);
* gate reconstruction for recordings: the kernel returns every h_t, so the
  gates follow from ONE batched matrix product over all time steps
  (``[x_t, h_{t-1}] -> pre-activations``), and the cell states from a linear
  scan ``c_t = f_t ⊙ c_{t-1} + u_t`` (sequential or log-depth, chosen per shape);
  with autograd off, a tanh/sigmoid LSTM records instead through the compiled
  step loop of :mod:`._lstm_kernel` when it builds (see ``step_loop_pays``);
* :class:`RecurrentLayer`, the common options/state/port handling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import LayerInputError, OptionError
from ..options import choice, flag, number, positive_int
from . import _lstm_kernel
from . import initializers as init
from .base import Layer, matlab_property

Tensor = torch.Tensor


# ------------------------------------------------------------------ activations
def hard_sigmoid(x: Tensor) -> Tensor:
    """0 for x < −2.5, 0.2·x + 0.5 on [−2.5, 2.5], 1 for x > 2.5."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


GATE_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {"sigmoid": torch.sigmoid, "hard-sigmoid": hard_sigmoid}
STATE_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "softsign": F.softsign}


# ------------------------------------------------------------ variable lengths
def reverse_within(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each right-padded sequence of (B, T, …) within its own length (padding stays right)."""
    if lengths is None:
        return x.flip(1)
    T = x.shape[1]
    t = torch.arange(T, device=x.device)[None, :]
    L = lengths.to(x.device)[:, None]
    idx = torch.where(t < L, L - 1 - t, t)  # (B, T)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.ndim - 2))).expand_as(x))


def last_step(y: Tensor, lengths: Tensor | None) -> Tensor:
    """(B, T, C) -> (B, C): each sequence's own last real step."""
    if lengths is None:
        return y[:, -1]
    idx = (lengths.to(y.device) - 1).view(-1, 1, 1).expand(-1, 1, y.shape[2])
    return y.gather(1, idx).squeeze(1)


def zero_padding(y: Tensor, lengths: Tensor | None) -> Tensor:
    """Zero the padded steps of (B, T, C)."""
    if lengths is None:
        return y
    mask = torch.arange(y.shape[1], device=y.device)[None, :] < lengths.to(y.device)[:, None]
    return y * mask[..., None].to(y.dtype)


def shift_prev(hs: Tensor, h0: Tensor) -> Tensor:
    """(B, T, H) hidden states -> the previous states h_{t−1}, h_0 first (contiguous)."""
    return torch.cat([h0[:, None], hs[:, :-1]], 1)


# ------------------------------------------------------------------------ scans
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


# --------------------------------------------------------------- fused kernels
def run_fused(
    kind: str, x: Tensor, hx: Any, params: list[Tensor], bidirectional: bool, lengths: Tensor | None, train: bool
) -> tuple[Tensor, Any]:
    """One ``torch.lstm``/``torch.gru`` call (packed when ``lengths`` is given).

    Returns (output (B, T, dirs·H) with zeros at padded steps, final states
    (dirs, B, H) — each sequence's own).
    """
    fn = torch.lstm if kind == "lstm" else torch.gru
    if lengths is None:
        res = fn(x, hx, params, True, 1, 0.0, train, bidirectional, True)
        return res[0], res[1:]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    order, unorder = packed.sorted_indices, packed.unsorted_indices
    hx = tuple(h.index_select(1, order) for h in hx) if kind == "lstm" else hx.index_select(1, order)
    res = fn(packed.data, packed.batch_sizes, hx, params, True, 1, 0.0, train, bidirectional)
    out, _ = pad_packed_sequence(
        type(packed)(res[0], packed.batch_sizes, order, unorder), batch_first=True, total_length=x.shape[1]
    )
    return out, tuple(h.index_select(1, unorder) for h in res[1:])


# ------------------------------------------------------------------ step loops
def _mask_at(lengths: Tensor | None, t: int, like: Tensor) -> Tensor | None:
    return None if lengths is None else (lengths.to(like.device) > t)[:, None]


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
        m = _mask_at(lengths, t, x)
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
        m = _mask_at(lengths, t, x)
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
) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
    """One LSTM direction step by step, keeping every signal (no autograd).

    For shapes whose per-step matrix product dominates the per-step overhead
    this is cheaper than kernel + reconstruction: nothing is computed twice.
    Time-major buffers keep every per-step slice contiguous; each step is one
    ``addmm_`` plus six fused element-wise ops writing in place.
    """
    B, T, D = x.shape
    H = R.shape[1]
    pre = torch.addmm(b, x.transpose(0, 1).reshape(T * B, D), W.t()).view(T, B, 4 * H)  # (T, B, 4H)
    act, cs, hs = torch.empty_like(pre), x.new_empty(T, B, H), x.new_empty(T, B, H)
    Rt, fast = R.t(), gate is torch.sigmoid and state is torch.tanh
    g3 = slice(2 * H, 3 * H)
    for t in range(T):
        z = pre[t].addmm_(h, Rt)  # (B, 4H) pre-activations
        a = act[t]
        if fast:
            torch.sigmoid(z, out=a)
            torch.tanh(z[:, g3], out=a[:, g3])
        else:
            a.copy_(gate(z))
            a[:, g3] = state(z[:, g3])
        c_new = torch.addcmul(torch.mul(a[:, :H], a[:, g3]), a[:, H : 2 * H], c, out=cs[t])
        h_new = torch.mul(a[:, 3 * H :], state(c_new), out=hs[t])
        m = _mask_at(lengths, t, x)
        h, c = (h_new, c_new) if m is None else (torch.where(m, h_new, h), torch.where(m, c_new, c))
    bt = lambda v: v.transpose(0, 1)  # noqa: E731  (T, B, n) -> (B, T, n) view
    names = ("input_gate", "forget_gate", "cell_candidate", "output_gate")
    sigs = {n: bt(act[..., k * H : (k + 1) * H]) for k, n in enumerate(names)}
    out = zero_padding(bt(hs), lengths)
    sigs.update(gates_pre=bt(pre), cell_state=bt(cs), hidden_state=out)
    return out, h, c, sigs


def step_loop_pays(B: int, D: int, H: int, gates: int, x: Tensor | None = None) -> bool:
    """True when recording by a per-step loop beats kernel + reconstruction.

    Measured (2 CPU threads, torch 2.11/2.13): the Python loop adds ~7 small
    ops of ~10 µs per step and lost to the reconstruction on every benchmark
    shape, even at ~20 MFLOP per step; it only pays for very wide steps. The
    compiled LSTM loop (:mod:`._lstm_kernel`, ``gates == 4`` and ``x`` given)
    computes nothing twice and beat the reconstruction on every benchmark
    shape, the tiny-batch long-sequence one included (measured in CPU time,
    see ``benchmarks/bench_lstm.py``), so it is used whenever it can be.
    """
    if gates == 4 and x is not None and lstm_compiled_ok(x):
        return True
    return 2 * B * (D + H) * gates * H >= 2e8


def lstm_compiled_ok(x: Tensor) -> bool:
    """True when the compiled LSTM recording loop can take ``x`` (built on first use; False if it cannot be)."""
    return _lstm_kernel.usable(x)


lstm_record_compiled = _lstm_kernel.lstm_record


# ------------------------------------------------------------ reconstruction
def lstm_signals(
    x: Tensor,
    hs: Tensor,
    h0: Tensor,
    c0: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    lengths: Tensor | None,
    want: Callable[[str], bool],
    gate: Callable,
    state: Callable,
) -> dict[str, Tensor]:
    """The LSTM signals of one direction from its hidden states ``hs`` (B, T, H).

    Only the gate blocks needed by the wanted signals are recomputed.
    """
    B, T, D = x.shape
    H = R.shape[1]
    names = ("input_gate", "forget_gate", "cell_candidate", "output_gate")
    blocks = {k for k in range(4) if want(names[k])}
    if want("cell_state"):
        blocks |= {0, 1, 2}
    if want("gates_pre"):
        blocks = {0, 1, 2, 3}
    out: dict[str, Tensor] = {}
    if want("hidden_state"):
        out["hidden_state"] = hs
    if not blocks:
        return out
    ks = sorted(blocks)
    rows = [slice(k * H, (k + 1) * H) for k in ks]
    Wk, Rk, bk = (torch.cat([p[r] for r in rows]) if len(ks) < 4 else p for p in (W, R, b))
    xh = x.new_empty(B, T, D + H)  # [x_t, h_{t-1}]
    xh[..., :D] = x
    xh[:, 0, D:] = h0
    xh[:, 1:, D:] = hs[:, :-1]
    pre = torch.addmm(bk, xh.view(B * T, D + H), torch.cat([Wk, Rk], 1).t()).view(B, T, len(ks) * H)
    at = {k: j for j, k in enumerate(ks)}
    sig = {}
    if 2 in blocks:  # tanh is ~10x slower on strided data: copy the block first
        sig[2] = state(pre[..., at[2] * H : (at[2] + 1) * H].contiguous())
    act = gate(pre) if want("gates_pre") or gate is not torch.sigmoid else pre.sigmoid_()  # (B, T, nH)
    sig.update({k: act[..., at[k] * H : (at[k] + 1) * H] for k in ks if k != 2})
    if want("gates_pre"):
        out["gates_pre"] = pre
    for k in ks:
        if want(names[k]):
            out[names[k]] = sig[k]
    if want("cell_state"):
        out["cell_state"] = linear_scan(sig[1], sig[0] * sig[2], c0)
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
    lengths: Tensor | None,
    want: Callable[[str], bool],
    gate: Callable,
    state: Callable,
) -> dict[str, Tensor]:
    """The GRU signals of one direction from its hidden states ``hs`` (B, T, H)."""
    B, T, D = x.shape
    H = R.shape[1]
    out: dict[str, Tensor] = {}
    if want("hidden_state"):
        out["hidden_state"] = hs
    if not any(want(n) for n in ("reset_gate", "update_gate", "candidate_state", "gates_pre")):
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
    if want("gates_pre"):
        out["gates_pre"] = torch.cat([pre_rz, pre_n], 1).view(B, T, 3 * H)
    rz = rz.view(B, T, 2 * H)
    if want("reset_gate"):
        out["reset_gate"] = rz[..., :H]
    if want("update_gate"):
        out["update_gate"] = rz[..., H:]
    if want("candidate_state"):
        out["candidate_state"] = state(pre_n).view(B, T, H)
    return out


# ------------------------------------------------------------------ the base
def _factor(where: str, option: str, value: Any, n: int) -> float | tuple[float, ...]:
    """A learn-rate/L2 factor: a scalar or one value per gate block (``n``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(where, option, value, low=0)
    vals = torch.as_tensor(value, dtype=torch.float64).flatten().tolist() if value is not None else []
    if len(vals) == 1:
        return number(where, option, vals[0], low=0)
    if len(vals) != n:
        raise OptionError(f"{where}: {option} must be a scalar or a {n}-element vector (one per gate), got {value!r}.")
    return tuple(number(where, option, v, low=0) for v in vals)


class RecurrentLayer(Layer):
    """Options, parameters, initial states and ports common to LSTM, BiLSTM and GRU.

    Subclasses set ``_gates`` (4 or 3), ``_dirs`` (1 or 2), ``_has_cell``,
    ``_default_bias_init`` and implement ``_run``.
    """

    _gates = 4
    _dirs = 1
    _has_cell = True
    _default_bias_init = "unit-forget-gate"
    is_recurrent = True
    accepts_lengths = True
    matlab_positional = ("num_hidden_units",)
    _common_options = {
        "OutputMode": "output_mode",
        "StateActivationFunction": "state_activation_function",
        "GateActivationFunction": "gate_activation_function",
        "HasStateInputs": "has_state_inputs",
        "HasStateOutputs": "has_state_outputs",
        "InputSize": "input_size",
        "InputWeights": "input_weights",
        "RecurrentWeights": "recurrent_weights",
        "Bias": "bias",
        "InputWeightsLearnRateFactor": "input_weights_learn_rate_factor",
        "RecurrentWeightsLearnRateFactor": "recurrent_weights_learn_rate_factor",
        "BiasLearnRateFactor": "bias_learn_rate_factor",
        "InputWeightsL2Factor": "input_weights_l2_factor",
        "RecurrentWeightsL2Factor": "recurrent_weights_l2_factor",
        "BiasL2Factor": "bias_l2_factor",
        "InputWeightsInitializer": "input_weights_initializer",
        "RecurrentWeightsInitializer": "recurrent_weights_initializer",
        "BiasInitializer": "bias_initializer",
        "HiddenState": "hidden_state",
    }

    def __init__(
        self,
        num_hidden_units: int,
        *,
        output_mode: str = "sequence",
        state_activation_function: str = "tanh",
        gate_activation_function: str = "sigmoid",
        has_state_inputs: bool = False,
        has_state_outputs: bool = False,
        input_size: int | str = "auto",
        input_weights: Any = None,
        recurrent_weights: Any = None,
        bias: Any = None,
        input_weights_learn_rate_factor: Any = 1.0,
        recurrent_weights_learn_rate_factor: Any = 1.0,
        bias_learn_rate_factor: Any = 1.0,
        input_weights_l2_factor: Any = 1.0,
        recurrent_weights_l2_factor: Any = 1.0,
        bias_l2_factor: Any = 0.0,
        input_weights_initializer: Any = "glorot",
        recurrent_weights_initializer: Any = "orthogonal",
        bias_initializer: Any = None,
        hidden_state: Any = None,
        cell_state: Any = None,
        name: str = "",
    ) -> None:
        super().__init__(name)
        w = self.matlab_name
        self.num_hidden_units = positive_int(w, "NumHiddenUnits", num_hidden_units)
        self.output_mode = choice(w, "OutputMode", output_mode, ("sequence", "last"))
        self.state_activation_function = choice(
            w, "StateActivationFunction", state_activation_function, tuple(STATE_FUNCTIONS)
        )
        self.gate_activation_function = choice(
            w, "GateActivationFunction", gate_activation_function, tuple(GATE_FUNCTIONS)
        )
        self.has_state_inputs = flag(w, "HasStateInputs", has_state_inputs)
        self.has_state_outputs = flag(w, "HasStateOutputs", has_state_outputs)
        auto = isinstance(input_size, str) and input_size.lower() == "auto"
        self.input_size: int | str = "auto" if auto else positive_int(w, "InputSize", input_size)
        self.input_weights_initializer = init.check_initializer(
            w, "InputWeightsInitializer", input_weights_initializer, init.WEIGHT_INITIALIZERS
        )
        self.recurrent_weights_initializer = init.check_initializer(
            w, "RecurrentWeightsInitializer", recurrent_weights_initializer, init.WEIGHT_INITIALIZERS
        )
        bias_names = ("unit-forget-gate", *init.BIAS_INITIALIZERS) if self._has_cell else init.BIAS_INITIALIZERS
        self.bias_initializer = init.check_initializer(
            w, "BiasInitializer", self._default_bias_init if bias_initializer is None else bias_initializer, bias_names
        )
        n = self._gates * self._dirs
        for opt, attr, val in (
            ("InputWeightsLearnRateFactor", "input_weights_learn_rate_factor", input_weights_learn_rate_factor),
            (
                "RecurrentWeightsLearnRateFactor",
                "recurrent_weights_learn_rate_factor",
                recurrent_weights_learn_rate_factor,
            ),
            ("BiasLearnRateFactor", "bias_learn_rate_factor", bias_learn_rate_factor),
            ("InputWeightsL2Factor", "input_weights_l2_factor", input_weights_l2_factor),
            ("RecurrentWeightsL2Factor", "recurrent_weights_l2_factor", recurrent_weights_l2_factor),
            ("BiasL2Factor", "bias_l2_factor", bias_l2_factor),
        ):
            setattr(self, attr, _factor(w, opt, val, n))
        if not self._has_cell and cell_state is not None:
            raise OptionError(f"{w}: has no CellState (a GRU carries only HiddenState).")
        if self.has_state_inputs and (hidden_state is not None or cell_state is not None):
            raise OptionError(
                f"{w}: HiddenState/CellState cannot be set when HasStateInputs is true "
                "(the states come in through the 'hidden' and 'cell' inputs)."
            )
        self._initial_states = (
            self._state_value("HiddenState", hidden_state),
            self._state_value("CellState", cell_state),
        )
        self.hidden_state, self.cell_state = self._initial_states
        self._initial = (input_weights, recurrent_weights, bias)
        for p in ("input_weights", "recurrent_weights", "bias"):
            self.register_parameter(p, None)
        if self.input_size == "auto" and input_weights is not None:
            self.input_size = int(torch.as_tensor(input_weights).shape[-1])
        if self.input_size != "auto":
            self._materialize(int(self.input_size))

    # ------------------------------------------------------------ parameters
    @property
    def _bias_size(self) -> int:
        return self._gates * self._dirs * self.num_hidden_units

    def _materialize(self, input_size: int, dtype: torch.dtype | None = None, device: Any = None) -> None:
        self.input_size = input_size
        rows, H = self._gates * self._dirs * self.num_hidden_units, self.num_hidden_units
        kw = {"dtype": dtype or torch.get_default_dtype(), "device": device}
        self.input_weights = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.recurrent_weights = nn.Parameter(torch.empty(rows, H, **kw))
        self.bias = nn.Parameter(torch.empty(self._bias_size, **kw))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialize with the layer's initializers (or the given InputWeights/RecurrentWeights/Bias)."""
        H, G, D = self.num_hidden_units, self._gates, int(self.input_size)
        per_dir = []
        for _ in range(self._dirs):
            W = init.make(self.input_weights_initializer, (G * H, D), D, G * H)
            R = init.make(self.recurrent_weights_initializer, (G * H, H), H, G * H, blocks=G)
            per_dir.append((W, R))
        values = [torch.cat([p[0] for p in per_dir]), torch.cat([p[1] for p in per_dir])]
        if self.bias_initializer == "unit-forget-gate":
            values.append(torch.cat([init.unit_forget_gate(H) for _ in range(self._dirs)]))
        else:
            values.append(init.make(self.bias_initializer, (self._bias_size,), D, G * H))
        with torch.no_grad():
            for p, v, given in zip((self.input_weights, self.recurrent_weights, self.bias), values, self._initial):
                if given is not None:
                    v = self._given(given, p.shape)
                p.copy_(v)

    def _given(self, value: Any, shape: torch.Size) -> Tensor:
        v = torch.as_tensor(value, dtype=torch.float64)
        if v.numel() != math.prod(shape):
            matlab = "×".join(str(s) for s in (shape if len(shape) == 2 else (shape[0], 1)))
            raise OptionError(
                f"{self.matlab_name}: expected a {matlab} matrix for a learnable, got shape {tuple(v.shape)}."
            )
        return v.reshape(shape)

    def setup(self, example_inputs: list[Tensor], layouts: list[str | None]) -> None:
        super().setup(example_inputs, layouts)
        x = example_inputs[0]
        if self.input_weights is None and x.ndim == 3:
            self._materialize(int(x.shape[-1]), x.dtype, x.device)

    # ---------------------------------------------------------- MATLAB views
    NumHiddenUnits = matlab_property("num_hidden_units", readonly=True)
    OutputMode = matlab_property("output_mode")
    StateActivationFunction = matlab_property("state_activation_function", readonly=True)
    GateActivationFunction = matlab_property("gate_activation_function", readonly=True)
    HasStateInputs = matlab_property("has_state_inputs", readonly=True)
    HasStateOutputs = matlab_property("has_state_outputs", readonly=True)
    InputSize = matlab_property("input_size", readonly=True)
    InputWeightsInitializer = matlab_property("input_weights_initializer")
    RecurrentWeightsInitializer = matlab_property("recurrent_weights_initializer")
    BiasInitializer = matlab_property("bias_initializer")
    InputWeightsLearnRateFactor = matlab_property("input_weights_learn_rate_factor")
    RecurrentWeightsLearnRateFactor = matlab_property("recurrent_weights_learn_rate_factor")
    BiasLearnRateFactor = matlab_property("bias_learn_rate_factor")
    InputWeightsL2Factor = matlab_property("input_weights_l2_factor")
    RecurrentWeightsL2Factor = matlab_property("recurrent_weights_l2_factor")
    BiasL2Factor = matlab_property("bias_l2_factor")

    @property
    def InputWeights(self) -> Tensor | None:
        """MATLAB ``InputWeights`` (rows: gate blocks, forward first): the torch parameter itself."""
        return self.input_weights

    @InputWeights.setter
    def InputWeights(self, value: Any) -> None:
        with torch.no_grad():
            self.input_weights.copy_(self._given(value, self.input_weights.shape))

    @property
    def RecurrentWeights(self) -> Tensor | None:
        """MATLAB ``RecurrentWeights``: the torch parameter itself."""
        return self.recurrent_weights

    @RecurrentWeights.setter
    def RecurrentWeights(self, value: Any) -> None:
        with torch.no_grad():
            self.recurrent_weights.copy_(self._given(value, self.recurrent_weights.shape))

    @property
    def Bias(self) -> Tensor | None:
        """MATLAB ``Bias``: a column view (n×1) of the torch ``bias``."""
        return None if self.bias is None else self.bias.view(-1, 1)

    @Bias.setter
    def Bias(self, value: Any) -> None:
        with torch.no_grad():
            self.bias.copy_(self._given(value, self.bias.shape))

    # ---------------------------------------------------------------- states
    @property
    def _state_size(self) -> int:
        return self._dirs * self.num_hidden_units

    def _state_value(self, option: str, value: Any) -> Tensor | None:
        """A state given MATLAB-style (n×1, or n×B after an update) -> (n,) or (B, n)."""
        if value is None or (hasattr(value, "__len__") and len(value) == 0):
            return None
        v = torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone()
        n = self._state_size
        if v.ndim == 2 and v.shape[0] == n and v.shape[1] != n:
            v = v.T  # MATLAB n×B
        v = v.reshape(n) if v.numel() == n else v
        if v.ndim not in (1, 2) or v.shape[-1] != n:
            raise OptionError(f"{self.matlab_name}: {option} must be a {n}×1 vector, got shape {tuple(v.shape)}.")
        return v.contiguous()

    @property
    def HiddenState(self) -> Tensor | None:
        """MATLAB ``HiddenState``: n×1 (or n×B after a stateful prediction); None when empty (zeros are used)."""
        h = self.hidden_state
        return None if h is None else (h.view(-1, 1) if h.ndim == 1 else h.T)

    @HiddenState.setter
    def HiddenState(self, value: Any) -> None:
        self._set_state_option("HiddenState", value)

    def _set_state_option(self, option: str, value: Any) -> None:
        if self.has_state_inputs:
            raise OptionError(f"{self.matlab_name}: cannot set {option} when HasStateInputs is true.")
        v = self._state_value(option, value)
        if option == "HiddenState":
            self.hidden_state = v
        else:
            self.cell_state = v

    def update_state(self, hidden: Tensor, cell: Tensor | None = None) -> None:
        """Store end-of-sequence states (n,) or (B, n) as the next initial states.

        ``predictAndUpdateState`` calls this with the ``'hidden'``/``'cell'``
        state outputs; :meth:`reset_state` restores the constructor's values.
        """
        self.hidden_state = hidden.detach().clone()
        if self._has_cell and cell is not None:
            self.cell_state = cell.detach().clone()

    def reset_state(self) -> None:
        """Restore the initial HiddenState/CellState (MATLAB ``resetState``)."""
        h, c = self._initial_states
        self.hidden_state = None if h is None else h.clone()
        self.cell_state = None if c is None else c.clone()

    # ----------------------------------------------------------------- ports
    @property
    def input_names(self) -> tuple[str, ...]:
        if not self.has_state_inputs:
            return ("in",)
        return ("in", "hidden", "cell") if self._has_cell else ("in", "hidden")

    @property
    def output_names(self) -> tuple[str, ...]:
        if not self.has_state_outputs:
            return ("out",)
        return ("out", "hidden", "cell") if self._has_cell else ("out", "hidden")

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return "BTC" if self.output_mode == "sequence" else "BC"

    # ----------------------------------------------------------------- input
    def _initial_state(self, given: Tensor | None, stored: Tensor | None, port: str, x: Tensor) -> Tensor:
        """Initial state as (dirs, B, H), from a state input, the stored state, or zeros."""
        B, n, H = x.shape[0], self._state_size, self.num_hidden_units
        if given is not None:
            self._check_input(given, "BC", {"B": B, "C": n})
            v = given
        elif stored is None:
            return x.new_zeros(self._dirs, B, H)
        else:
            v = stored.to(dtype=x.dtype, device=x.device)
            v = v.expand(B, n) if v.ndim == 1 or v.shape[0] == 1 else v
            if v.shape[0] != B:
                raise self._fail(f"a batch of {v.shape[0]} observations (the stored {port} state)", x)
        return v.reshape(B, self._dirs, H).transpose(0, 1).contiguous()

    def _prepare(self, x: Tensor, states: Sequence[Tensor], lengths: Any) -> tuple[Tensor | None, ...]:
        known = None if self.input_weights is None else self.input_size
        self._check_input(x, "BTC", {"C": known})
        if len(states) != len(self.input_names) - 1:
            raise LayerInputError(
                f"{self.matlab_name} '{self.label}': expected inputs {self.input_names}, got {1 + len(states)} tensors."
            )
        if self.input_weights is None:
            self._materialize(int(x.shape[-1]), x.dtype, x.device)
        L = self._check_lengths(lengths, x)
        h0 = self._initial_state(states[0] if states else None, self.hidden_state, "hidden", x)
        c0 = None
        if self._has_cell:
            c0 = self._initial_state(states[1] if states else None, self.cell_state, "cell", x)
        return L, h0, c0

    def _check_lengths(self, lengths: Any, x: Tensor) -> Tensor | None:
        if lengths is None:
            return None
        L = torch.as_tensor(lengths).reshape(-1)
        B, T = x.shape[:2]
        if L.is_floating_point() or L.numel() != B or bool((L < 1).any()) or bool((L > T).any()):
            raise self._fail(
                f"lengths: {B} integers in 1..{T} (one per observation)",
                x,
                f"lengths {L.tolist() if L.numel() <= 8 else tuple(L.shape)}",
            )
        L = L.long()
        return None if bool((L == T).all()) else L

    def _finish(self, out: Tensor, hT: Tensor, cT: Tensor | None, lengths: Tensor | None) -> Any:
        """Apply OutputMode and add state outputs; hT/cT (dirs, B, H) -> (B, dirs·H)."""
        y = out if self.output_mode == "sequence" else last_step(out, lengths)
        if not self.has_state_outputs:
            return y
        B = out.shape[0]
        hT = hT.transpose(0, 1).reshape(B, -1)
        if not self._has_cell:
            return y, hT
        return y, hT, cT.transpose(0, 1).reshape(B, -1)

    def _emit_all(self, sigs: dict[str, Tensor], lengths: Tensor | None) -> None:
        for k, v in sigs.items():
            self._emit(k, zero_padding(v, lengths), "BTC")

    def _reserve_signals(self, B: int, T: int, itemsize: int) -> None:
        """Reserve the bytes of the wanted signals before computing any of them."""
        H = self.num_hidden_units
        total = 0
        for s in self.signals:
            if self._wants(s):
                total += B * T * H * (self._gates if s.endswith("gates_pre") else 1) * itemsize
        if total:
            self._reserve(total, f"{sum(self._wants(s) for s in self.signals)} signals of (B, T, H) = ({B}, {T}, {H})")

    def _want_fn(self, prefix: str = "") -> Callable[[str], bool]:
        return lambda s: self._wants(prefix + s)

    def extra_repr(self) -> str:
        s = f"num_hidden_units={self.num_hidden_units}, input_size={self.input_size!r}"
        s += f", output_mode={self.output_mode!r}"
        if self.state_activation_function != "tanh" or self.gate_activation_function != "sigmoid":
            s += f", state={self.state_activation_function!r}, gate={self.gate_activation_function!r}"
        return s
