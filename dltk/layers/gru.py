"""Gated recurrent unit layer (MATLAB ``gruLayer``).

The file opens with :func:`gru_step`, one GRU step in every ResetGateMode in
a few readable lines: the definition every fast path is tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..options import choice
from . import _recurrent_run as run
from ._recurrent import RecurrentLayer
from ._recurrent_rebuild import gru_signals

__all__ = ["GRU", "GRU_SIGNALS", "GRU_GATES_STATES", "RESET_GATE_MODES", "gru_step"]

Tensor = torch.Tensor

#: every signal a GRU records, in this order everywhere (the compiled loop's outputs too)
GRU_SIGNALS = ("reset_gate", "update_gate", "candidate_state", "hidden_state", "gates_pre")
#: the four gate/state signals, each (B, T, H): GRU_SIGNALS without ``gates_pre``
GRU_GATES_STATES = GRU_SIGNALS[:4]
#: MATLAB ``ResetGateMode`` values
RESET_GATE_MODES = ("after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication")


def gru_step(
    x_t: Tensor,
    h: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    mode: str = "after-multiplication",
    gate: Callable[[Tensor], Tensor] = torch.sigmoid,
    state: Callable[[Tensor], Tensor] = torch.tanh,
) -> dict[str, Tensor]:
    """One GRU step: x_t (B, D), h = h_{t−1} (B, H) -> every signal at step t, (B, H) each.

    W (3H, D), R (3H, H) in row order r, z, h~; b (3H,), or (6H,) = [b_W; b_R] in
    ``recurrent-bias-after-multiplication`` mode (the other modes have no recurrent bias).
    """
    H = h.shape[-1]
    bW, bR = (b[: 3 * H], b[3 * H :]) if mode == "recurrent-bias-after-multiplication" else (b, 0)
    gx = x_t @ W.T + bW  # (B, 3H) from the input
    gh = h @ R.T + bR  # (B, 3H) from the previous hidden state
    r = gate(gx[:, :H] + gh[:, :H])  # reset gate
    z = gate(gx[:, H : 2 * H] + gh[:, H : 2 * H])  # update gate
    if mode == "before-multiplication":
        n_pre = gx[:, 2 * H :] + (r * h) @ R[2 * H :].T  # reset before the recurrent product
    else:
        n_pre = gx[:, 2 * H :] + r * gh[:, 2 * H :]  # reset after it
    n = state(n_pre)  # candidate state
    h = (1 - z) * n + z * h  # hidden state (the output)
    pre = torch.cat([gx[:, : 2 * H] + gh[:, : 2 * H], n_pre], 1)
    return dict(zip(GRU_SIGNALS, (r, z, n, h, pre)))


class GRU(RecurrentLayer):
    """Gated recurrent unit layer: a recurrent layer whose update gate blends the old hidden state with a candidate.

    Math:
        r_t = σ_g(W_r x_t + R_r h_{t-1} + b_r)                    reset gate
        z_t = σ_g(W_z x_t + R_z h_{t-1} + b_z)                    update gate
        h~_t = σ_s(W_h x_t + b_h + r_t ⊙ (R_h h_{t-1}))           candidate (after-multiplication)
        h~_t = σ_s(W_h x_t + b_h + R_h (r_t ⊙ h_{t-1}))           candidate (before-multiplication)
        h~_t = σ_s(W_h x_t + b_Wh + r_t ⊙ (R_h h_{t-1} + b_Rh))   candidate (recurrent-bias-after-multiplication)
        h_t = (1 - z_t) ⊙ h~_t + z_t ⊙ h_{t-1}                    hidden state (the output)

        x_t: the input at step t (C values); W = [W_r; W_z; W_h] the 3H×C input
        weights, R the 3H×H recurrent weights, b the 3H bias (6H in
        recurrent-bias mode: input biases b_W then recurrent biases b_R; the
        gates use b_W + b_R); σ_g the gate activation (sigmoid or hard-sigmoid),
        σ_s the state activation (tanh or softsign); h_0 = HiddenState (zeros by
        default). The same step in code: :func:`dltk.layers.gru.gru_step`.
    Shape:
        input   (B, T, C)                    MATLAB "CBT" (C×B×T)
        output  (B, T, H) / (B, H)           MATLAB "CBT" / "CB"   (OutputMode 'sequence' / 'last')
        hidden port  (B, H)                  MATLAB "CB"           (HasStateInputs / HasStateOutputs)

        B batch, T time, C = InputSize, H = NumHiddenUnits.
    Signals:
        reset_gate — r_t, (B, T, H)
        update_gate — z_t, (B, T, H)
        candidate_state — h~_t, (B, T, H)
        hidden_state — h_t, (B, T, H) (the output sequence)
        gates_pre — pre-activations of r, z and h~ (the full argument of σ_s), (B, T, 3H)

        With ``lengths``, padded steps hold zeros.
    Example:
        >>> layer = dltk.gruLayer(64, OutputMode="last")
        >>> layer(torch.randn(4, 20, 12)).shape
        torch.Size([4, 64])
    MATLAB: gruLayer(numHiddenUnits, Name=Value)

    Args:
        num_hidden_units: H (MATLAB ``numHiddenUnits``).
        output_mode: ``'sequence'`` or ``'last'`` (MATLAB ``OutputMode``). Default: ``'sequence'``.
        reset_gate_mode: ``'after-multiplication'``, ``'before-multiplication'`` or
            ``'recurrent-bias-after-multiplication'`` (MATLAB ``ResetGateMode``).
            Default: ``'after-multiplication'``.
        state_activation_function: ``'tanh'`` or ``'softsign'`` (MATLAB
            ``StateActivationFunction``). Default: ``'tanh'``.
        gate_activation_function: ``'sigmoid'`` or ``'hard-sigmoid'`` (MATLAB
            ``GateActivationFunction``). Default: ``'sigmoid'``.
        has_state_inputs, has_state_outputs: add a ``'hidden'`` input/output port
            (MATLAB ``HasStateInputs``/``HasStateOutputs``). Default: False.
        input_size: C or ``'auto'`` (MATLAB ``InputSize``). Default: ``'auto'``.
        input_weights, recurrent_weights, bias: initial values in MATLAB shape
            (MATLAB ``InputWeights``/``RecurrentWeights``/``Bias``). Default: None.
        input_weights_initializer, recurrent_weights_initializer: as :class:`~dltk.layers.LSTM`
            (MATLAB ``InputWeightsInitializer``/``RecurrentWeightsInitializer``).
            Default: ``'glorot'`` / ``'orthogonal'``.
        bias_initializer: ``'zeros'``, ``'narrow-normal'``, ``'ones'`` or a callable
            (MATLAB ``BiasInitializer``). Default: ``'zeros'``.
        *_learn_rate_factor, *_l2_factor: scalar or 3 values (one per gate)
            (MATLAB ``InputWeightsLearnRateFactor`` …). Default: 1 (``BiasL2Factor`` 0).
        hidden_state: initial h_0, H×1 (MATLAB ``HiddenState``). Default: None (zeros).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Learnables:
        input_weights: (3H, C), MATLAB ``InputWeights`` (same storage), glorot.
        recurrent_weights: (3H, H), MATLAB ``RecurrentWeights``, orthogonal per gate.
        bias: (3H,) or (6H,), MATLAB ``Bias`` (column view), zeros. Row order r, z, h~.

    Variable-length batches (``lengths=``) and stateful prediction
    (``update_state(h)``, ``reset_state()``) work as for :class:`~dltk.layers.LSTM`
    (padded steps are 0; ``'last'`` is each sequence's own last step — an
    improvement on MATLAB, which runs over the padding; no packing needed).

    Speed: tanh/sigmoid with after-multiplication (``bias_hh = 0``) or
    recurrent-bias-after-multiplication (``bias_hh = b_R``) run the fused
    ``torch.gru`` kernel, whose gate order r, z, n is MATLAB's; before-multiplication
    (no PyTorch kernel) runs the compiled loop below where it is built, and a plain
    step loop otherwise, as softsign/hard-sigmoid always do. A tanh/sigmoid recording
    runs the compiled loop of :mod:`dltk.layers._lstm_kernel` (every
    ResetGateMode; with autograd on, its own C++ backward through time takes
    the gradients, those reaching the recorded signals included); where it
    cannot be built, and for the other activations, the signals are rebuilt
    from the hidden states in one batched pass.
    """

    signals = GRU_SIGNALS
    signal_docs = {
        "reset_gate": "r_t, (B, T, H)",
        "update_gate": "z_t, (B, T, H)",
        "candidate_state": "h~_t, (B, T, H)",
        "hidden_state": "h_t, (B, T, H) (the output sequence)",
        "gates_pre": "pre-activations of r, z, h~, (B, T, 3H)",
    }
    matlab_name = "gruLayer"
    type_name = "GRU"
    name_prefix = "gru"
    torch_equivalent = "torch.nn.GRU"
    matlab_options = {**RecurrentLayer._common_options, "ResetGateMode": "reset_gate_mode"}
    _gates = 3
    _has_cell = False
    _default_bias_init = "zeros"

    def __init__(self, num_hidden_units: int, *, reset_gate_mode: str = "after-multiplication", **options: Any) -> None:
        # set before Layer.__init__: the bias size depends on it (a plain attribute, allowed by nn.Module)
        self.reset_gate_mode = choice("gruLayer", "ResetGateMode", reset_gate_mode, RESET_GATE_MODES)
        super().__init__(num_hidden_units, **options)

    @property
    def _bias_size(self) -> int:
        return (6 if self.reset_gate_mode == RESET_GATE_MODES[2] else 3) * self.num_hidden_units

    ResetGateMode = property(lambda self: self.reset_gate_mode, doc="MATLAB ``ResetGateMode``.")

    def _biases(self) -> tuple[Tensor, Tensor | None]:
        """(input bias 3H, recurrent bias 3H or None)."""
        n = 3 * self.num_hidden_units
        return (self.bias[:n], self.bias[n:]) if self.reset_gate_mode == RESET_GATE_MODES[2] else (self.bias, None)

    @property
    def _sigmoid_tanh(self) -> bool:
        return self.gate_activation_function == "sigmoid" and self.state_activation_function == "tanh"

    def forward(self, x: Tensor, *states: Tensor, lengths: Any = None) -> Any:
        """``x`` (B, T, C); with HasStateInputs also ``hidden`` (B, H); ``lengths`` (B,) optional."""
        x, L, h0, _ = self._prepare(x, states, lengths)
        if self._recorder is None:
            last = self.output_mode == "last" and self._fused
            out, hT = self._run(x, h0, L, last)
            return self._finish(out, hT, None, L, last)
        if self._record_by_steps(x):
            out, hT = self._record_steps(x, h0, L)
        else:
            out, hT = self._run(x, h0, L)
            self._record(x, out, h0, L)
        return self._finish(out, hT, None, L)

    @property
    def _fused(self) -> bool:
        return self._sigmoid_tanh and self.reset_gate_mode != RESET_GATE_MODES[1]

    def _run(self, x: Tensor, h0: Tensor, L: Tensor | None, last: bool = False) -> tuple[Tensor, Tensor]:
        """(output (B, T, H), or the 'last' output (B, H) when ``last`` and fused; h_T (1, B, H))."""
        W, Rw = self.input_weights, self.recurrent_weights
        bx, bh = self._biases()
        if self._fused:
            params = [W, Rw, bx, torch.zeros_like(bx) if bh is None else bh]
            out, (hT,) = run.run_fused(
                "gru", x, h0, params, False, L, self.training, final_states=self.has_state_outputs, last_only=last
            )
            return out, hT
        if self._sigmoid_tanh and run.compiled_ok(x):  # before-multiplication: the compiled loop, h only
            mode = RESET_GATE_MODES.index(self.reset_gate_mode)
            out, hT, _ = run.gru_record_compiled(x, h0[0], W, Rw, bx, bh, mode, L, (False,) * 5)
            return out, hT[None]
        gate = run.GATE_FUNCTIONS[self.gate_activation_function]
        state = run.STATE_FUNCTIONS[self.state_activation_function]
        out, h = run.gru_loop(x, h0[0], W, Rw, bx, bh, self.reset_gate_mode, L, gate, state)
        return out, h[None]

    def _record_by_steps(self, x: Tensor) -> bool:
        """Record with a step loop: gates wanted and either the compiled loop available (sigmoid/tanh; with
        autograd on too: it has its own C++ backward through time) or, with autograd off, the Python loop
        not slower than run + reconstruction (always when the plain run is a loop itself)."""
        gates = any(self._wants(s) for s in self.signals if s != "hidden_state")
        if not gates:
            return False
        if self._sigmoid_tanh and run.compiled_ok(x):
            return True
        if self._grad_needed(x):
            return False
        return not self._fused or run.step_loop_pays(x.shape[0], x.shape[2], self.num_hidden_units, 3)

    def _record_steps(self, x: Tensor, h0: Tensor, L: Tensor | None) -> tuple[Tensor, Tensor]:
        self._reserve_signals(x.shape[0], x.shape[1], x.element_size())
        bx, bh = self._biases()
        want = self._wanted(GRU_SIGNALS)
        W, Rw = self.input_weights, self.recurrent_weights
        if self._sigmoid_tanh and run.compiled_ok(x):
            mode = RESET_GATE_MODES.index(self.reset_gate_mode)
            out, hT, sigs = run.gru_record_compiled(x, h0[0], W, Rw, bx, bh, mode, L, want)
        else:
            gate = run.GATE_FUNCTIONS[self.gate_activation_function]
            state = run.STATE_FUNCTIONS[self.state_activation_function]
            out, hT, sigs = run.gru_record_steps(x, h0[0], W, Rw, bx, bh, self.reset_gate_mode, L, gate, state)
            sigs = [v if w else None for v, w in zip(sigs, want)]
        self._emit_signals(GRU_SIGNALS, sigs, L)
        return out, hT[None]

    def _record(self, x: Tensor, out: Tensor, h0: Tensor, L: Tensor | None) -> None:
        """Signals rebuilt from the hidden states in one batched pass (keeps the graph when asked)."""
        self._reserve_signals(x.shape[0], x.shape[1], x.element_size())
        bx, bh = self._biases()
        gate = run.GATE_FUNCTIONS[self.gate_activation_function]
        state = run.STATE_FUNCTIONS[self.state_activation_function]
        want = self._wanted(GRU_SIGNALS)
        W, Rw, mode = self.input_weights, self.recurrent_weights, self.reset_gate_mode
        with torch.set_grad_enabled(torch.is_grad_enabled() and self._recorder.keep_graph):
            sigs = gru_signals(x, out, h0[0], W, Rw, bx, bh, mode, want, gate, state)
        self._emit_signals(GRU_SIGNALS, sigs, L)

    def description(self) -> str:
        return f"{self.num_hidden_units} GRU hidden units, OutputMode '{self.output_mode}'"

    def extra_repr(self) -> str:
        return super().extra_repr() + f", reset_gate_mode={self.reset_gate_mode!r}"
