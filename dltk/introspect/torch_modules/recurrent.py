"""``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` and their cells, recorded with the signals of dltk's LSTM/GRU.

The fused kernel keeps its gates to itself, so the recording runs the module
layer by layer with the same kernel (``torch.lstm`` … on the module's own
weights, inter-layer dropout applied exactly as PyTorch applies it) and then,
per layer and direction, rebuilds the gates from the hidden sequence in ONE
batched pass: with :math:`h_{t-1}` taken from the kernel's outputs,

.. math::
    z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}, \\quad
    [i, f, g, o] = [\\sigma, \\sigma, \\tanh, \\sigma](z_t), \\quad
    c_t = f_t \\odot c_{t-1} + i_t \\odot g_t

(a matrix product over all B·T steps at once, then a chunked linear scan for
:math:`c`). The module's outputs are the kernel's own, so they equal
``module(x)``; the rebuilt gates reproduce :math:`c_t` and :math:`h_t` to float
rounding (tested in float64).

An ``nn.LSTM`` without projection and an ``nn.GRU`` instead run dltk's compiled
recording loops (with autograd on, through their compiled backward) (:mod:`dltk.layers.recurrent_ops`
``compiled_lstm``, where they could be built): the same equations, every signal
written as the step is computed, nothing computed twice; outputs equal
``module(x)`` to float rounding (~1e-6 relative in float32).

Signals (layout ``BTC`` = (B, T, ·) whatever ``batch_first`` says; with a
``PackedSequence`` padded with zeros after each sequence's end, in the
caller's batch order). Names follow PyTorch's parameter names: layer ``k``,
direction ``_reverse``:

* LSTM: ``input_gate_l0``, ``forget_gate_l0``, ``cell_candidate_l0``,
  ``output_gate_l0``, ``cell_state_l0`` (B, T, H); ``hidden_state_l0`` (B, T, H,
  or proj_size); ``gates_pre_l0`` (B, T, 4H) — and ``…_l1_reverse`` etc.
* GRU: ``reset_gate``, ``update_gate``, ``candidate_state``, ``hidden_state``
  (B, T, H), ``gates_pre`` (B, T, 3H): r, z and the candidate's argument
  :math:`W_{in} x + b_{in} + r \\odot (W_{hn} h + b_{hn})` (MATLAB's
  ``recurrent-bias-after-multiplication``).
* RNN: ``hidden_state`` and ``pre_activation`` (B, T, H).

A single-layer one-direction module records the plain names (``forget_gate``)
and also answers to ``forget_gate_l0``.

Cells (``nn.LSTMCell`` …) called in the user's own loop: each call is one
time step; the recording stacks the steps along T (same names, (B, T, ·)).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ...layers.recurrent_ops import GRU_SIGNALS, LSTM_SIGNALS, linear_scan, reverse_within, shift_prev, zero_padding
from ...layers.recurrent_ops import compiled_lstm as _lstm_kernel
from .base import Probe, Recogniser, register

Tensor = torch.Tensor

RNN_SIGNALS = ("hidden_state", "pre_activation")
_KERNELS = {"LSTM": torch.lstm, "GRU": torch.gru, "RNN_TANH": torch.rnn_tanh, "RNN_RELU": torch.rnn_relu}
_GATE_WIDTH = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _base(mode: str) -> tuple[str, ...]:
    return LSTM_SIGNALS if mode == "LSTM" else GRU_SIGNALS if mode == "GRU" else RNN_SIGNALS


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")


# ------------------------------------------------------------- one direction
def lstm_direction(
    x: Tensor, hs: Tensor, h0: Tensor, c0: Tensor, w: list[Tensor], H: int, want: Any
) -> dict[str, Tensor]:
    """LSTM signals of one direction from its input x (B, T, D) and hidden states hs (B, T, P).

    ``w`` = [W_ih, W_hh, (b_ih, b_hh)]; with a projection, h_{t−1} is the projected state.
    """
    B, T, D = x.shape
    out: dict[str, Tensor] = {}
    if want("hidden_state"):
        out["hidden_state"] = hs
    if not any(want(s) for s in LSTM_SIGNALS if s != "hidden_state"):
        return out
    W_ih, W_hh = w[0], w[1]
    xh = torch.cat([x, shift_prev(hs, h0)], 2)  # (B, T, D + P): [x_t, h_{t−1}]
    WR = torch.cat([W_ih, W_hh], 1)
    if len(w) >= 4 and w[2] is not None:
        pre = torch.addmm(w[2] + w[3], xh.view(B * T, -1), WR.t()).view(B, T, 4 * H)
    else:
        pre = (xh.view(B * T, -1) @ WR.t()).view(B, T, 4 * H)
    g = torch.tanh(pre[..., 2 * H : 3 * H])
    act = torch.sigmoid(pre)
    i, f, o = act[..., :H], act[..., H : 2 * H], act[..., 3 * H :]
    if want("gates_pre"):
        out["gates_pre"] = pre
    for name, v in (("input_gate", i), ("forget_gate", f), ("cell_candidate", g), ("output_gate", o)):
        if want(name):
            out[name] = v
    if want("cell_state"):
        out["cell_state"] = linear_scan(f, i * g, c0)
    return out


def gru_direction(x: Tensor, hs: Tensor, h0: Tensor, w: list[Tensor], H: int, want: Any) -> dict[str, Tensor]:
    """GRU signals of one direction (PyTorch's GRU: r, z, n; reset applied after the recurrent product)."""
    B, T, D = x.shape
    out: dict[str, Tensor] = {}
    if want("hidden_state"):
        out["hidden_state"] = hs
    if not any(want(s) for s in GRU_SIGNALS if s != "hidden_state"):
        return out
    W_ih, W_hh = w[0], w[1]
    b_ih, b_hh = (w[2], w[3]) if len(w) >= 4 else (None, None)
    hp = shift_prev(hs, h0).view(B * T, H)
    gx = x.reshape(B * T, D) @ W_ih.t() if b_ih is None else torch.addmm(b_ih, x.reshape(B * T, D), W_ih.t())
    gh = hp @ W_hh.t() if b_hh is None else torch.addmm(b_hh, hp, W_hh.t())
    pre = gx  # our own buffer: the pre-activations are written into it, no further (B·T, 3H) tensor
    pre[:, : 2 * H] += gh[:, : 2 * H]
    rz = torch.sigmoid(pre[:, : 2 * H])
    pre[:, 2 * H :].addcmul_(rz[:, :H], gh[:, 2 * H :])
    pre_n = pre[:, 2 * H :]
    if want("gates_pre"):
        out["gates_pre"] = pre.view(B, T, 3 * H)
    rz = rz.view(B, T, 2 * H)
    if want("reset_gate"):
        out["reset_gate"] = rz[..., :H]
    if want("update_gate"):
        out["update_gate"] = rz[..., H:]
    if want("candidate_state"):
        # tanh(a) = 2σ(2a) − 1: the same value (absolute error ~1e-7 in float32), about twice as fast on CPU
        out["candidate_state"] = torch.sigmoid(pre_n * 2).mul_(2).sub_(1).view(B, T, H)
    return out


def rnn_direction(x: Tensor, hs: Tensor, h0: Tensor, w: list[Tensor], H: int, want: Any) -> dict[str, Tensor]:
    """Elman RNN signals of one direction: the pre-activation W_ih x + b_ih + W_hh h_{t−1} + b_hh."""
    B, T, D = x.shape
    out: dict[str, Tensor] = {}
    if want("hidden_state"):
        out["hidden_state"] = hs
    if want("pre_activation"):
        xh = torch.cat([x, shift_prev(hs, h0)], 2).view(B * T, -1)
        WR = torch.cat([w[0], w[1]], 1)
        pre = xh @ WR.t() if len(w) < 4 else torch.addmm(w[2] + w[3], xh, WR.t())
        out["pre_activation"] = pre.view(B, T, H)
    return out


# ---------------------------------------------------------------- the modules
def _lstm_loop(
    x: Tensor, h: Tensor, c: Tensor, w: list[Tensor], b: Tensor | None, reverse: bool, leaves: dict[str, Tensor]
) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """One LSTM direction as a step loop over x (B, T, D): every signal stacked (B, T, ·), and (h_T, c_T).

    Where ``leaves`` holds a signal, step t uses ``s_t + (S[:, t] − S[:, t].detach())``: the same value,
    with the leaf ``S`` on the graph (see :meth:`RecurrentModule._unrolled_lstm`).
    """
    T, H = x.shape[1], h.shape[-1]
    zx = x @ w[0].t() + (b if b is not None else 0)  # (B, T, 4H): the input part of every step at once
    steps: dict[str, list[Tensor]] = {n: [] for n in LSTM_SIGNALS}

    def tie(name: str, v: Tensor, t: int) -> Tensor:
        leaf = leaves.get(name)
        return v if leaf is None else v + (leaf[:, t] - leaf[:, t].detach())

    for t in range(T - 1, -1, -1) if reverse else range(T):
        pre = tie("gates_pre", zx[:, t] + h @ w[1].t(), t)
        i = tie("input_gate", torch.sigmoid(pre[:, :H]), t)
        f = tie("forget_gate", torch.sigmoid(pre[:, H : 2 * H]), t)
        g = tie("cell_candidate", torch.tanh(pre[:, 2 * H : 3 * H]), t)
        o = tie("output_gate", torch.sigmoid(pre[:, 3 * H :]), t)
        c = tie("cell_state", f * c + i * g, t)
        h = tie("hidden_state", o * torch.tanh(c), t)
        for n, v in zip(LSTM_SIGNALS, (i, f, g, o, c, h, pre)):
            steps[n].append(v)
    if reverse:
        for v in steps.values():
            v.reverse()
    return {n: torch.stack(v, 1) for n, v in steps.items()}, h, c


@register
class RecurrentModule(Recogniser):
    """``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (every option: layers, directions, batch_first,
    proj_size, inter-layer dropout, ``PackedSequence``, given initial states)."""

    types = (nn.LSTM, nn.GRU, nn.RNN)

    def signals(self, module: nn.Module) -> tuple[str, ...]:
        base = _base(module.mode)
        dirs = 2 if module.bidirectional else 1
        names = [s + _suffix(k, d) for k in range(module.num_layers) for d in range(dirs) for s in base]
        return (*base, *names) if module.num_layers == 1 and dirs == 1 else tuple(names)

    def output_layout(self, module: nn.Module, out: Any, layout: str | None) -> str | None:
        if layout is not None or not isinstance(out, torch.Tensor) or out.dim() != 3:
            return layout
        return "BTC" if module.batch_first else "TBC"

    def forward(self, probe: Probe, module: nn.Module, input: Any, hx: Any = None) -> Any:
        try:
            return self._forward(probe, module, input, hx)
        except Exception as e:  # the module's own checks give the user's error (or its result)
            from ...errors import RecordingBudgetError

            if isinstance(e, RecordingBudgetError):
                raise
            out = type(module).forward(module, input, hx)  # the user's own error, if the input is wrong
            # the module ran but its signals could not be rebuilt: say so, never a silently empty recording
            warnings.warn(
                f"dltk.record: the signals of {type(module).__name__} could not be recorded "
                f"({type(e).__name__}: {e}); only its output is in the recording.",
                RuntimeWarning,
                stacklevel=2,
            )
            return out

    def _forward(self, probe: Probe, m: nn.Module, input: Any, hx: Any) -> Any:
        if (
            getattr(probe.recorder, "differentiable", False)
            and m.mode == "LSTM"
            and m.proj_size == 0
            and isinstance(input, torch.Tensor)
            and input.dim() == 3
            and torch.is_grad_enabled()
        ):
            return self._unrolled_lstm(probe, m, input, hx)
        mode, lstm = m.mode, m.mode == "LSTM"
        fn = _KERNELS[mode]
        dirs, L, H = (2 if m.bidirectional else 1), m.num_layers, m.hidden_size
        P = m.proj_size if lstm and m.proj_size > 0 else H
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes, sorted_idx, unsorted_idx = input
            B, unbatched = int(batch_sizes[0]), False
            layer_in = data
            steps = batch_sizes.numel()
            lengths = (torch.arange(B)[:, None] < batch_sizes[None, :]).sum(1)  # sorted order
        else:
            unbatched = input.dim() == 2
            x = input.unsqueeze(0 if m.batch_first else 1) if unbatched else input
            if x.dim() != 3:
                raise ValueError("fall back to the module's own checks")
            layer_in = x.transpose(0, 1) if m.batch_first else x  # (T, B, D), time-major as the kernel runs
            steps, B = layer_in.shape[:2]
            batch_sizes = sorted_idx = unsorted_idx = lengths = None
        like = layer_in
        if hx is None:
            h0 = like.new_zeros(L * dirs, B, P)
            c0 = like.new_zeros(L * dirs, B, H) if lstm else None
        else:
            h0, c0 = hx if lstm else (hx, None)
            if unbatched:
                h0, c0 = h0.unsqueeze(1), (c0.unsqueeze(1) if lstm else None)
            if sorted_idx is not None:
                h0, c0 = h0.index_select(1, sorted_idx), (c0.index_select(1, sorted_idx) if lstm else None)
        nw = len(m._flat_weights) // (L * dirs)
        # the compiled recording loops (autograd on too: a compiled backward through time): LSTM without
        # projection, GRU (PyTorch's GRU is MATLAB's recurrent-bias-after-multiplication mode; without biases
        # plain after-multiplication)
        compiled = (lstm and P == H or mode == "GRU") and _lstm_kernel.usable(like)

        def to_bm(t: Tensor) -> Tensor:  # time-major / packed data -> padded (B, T, ·)
            if packed:
                return pad_packed_sequence(PackedSequence(t, batch_sizes), batch_first=True)[0]
            return t.transpose(0, 1)

        def to_tm(t: Tensor) -> Tensor:  # padded (B, T, ·) -> what the fused kernel takes and returns
            if packed:
                return pack_padded_sequence(t, lengths, batch_first=True).data
            return t.transpose(0, 1).contiguous()

        cur, bm = layer_in, False  # the current layer input, batch-major or as the kernel has it
        hN, cN = [], []
        for k in range(L):
            ws = m._flat_weights[k * dirs * nw : (k + 1) * dirs * nw]
            s = slice(k * dirs, (k + 1) * dirs)
            wanted = self._wanted(probe, m, k)
            if compiled and any(n != "hidden_state" for names in wanted for n in names):
                x_bm = cur if bm else to_bm(cur)
                outs = []
                self._reserve(probe, m, k, wanted, x_bm.shape[0], x_bm.shape[1], P, x_bm.element_size())
                for d in range(dirs):
                    w = ws[d * nw : (d + 1) * nw]
                    want = set(wanted[d]).__contains__
                    if lstm:
                        b = w[2] + w[3] if m.bias else w[0].new_zeros(w[0].shape[0])
                        o, hT, cT, sigs = _lstm_kernel.lstm_record(
                            x_bm, h0[s][d], c0[s][d], w[0], w[1], b, lengths, d == 1, want
                        )
                        cN.append(cT[None])
                    else:
                        bx, bh, gmode = (w[2], w[3], 2) if m.bias else (w[0].new_zeros(w[0].shape[0]), None, 0)
                        flags = [want(n) for n in GRU_SIGNALS]
                        o, hT, vals = _lstm_kernel.gru_record(
                            x_bm, h0[s][d], w[0], w[1], bx, bh, gmode, lengths, flags, reverse=d == 1
                        )
                        sigs = {n: v for n, v in zip(GRU_SIGNALS, vals) if v is not None}
                    if want("hidden_state"):
                        sigs["hidden_state"] = o
                    self._store(probe, m, k, d, sigs, None, unsorted_idx)
                    outs.append(o)
                    hN.append(hT[None])
                cur, bm = (outs[0] if dirs == 1 else torch.cat(outs, -1)), True
            else:
                x_tm = to_tm(cur) if bm else cur
                hx_k = (h0[s], c0[s]) if lstm else h0[s]
                if packed:
                    res = fn(x_tm, batch_sizes, hx_k, ws, m.bias, 1, 0.0, m.training, m.bidirectional)
                else:
                    res = fn(x_tm, hx_k, ws, m.bias, 1, 0.0, m.training, m.bidirectional, False)
                hN.append(res[1])
                if lstm:
                    cN.append(res[2])
                if any(wanted):
                    xb, hb = (cur if bm else to_bm(cur)), to_bm(res[0])
                    self._reserve(probe, m, k, wanted, xb.shape[0], xb.shape[1], P, xb.element_size())
                    self._record_layer(
                        probe, m, k, wanted, xb, hb, h0[s], c0[s] if lstm else None, ws, nw, lengths, unsorted_idx
                    )
                cur, bm = res[0], False
            if m.dropout and m.training and k < L - 1:  # on the kernel's layout: the draw PyTorch makes
                cur, bm = F.dropout(to_tm(cur) if bm else cur, m.dropout, True), False
        h_n = torch.cat(hN, 0)
        c_n = torch.cat(cN, 0) if lstm else None
        if packed:
            output: Any = PackedSequence(to_tm(cur) if bm else cur, batch_sizes, sorted_idx, unsorted_idx)
            if unsorted_idx is not None:
                h_n = h_n.index_select(1, unsorted_idx)
                c_n = c_n.index_select(1, unsorted_idx) if lstm else None
        else:
            if bm:
                output = cur if m.batch_first else to_tm(cur)
            else:
                output = cur.transpose(0, 1) if m.batch_first else cur
            if unbatched:
                output = output.squeeze(0 if m.batch_first else 1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if lstm else None
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def _unrolled_lstm(self, probe: Probe, m: nn.Module, input: Tensor, hx: Any) -> Any:
        """``nn.LSTM`` as a differentiable step loop on its own weights (``record(..., differentiable=True)``).

        Each recorded signal is a leaf tensor ``S`` (B, T, ·) holding the values, and the loop uses
        ``s_t + (S[:, t] − S[:, t].detach())`` — the same number, with ``S`` on the loss's path — so
        after ``loss.backward()`` ``S.grad[:, t]`` is the total derivative ∂loss/∂s_t (through every
        later step), and the parameters get their usual gradients. The module's output is the loop's
        (equal to the fused kernel's to float rounding); inter-layer dropout draws its own mask.
        Costs a Python loop over T per layer and direction, run twice (values, then the graph).
        """
        x = input if m.batch_first else input.transpose(0, 1)  # (B, T, D)
        B, T, _ = x.shape
        dirs, L, H = (2 if m.bidirectional else 1), m.num_layers, m.hidden_size
        if hx is None:
            h0 = x.new_zeros(L * dirs, B, H)
            c0 = x.new_zeros(L * dirs, B, H)
        else:
            h0, c0 = hx
        cur = x
        hN, cN = [], []
        for k in range(L):
            wanted = self._wanted(probe, m, k)
            self._reserve(probe, m, k, wanted, B, T, H, x.element_size())
            outs = []
            for d in range(dirs):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                w = [getattr(m, f"weight_ih{sfx}"), getattr(m, f"weight_hh{sfx}")]
                b = getattr(m, f"bias_ih{sfx}") + getattr(m, f"bias_hh{sfx}") if m.bias else None
                with torch.no_grad():
                    values, _, _ = _lstm_loop(cur, h0[k * dirs + d], c0[k * dirs + d], w, b, d == 1, {})
                leaves = {n: values[n].detach().clone().requires_grad_(True) for n in wanted[d]}
                sigs, hT, cT = _lstm_loop(cur, h0[k * dirs + d], c0[k * dirs + d], w, b, d == 1, leaves)
                self._store(probe, m, k, d, leaves, None, None)
                outs.append(sigs["hidden_state"])
                hN.append(hT[None])
                cN.append(cT[None])
            cur = outs[0] if dirs == 1 else torch.cat(outs, -1)
            if m.dropout and m.training and k < L - 1:
                cur = F.dropout(cur, m.dropout, True)
        output = cur if m.batch_first else cur.transpose(0, 1)
        return output, (torch.cat(hN, 0), torch.cat(cN, 0))

    @staticmethod
    def _wanted(probe: Probe, m: nn.Module, k: int) -> list[list[str]]:
        """The wanted signals of stacked layer ``k``, per direction (base names)."""
        dirs = 2 if m.bidirectional else 1
        plain = m.num_layers == 1 and dirs == 1
        base = _base(m.mode)
        return [[s for s in base if probe.wants(s + _suffix(k, d)) or (plain and probe.wants(s))] for d in range(dirs)]

    @staticmethod
    def _reserve(
        probe: Probe, m: nn.Module, k: int, per_dir: list[list[str]], B: int, T: int, P: int, size: int
    ) -> None:
        """Check the budget for the signals of layer ``k`` before computing them."""
        H = m.hidden_size
        widths = {"hidden_state": P, "gates_pre": _GATE_WIDTH[m.mode] * H}
        nbytes = sum(B * T * widths.get(s, H) for names in per_dir for s in names) * size
        where = f" (stacked layer {k})" if m.num_layers > 1 else ""
        probe.reserve(nbytes, f"{sum(map(len, per_dir))} signals of (B, T, H) = ({B}, {T}, {H}){where}")

    @staticmethod
    def _store(
        probe: Probe, m: nn.Module, k: int, d: int, sigs: dict, lengths: Tensor | None, unsorted_idx: Tensor | None
    ) -> None:
        """Store one direction's signals (zeros at padded steps, the caller's batch order)."""
        plain = m.num_layers == 1 and not m.bidirectional
        for name in [s for s in _base(m.mode) if s in sigs]:
            v = sigs[name]
            if lengths is not None:
                v = zero_padding(v, lengths)
            if unsorted_idx is not None:
                v = v.index_select(0, unsorted_idx)
            if plain:
                probe.store(name, v, "BTC")
                probe.alias(name + _suffix(k, d), name)
            else:
                probe.store(name + _suffix(k, d), v, "BTC")

    def _record_layer(
        self,
        probe: Probe,
        m: nn.Module,
        k: int,
        per_dir: list[list[str]],
        x: Tensor,
        hs_all: Tensor,
        h0: Tensor,
        c0: Tensor | None,
        ws: list[Tensor],
        nw: int,
        lengths: Tensor | None,
        unsorted_idx: Tensor | None,
    ) -> None:
        """Rebuild and store the signals of layer ``k`` (both directions) from its input x (B, T, D)
        and output hs_all (B, T, dirs·P), padded, in the kernel's batch order."""
        dirs, mode, H = (2 if m.bidirectional else 1), m.mode, m.hidden_size
        P = hs_all.shape[-1] // dirs
        with probe.signal_grad():
            for d in range(dirs):
                if not per_dir[d]:
                    continue
                want = set(per_dir[d]).__contains__
                w = list(ws[d * nw : (d + 1) * nw])
                hs = hs_all[..., d * P : (d + 1) * P]
                xd, hd = (x, hs) if d == 0 else (reverse_within(x, lengths), reverse_within(hs, lengths))
                if mode == "LSTM":
                    sigs = lstm_direction(xd, hd, h0[d], c0[d], w, H, want)
                elif mode == "GRU":
                    sigs = gru_direction(xd, hd, h0[d], w, H, want)
                else:
                    sigs = rnn_direction(xd, hd, h0[d], w, H, want)
                if d == 1:
                    sigs = {n: reverse_within(v, lengths) for n, v in sigs.items()}
                self._store(probe, m, k, d, sigs, lengths, unsorted_idx)


@register
class RecurrentCell(Recogniser):
    """``nn.LSTMCell`` / ``nn.GRUCell`` / ``nn.RNNCell`` called step by step in the user's loop."""

    types = (nn.LSTMCell, nn.GRUCell, nn.RNNCell)

    def signals(self, module: nn.Module) -> tuple[str, ...]:
        if isinstance(module, nn.LSTMCell):
            return LSTM_SIGNALS
        return GRU_SIGNALS if isinstance(module, nn.GRUCell) else RNN_SIGNALS

    def install(self, probe: Probe, output: bool = True) -> list[Any]:
        probe.state["steps"] = []
        return super().install(probe, output)

    def output_layout(self, module: nn.Module, out: Any, layout: str | None) -> str | None:
        return "BC" if isinstance(out, torch.Tensor) and out.dim() == 2 else layout

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        x = args[0] if args else kwargs["input"]
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        unbatched = x.dim() == 1
        if unbatched:
            x = x[None]
        H, B = m.hidden_size, x.shape[0]
        lstm = isinstance(m, nn.LSTMCell)
        if hx is None:
            h = x.new_zeros(B, H)
            c = x.new_zeros(B, H) if lstm else None
        else:
            h, c = hx if lstm else (hx, None)
            h, c = (h[None], c[None] if lstm else None) if unbatched else (h, c)
        h_new, c_new = output if lstm else (output, None)
        if unbatched:
            h_new, c_new = h_new[None], (c_new[None] if lstm else None)
        names = [s for s in self.signals(m) if probe.wants(s)]
        width = {"gates_pre": (4 if lstm else 3) * H}
        probe.reserve(sum(B * width.get(s, H) for s in names) * x.element_size(), f"one step of {len(names)} signals")
        with probe.signal_grad():
            gx = F.linear(x, m.weight_ih, m.bias_ih)
            gh = F.linear(h, m.weight_hh, m.bias_hh)
            step: dict[str, Tensor] = {}
            if lstm:
                pre = gx + gh
                act = torch.sigmoid(pre)
                vals = {
                    "input_gate": act[:, :H],
                    "forget_gate": act[:, H : 2 * H],
                    "cell_candidate": torch.tanh(pre[:, 2 * H : 3 * H]),
                    "output_gate": act[:, 3 * H :],
                    "cell_state": c_new,
                    "hidden_state": h_new,
                    "gates_pre": pre,
                }
            elif isinstance(m, nn.GRUCell):
                pre_rz = gx[:, : 2 * H] + gh[:, : 2 * H]
                rz = torch.sigmoid(pre_rz)
                pre_n = gx[:, 2 * H :] + rz[:, :H] * gh[:, 2 * H :]
                vals = {
                    "reset_gate": rz[:, :H],
                    "update_gate": rz[:, H:],
                    "candidate_state": torch.tanh(pre_n),
                    "hidden_state": h_new,
                    "gates_pre": torch.cat([pre_rz, pre_n], 1),
                }
            else:
                vals = {"hidden_state": h_new, "pre_activation": gx + gh}
            for s in names:
                step[s] = vals[s] if probe.keep_graph else vals[s].detach()
        probe.state["steps"].append(step)

    def finish(self, probe: Probe) -> None:
        steps = probe.state.get("steps") or []
        if not steps:
            return
        for s in steps[0]:
            probe.store(s, torch.stack([st[s] for st in steps], 1), "BTC")
        probe.state["steps"] = []
