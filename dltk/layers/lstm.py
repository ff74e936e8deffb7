"""LSTM layers (MATLAB ``lstmLayer``, ``bilstmLayer``).

Options, parameters, states and the gate reconstruction are shared with the
GRU in :mod:`._recurrent`; this file holds the LSTM math and its two paths.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _recurrent as R
from ._recurrent import RecurrentLayer

__all__ = ["LSTM", "BiLSTM"]

_LSTM_SIGNALS = (
    "input_gate",
    "forget_gate",
    "cell_candidate",
    "output_gate",
    "cell_state",
    "hidden_state",
    "gates_pre",
)
_LSTM_DOCS = {
    "input_gate": "i_t, (B, T, H)",
    "forget_gate": "f_t, (B, T, H)",
    "cell_candidate": "g_t, (B, T, H)",
    "output_gate": "o_t, (B, T, H)",
    "cell_state": "c_t, (B, T, H)",
    "hidden_state": "h_t, (B, T, H) (the output sequence)",
    "gates_pre": "pre-activations [i; f; g; o] before σ_g/σ_c, (B, T, 4H)",
}
_SHARED_DOC = """
    Args:
        num_hidden_units: H (MATLAB ``numHiddenUnits``).
        output_mode: ``'sequence'`` (every step) or ``'last'`` (MATLAB ``OutputMode``). Default: ``'sequence'``.
        state_activation_function: σ_c, ``'tanh'`` or ``'softsign'`` (x/(1+|x|))
            (MATLAB ``StateActivationFunction``). Default: ``'tanh'``.
        gate_activation_function: σ_g, ``'sigmoid'`` or ``'hard-sigmoid'``
            (clamp(0.2x+0.5, 0, 1)) (MATLAB ``GateActivationFunction``). Default: ``'sigmoid'``.
        has_state_inputs, has_state_outputs: add the ``'hidden'``/``'cell'`` input
            or output ports (MATLAB ``HasStateInputs``/``HasStateOutputs``). Default: False.
        input_size: D, or ``'auto'`` to infer it from the first input (MATLAB ``InputSize``). Default: ``'auto'``.
        input_weights, recurrent_weights, bias: initial values in MATLAB shape
            (MATLAB ``InputWeights``/``RecurrentWeights``/``Bias``). Default: None (use the initializers).
        input_weights_initializer, recurrent_weights_initializer: ``'glorot'``, ``'he'``,
            ``'orthogonal'`` (per gate block), ``'narrow-normal'``, ``'zeros'``, ``'ones'`` or a
            callable (MATLAB ``InputWeightsInitializer``/``RecurrentWeightsInitializer``).
            Default: ``'glorot'`` / ``'orthogonal'``.
        bias_initializer: ``'unit-forget-gate'``, ``'zeros'``, ``'narrow-normal'``, ``'ones'`` or a
            callable (MATLAB ``BiasInitializer``). Default: ``'unit-forget-gate'``.
        *_learn_rate_factor, *_l2_factor: scalar or one value per gate block
            (MATLAB ``InputWeightsLearnRateFactor`` …, ``BiasL2Factor``). Default: 1 (``BiasL2Factor`` 0).
        hidden_state, cell_state: initial h_0 / c_0, n×1 (MATLAB ``HiddenState``/``CellState``);
            an error together with ``has_state_inputs``. Default: None (zeros).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Variable-length batches: ``forward(x, lengths=lengths)`` with right-padded
    ``x`` treats every sequence as if it ran alone: padded output steps are 0,
    ``'last'`` returns each sequence's own last real step, final states are
    each sequence's own and the backward direction of a BiLSTM starts at each
    sequence's own end. This deliberately improves on MATLAB, which runs over
    the padding; with ``lengths=None`` the behaviour is MATLAB's.

    Stateful prediction: ``hidden_state``/``cell_state`` (MATLAB ``HiddenState``/
    ``CellState``) are the initial states of every forward pass (shape (n,),
    shared by the batch, or (B, n)). ``update_state(h, c)`` stores end states
    (what ``predictAndUpdateState`` does); ``reset_state()`` restores the
    constructor's values.

    Speed: without a recording, tanh/sigmoid layers run PyTorch's fused
    ``torch.lstm`` kernel (MATLAB's single bias goes in ``bias_ih``, a zero
    ``bias_hh``); softsign/hard-sigmoid layers run a plain step loop (PyTorch has
    no kernel for them). A recording with autograd off runs a compiled C++
    step loop (:mod:`dltk.layers._lstm_kernel`, built once per machine on the
    first recording) that writes every gate as it goes, nothing computed twice;
    where it cannot be built, or with autograd on, a recording runs the same
    kernel, then rebuilds only the wanted gates from the hidden states with one
    batched matrix product and the cell states with a chunked linear scan.
    Either way its outputs equal the plain run's (within float rounding);
    recording only ``hidden_state`` costs nothing extra. Layers without a
    kernel, recorded with autograd off, keep the gates of their step loop
    instead. See ``benchmarks/bench_lstm.py``.
"""


class LSTM(RecurrentLayer):
    (
        r"""Long short-term memory layer. MATLAB: ``lstmLayer(numHiddenUnits, Name=Value)``.

    .. math::
        \begin{aligned}
        i_t &= \sigma_g(W_i x_t + R_i h_{t-1} + b_i), &
        f_t &= \sigma_g(W_f x_t + R_f h_{t-1} + b_f), \\
        g_t &= \sigma_c(W_g x_t + R_g h_{t-1} + b_g), &
        o_t &= \sigma_g(W_o x_t + R_o h_{t-1} + b_o), \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t, &
        h_t &= o_t \odot \sigma_c(c_t)
        \end{aligned}

    where :math:`x_t` is the input at step t (D values), :math:`h_t` the hidden
    state (H values, the output), :math:`c_t` the cell state, :math:`i, f, g, o`
    the input gate, forget gate, cell candidate and output gate,
    :math:`W = [W_i; W_f; W_g; W_o]` the 4H×D input weights, :math:`R` the 4H×H
    recurrent weights, :math:`b` the 4H bias, :math:`\sigma_g` the gate
    activation (sigmoid) and :math:`\sigma_c` the state activation (tanh);
    :math:`h_0, c_0` are ``HiddenState``/``CellState`` (zeros by default).
    """
        + _SHARED_DOC
        + r"""
    Shape:
        ============  ==================  =================
        port          dltk                MATLAB
        ============  ==================  =================
        in            (B, T, D)           D×B×T  ``CBT``
        out sequence  (B, T, H)           H×B×T  ``CBT``
        out last      (B, H)              H×B    ``CB``
        hidden, cell  (B, H)              H×B    ``CB``
        ============  ==================  =================

        B batch, T time, D = InputSize, H = NumHiddenUnits.

    Learnables:
        input_weights: (4H, D), MATLAB ``InputWeights`` (same storage), glorot.
        recurrent_weights: (4H, H), MATLAB ``RecurrentWeights``, orthogonal per gate.
        bias: (4H,), MATLAB ``Bias`` is its 4H×1 view, unit-forget-gate [0; 1; 0; 0].
        Gate row order i, f, g, o (as MATLAB and ``torch.nn.LSTM``).

    Signals:
        ``input_gate``, ``forget_gate``, ``cell_candidate``, ``output_gate``,
        ``cell_state``, ``hidden_state``: each (B, T, H), after activation;
        ``gates_pre``: (B, T, 4H), the pre-activations in order i, f, g, o.
        With ``lengths``, padded steps hold zeros.

    Example:
        >>> lstm = dltk.lstmLayer(100, OutputMode="last")
        >>> lstm(torch.randn(4, 20, 12)).shape
        torch.Size([4, 100])
        >>> dltk.record(lstm, torch.randn(4, 20, 12))["lstm"]["forget_gate"].shape
        torch.Size([4, 20, 100])
    """
    )

    signals = _LSTM_SIGNALS
    signal_docs = _LSTM_DOCS
    matlab_name = "lstmLayer"
    type_name = "LSTM"
    name_prefix = "lstm"
    torch_equivalent = "torch.nn.LSTM"
    matlab_options = {**RecurrentLayer._common_options, "CellState": "cell_state"}

    @property
    def CellState(self) -> torch.Tensor | None:
        """MATLAB ``CellState``: n×1 (n×B after a stateful prediction); None when empty (zeros are used)."""
        c = self.cell_state
        return None if c is None else (c.view(-1, 1) if c.ndim == 1 else c.T)

    @CellState.setter
    def CellState(self, value: Any) -> None:
        self._set_state_option("CellState", value)

    @property
    def _fused(self) -> bool:
        return self.gate_activation_function == "sigmoid" and self.state_activation_function == "tanh"

    def _direction(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(W, R, b) of direction k (0 forward, 1 backward)."""
        n = 4 * self.num_hidden_units
        s = slice(k * n, (k + 1) * n)
        if self._dirs == 1:
            return self.input_weights, self.recurrent_weights, self.bias
        return self.input_weights[s], self.recurrent_weights[s], self.bias[s]

    def _run(self, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, L: torch.Tensor | None) -> tuple:
        dirs = [self._direction(k) for k in range(self._dirs)]
        if self._fused:
            params = [t for W, Rw, b in dirs for t in (W, Rw, b, torch.zeros_like(b))]
            out, (hT, cT) = R.run_fused("lstm", x, (h0, c0), params, self._dirs == 2, L, self.training)
            return out, hT, cT
        gate = R.GATE_FUNCTIONS[self.gate_activation_function]
        state = R.STATE_FUNCTIONS[self.state_activation_function]
        outs, hs, cs = [], [], []
        for k, (W, Rw, b) in enumerate(dirs):
            xk = x if k == 0 else R.reverse_within(x, L)
            o, h, c = R.lstm_loop(xk, h0[k], c0[k], W, Rw, b, L, gate, state)
            outs.append(o if k == 0 else R.reverse_within(o, L))
            hs.append(h)
            cs.append(c)
        return torch.cat(outs, -1), torch.stack(hs), torch.stack(cs)

    def forward(self, x: torch.Tensor, *states: torch.Tensor, lengths: Any = None) -> Any:
        """``x`` (B, T, D); with HasStateInputs also ``hidden``, ``cell`` (B, n); ``lengths`` (B,) optional."""
        L, h0, c0 = self._prepare(x, states, lengths)
        if self._recorder is not None and self._record_by_steps(x):
            out, hT, cT = self._record_steps(x, h0, c0, L)
        else:
            out, hT, cT = self._run(x, h0, c0, L)  # (B, T, dirs·H), (dirs, B, H) ×2
            if self._recorder is not None:
                self._record(x, out, h0, c0, L)
        return self._finish(out, hT, cT, L)

    def _record_by_steps(self, x: torch.Tensor) -> bool:
        """Record with the step loop (no autograd needed, gates wanted, and the loop is not slower)."""
        grad = torch.is_grad_enabled() and (x.requires_grad or self.input_weights.requires_grad)
        gates = any(self._wants(s) for s in self.signals if not s.endswith("hidden_state"))
        B, _, D = x.shape
        slow_kernel = not self._fused
        return not grad and gates and (slow_kernel or R.step_loop_pays(B, D, self.num_hidden_units, 4, x))

    def _record_steps(self, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, L: torch.Tensor | None) -> tuple:
        self._reserve_signals(x.shape[0], x.shape[1], x.element_size())
        gate = R.GATE_FUNCTIONS[self.gate_activation_function]
        state = R.STATE_FUNCTIONS[self.state_activation_function]
        compiled = self._fused and R.lstm_compiled_ok(x)  # one C++ loop per direction, no reversal
        outs, hs, cs = [], [], []
        for k, prefix in enumerate(("",) if self._dirs == 1 else ("forward_", "backward_")):
            if compiled:
                args = (x, h0[k], c0[k], *self._direction(k), L, k == 1, self._want_fn(prefix))
                o, h, c, sigs = R.lstm_record_compiled(*args)
            else:
                xk = x if k == 0 else R.reverse_within(x, L)
                o, h, c, sigs = R.lstm_record_steps(xk, h0[k], c0[k], *self._direction(k), L, gate, state)
                if k == 1:
                    o = R.reverse_within(o, L)
                    sigs = {n: R.reverse_within(v, L) for n, v in sigs.items()}
            self._emit_all({prefix + n: v for n, v in sigs.items()}, L)
            outs.append(o)
            hs.append(h)
            cs.append(c)
        return (outs[0] if self._dirs == 1 else torch.cat(outs, -1)), torch.stack(hs), torch.stack(cs)

    def _record(
        self, x: torch.Tensor, out: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, L: torch.Tensor | None
    ) -> None:
        """Signals from the kernel's hidden states: one batched product for the gates, a scan for c."""
        B, T, _ = x.shape
        self._reserve_signals(B, T, x.element_size())
        gate = R.GATE_FUNCTIONS[self.gate_activation_function]
        state = R.STATE_FUNCTIONS[self.state_activation_function]
        H = self.num_hidden_units
        with torch.set_grad_enabled(torch.is_grad_enabled() and self._recorder.keep_graph):
            for k, prefix in enumerate(("",) if self._dirs == 1 else ("forward_", "backward_")):
                W, Rw, b = self._direction(k)
                hs = out[..., k * H : (k + 1) * H]
                xk, hk = (x, hs) if k == 0 else (R.reverse_within(x, L), R.reverse_within(hs, L))
                sigs = R.lstm_signals(xk, hk, h0[k], c0[k], W, Rw, b, L, self._want_fn(prefix), gate, state)
                if k == 1:
                    sigs = {n: R.reverse_within(v, L) for n, v in sigs.items()}
                self._emit_all({prefix + n: v for n, v in sigs.items()}, L)

    def description(self) -> str:
        return f"{self.num_hidden_units} {self.type_name} hidden units, OutputMode '{self.output_mode}'"


_BI_SIGNALS = tuple(f"{d}_{s}" for d in ("forward", "backward") for s in _LSTM_SIGNALS)
_BI_DOCS = {
    f"{d}_{s}": f"{d} direction: {v}" + (" (4H)" if s == "gates_pre" else "") + ", original time order"
    for d in ("forward", "backward")
    for s, v in _LSTM_DOCS.items()
}


class BiLSTM(LSTM):
    (
        r"""Bidirectional LSTM layer. MATLAB: ``bilstmLayer(numHiddenUnits, Name=Value)``.

    Two LSTMs (see :class:`LSTM` for the step equations): a forward one over
    :math:`x_1 … x_T` and a backward one over :math:`x_T … x_1`. The output at
    original step t is

    .. math::
        y_t = [\overrightarrow{h}_t ;\ \overleftarrow{h}_t]

    where :math:`\overrightarrow{h}_t` is the forward hidden state after seeing
    :math:`x_1 … x_t` and :math:`\overleftarrow{h}_t` the backward hidden state
    after seeing :math:`x_T … x_t`; both use the weights of their own half
    (forward 4H rows first). As MATLAB, ``'last'`` returns
    :math:`[\overrightarrow{h}_T ; \overleftarrow{h}_T]`: the backward part is
    its output at step T (after seeing only :math:`x_T`), not its final state;
    the ``'hidden'``/``'cell'`` outputs are the final states
    :math:`[\overrightarrow{h}_T ; \overleftarrow{h}_1]`.
    """
        + _SHARED_DOC
        + r"""
    Shape:
        ============  ==================  ==================
        port          dltk                MATLAB
        ============  ==================  ==================
        in            (B, T, D)           D×B×T   ``CBT``
        out sequence  (B, T, 2H)          2H×B×T  ``CBT``
        out last      (B, 2H)             2H×B    ``CB``
        hidden, cell  (B, 2H)             2H×B    ``CB``
        ============  ==================  ==================

        B batch, T time, D = InputSize, H = NumHiddenUnits; forward channels first.

    Learnables:
        input_weights: (8H, D), MATLAB ``InputWeights``, glorot per direction.
        recurrent_weights: (8H, H), MATLAB ``RecurrentWeights``, orthogonal per gate.
        bias: (8H,), MATLAB ``Bias`` (8H×1 view), unit-forget-gate per direction.
        Rows: forward i, f, g, o, then backward i, f, g, o. Factors: scalar or 8 values.

    Signals:
        ``forward_<s>`` and ``backward_<s>`` for every LSTM signal ``<s>``
        (``input_gate`` … ``hidden_state`` (B, T, H), ``gates_pre`` (B, T, 4H)),
        all in ORIGINAL time order: ``backward_hidden_state[:, t]`` is
        :math:`\overleftarrow{h}_t`.

    Example:
        >>> bi = dltk.bilstmLayer(50, OutputMode="last")
        >>> bi(torch.randn(4, 20, 12)).shape
        torch.Size([4, 100])
    """
    )

    signals = _BI_SIGNALS
    signal_docs = _BI_DOCS
    matlab_name = "bilstmLayer"
    type_name = "BiLSTM"
    name_prefix = "bilstm"
    torch_equivalent = "torch.nn.LSTM(bidirectional=True)"
    _dirs = 2
