"""LSTM layers (MATLAB ``lstmLayer``, ``bilstmLayer``).

The file opens with :func:`lstm_step`, one LSTM step in ten readable lines:
the definition every fast path is tested against. The layers below run the
same math faster (:mod:`._recurrent_run`: PyTorch's fused kernel, step loops,
the compiled recording loop) and share options, parameters and states with
the GRU (:class:`._recurrent.RecurrentLayer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from . import _recurrent_run as run
from ._recurrent import RecurrentLayer
from ._recurrent_rebuild import lstm_signals
from ._sequence_masks import reverse_within

__all__ = ["LSTM", "BiLSTM", "LSTM_SIGNALS", "LSTM_GATES_STATES", "BILSTM_SIGNALS", "lstm_step"]

Tensor = torch.Tensor

#: every signal an LSTM records, in this order everywhere (the compiled loop's outputs too)
LSTM_SIGNALS = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state", "gates_pre")
#: the six gate/state signals, each (B, T, H): LSTM_SIGNALS without ``gates_pre``
LSTM_GATES_STATES = LSTM_SIGNALS[:6]
#: a BiLSTM's signals: ``forward_<s>`` then ``backward_<s>``
BILSTM_SIGNALS = tuple(f"{d}_{s}" for d in ("forward", "backward") for s in LSTM_SIGNALS)


def lstm_step(
    x_t: Tensor,
    h: Tensor,
    c: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    gate: Callable[[Tensor], Tensor] = torch.sigmoid,
    state: Callable[[Tensor], Tensor] = torch.tanh,
) -> dict[str, Tensor]:
    """One LSTM step: x_t (B, D), h = h_{t−1}, c = c_{t−1} (B, H) -> every signal at step t, (B, H) each.

    W (4H, D), R (4H, H), b (4H,): rows in gate order i, f, g, o (MATLAB's and PyTorch's).
    """
    H = h.shape[-1]
    z = x_t @ W.T + h @ R.T + b  # (B, 4H) pre-activations
    i = gate(z[:, 0 * H : 1 * H])  # input gate: how much of the candidate to write
    f = gate(z[:, 1 * H : 2 * H])  # forget gate: how much of c_{t-1} to keep
    g = state(z[:, 2 * H : 3 * H])  # cell candidate
    o = gate(z[:, 3 * H : 4 * H])  # output gate: how much of the cell to show
    c = f * c + i * g  # cell state
    h = o * state(c)  # hidden state (the output)
    values = (i, f, g, o, c, h, z)
    return dict(zip(LSTM_SIGNALS, values))


_LSTM_DOCS = {
    "input_gate": "i_t, (B, T, H)",
    "forget_gate": "f_t, (B, T, H)",
    "cell_candidate": "g_t, (B, T, H)",
    "output_gate": "o_t, (B, T, H)",
    "cell_state": "c_t, (B, T, H)",
    "hidden_state": "h_t, (B, T, H) (the output sequence)",
    "gates_pre": "pre-activations [i; f; g; o] before σ_g/σ_c, (B, T, 4H)",
}


class LSTM(RecurrentLayer):
    """Long short-term memory layer: a recurrent layer whose cell state carries information across time steps.

    Math:
        i_t = σ_g(W_i x_t + R_i h_{t-1} + b_i)        input gate
        f_t = σ_g(W_f x_t + R_f h_{t-1} + b_f)        forget gate
        g_t = σ_c(W_g x_t + R_g h_{t-1} + b_g)        cell candidate
        o_t = σ_g(W_o x_t + R_o h_{t-1} + b_o)        output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t               cell state
        h_t = o_t ⊙ σ_c(c_t)                          hidden state (the output)

        x_t: the input at step t (C values); W = [W_i; W_f; W_g; W_o] the 4H×C
        input weights, R the 4H×H recurrent weights, b the 4H bias; σ_g the gate
        activation (sigmoid, or hard-sigmoid clamp(0.2x + 0.5, 0, 1)), σ_c the
        state activation (tanh, or softsign x/(1 + |x|)); h_0, c_0 are
        HiddenState/CellState (zeros by default). The same step in code:
        :func:`dltk.layers.lstm.lstm_step`.
    Shape:
        input   (B, T, C)                    MATLAB "CBT" (C×B×T)
        output  (B, T, H) / (B, H)           MATLAB "CBT" / "CB"   (OutputMode 'sequence' / 'last')
        hidden, cell ports  (B, H)           MATLAB "CB"           (HasStateInputs / HasStateOutputs)

        B batch, T time, C = InputSize, H = NumHiddenUnits.
    Signals:
        input_gate — i_t, (B, T, H)
        forget_gate — f_t, (B, T, H)
        cell_candidate — g_t, (B, T, H)
        output_gate — o_t, (B, T, H)
        cell_state — c_t, (B, T, H)
        hidden_state — h_t, (B, T, H) (the output sequence)
        gates_pre — pre-activations [i; f; g; o] before σ_g/σ_c, (B, T, 4H)

        With ``lengths``, padded steps hold zeros.
    Example:
        >>> layer = dltk.lstmLayer(100, OutputMode="last")
        >>> layer(torch.randn(4, 20, 12)).shape
        torch.Size([4, 100])
        >>> dltk.record(layer, torch.randn(4, 20, 12))["lstm"]["forget_gate"].shape
        torch.Size([4, 20, 100])
    MATLAB: lstmLayer(numHiddenUnits, Name=Value)

    Args:
        num_hidden_units: H (MATLAB ``numHiddenUnits``).
        output_mode: ``'sequence'`` (every step) or ``'last'`` (MATLAB ``OutputMode``). Default: ``'sequence'``.
        state_activation_function: σ_c, ``'tanh'`` or ``'softsign'`` (MATLAB ``StateActivationFunction``).
            Default: ``'tanh'``.
        gate_activation_function: σ_g, ``'sigmoid'`` or ``'hard-sigmoid'`` (MATLAB ``GateActivationFunction``).
            Default: ``'sigmoid'``.
        has_state_inputs, has_state_outputs: add the ``'hidden'``/``'cell'`` input
            or output ports (MATLAB ``HasStateInputs``/``HasStateOutputs``). Default: False.
        input_size: C, or ``'auto'`` to infer it from the first input (MATLAB ``InputSize``). Default: ``'auto'``.
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
        hidden_state, cell_state: initial h_0 / c_0, H×1 (MATLAB ``HiddenState``/``CellState``);
            an error together with ``has_state_inputs``. Default: None (zeros).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Learnables:
        input_weights: (4H, C), MATLAB ``InputWeights`` (same storage), glorot.
        recurrent_weights: (4H, H), MATLAB ``RecurrentWeights``, orthogonal per gate.
        bias: (4H,), MATLAB ``Bias`` is its 4H×1 view, unit-forget-gate [0; 1; 0; 0].
        Gate row order i, f, g, o (as MATLAB and ``torch.nn.LSTM``).

    Variable-length batches: ``forward(x, lengths=lengths)`` with right-padded
    ``x`` treats every sequence as if it ran alone: padded output steps are 0,
    ``'last'`` returns each sequence's own last real step, final states are
    each sequence's own and a BiLSTM's backward direction starts at each
    sequence's own end. This deliberately improves on MATLAB, which runs over
    the padding; with ``lengths=None`` the behaviour is MATLAB's. It costs what
    the padded run costs: padding comes after every real step, so the forward
    direction runs unpacked and the backward one over each sequence reversed
    within its length (packing only when the final cell state is an output).

    Stateful prediction: ``hidden_state``/``cell_state`` (MATLAB ``HiddenState``/
    ``CellState``) are the initial states of every forward pass (shape (H,),
    shared by the batch, or (B, H)); buffers, so they follow ``.double()`` and
    ``.to(device)``. ``update_state(h, c)`` stores end states (what
    ``predictAndUpdateState`` does); ``reset_state()`` restores the
    constructor's values.

    Speed: without a recording, tanh/sigmoid layers run PyTorch's fused
    ``torch.lstm`` kernel (MATLAB's single bias goes in ``bias_ih``, a zero
    ``bias_hh``); softsign/hard-sigmoid layers run a plain step loop. A
    recording runs a compiled C++ step loop (:mod:`dltk.layers._lstm_kernel`,
    built once per machine on the first recording) that writes every signal
    as it goes — with autograd on, its own C++ backward through time takes
    the gradients, those reaching the recorded signals (∂loss/∂c_t …)
    included; where it cannot be built, a recording runs the fused kernel,
    then rebuilds only the wanted gates from the hidden states with one
    batched matrix product and the cell states with a chunked linear scan.
    Either way its outputs equal the plain run's (within float rounding).
    See ``benchmarks/bench_lstm.py``.
    """

    signals = LSTM_SIGNALS
    signal_docs = _LSTM_DOCS
    matlab_name = "lstmLayer"
    type_name = "LSTM"
    name_prefix = "lstm"
    torch_equivalent = "torch.nn.LSTM"
    matlab_options = {**RecurrentLayer._common_options, "CellState": "cell_state"}

    @property
    def CellState(self) -> Tensor | None:
        """MATLAB ``CellState``: H×1 (H×B after a stateful prediction); None when empty (zeros are used)."""
        c = self.cell_state
        return None if c is None else (c.view(-1, 1) if c.ndim == 1 else c.T)

    @CellState.setter
    def CellState(self, value: Any) -> None:
        self._set_state_option("CellState", value)

    @property
    def _fused(self) -> bool:
        return self.gate_activation_function == "sigmoid" and self.state_activation_function == "tanh"

    @property
    def _prefixes(self) -> tuple[str, ...]:
        return ("",) if self._dirs == 1 else ("forward_", "backward_")

    def _activations(self) -> tuple[Callable, Callable]:
        return run.GATE_FUNCTIONS[self.gate_activation_function], run.STATE_FUNCTIONS[self.state_activation_function]

    def _direction(self, k: int) -> tuple[Tensor, Tensor, Tensor]:
        """(W, R, b) of direction k (0 forward, 1 backward)."""
        n = 4 * self.num_hidden_units
        s = slice(k * n, (k + 1) * n)
        if self._dirs == 1:
            return self.input_weights, self.recurrent_weights, self.bias
        return self.input_weights[s], self.recurrent_weights[s], self.bias[s]

    def _run(self, x: Tensor, h0: Tensor, c0: Tensor, L: Tensor | None, last: bool = False) -> tuple:
        """(output (B, T, dirs·H), or the 'last' output (B, dirs·H) when ``last`` and fused; h_T, c_T)."""
        dirs = [self._direction(k) for k in range(self._dirs)]
        if self._fused:
            params = [t for W, Rw, b in dirs for t in (W, Rw, b, torch.zeros_like(b))]
            states = self.has_state_outputs
            out, (hT, cT) = run.run_fused(
                "lstm", x, (h0, c0), params, self._dirs == 2, L, self.training, final_states=states, last_only=last
            )
            return out, hT, cT
        gate, state = self._activations()
        outs, hs, cs = [], [], []
        for k, (W, Rw, b) in enumerate(dirs):
            xk = x if k == 0 else reverse_within(x, L)
            o, h, c = run.lstm_loop(xk, h0[k], c0[k], W, Rw, b, L, gate, state)
            outs.append(o if k == 0 else reverse_within(o, L))
            hs.append(h)
            cs.append(c)
        return torch.cat(outs, -1), torch.stack(hs), torch.stack(cs)

    def forward(self, x: Tensor, *states: Tensor, lengths: Any = None) -> Any:
        """``x`` (B, T, C); with HasStateInputs also ``hidden``, ``cell`` (B, n); ``lengths`` (B,) optional."""
        x, L, h0, c0 = self._prepare(x, states, lengths)
        if self._recorder is None:
            last = self.output_mode == "last" and self._fused
            out, hT, cT = self._run(x, h0, c0, L, last)  # (B, T, dirs·H) or (B, dirs·H), (dirs, B, H) ×2
            return self._finish(out, hT, cT, L, last)
        if self._record_by_steps(x):
            out, hT, cT = self._record_steps(x, h0, c0, L)
        else:
            out, hT, cT = self._run(x, h0, c0, L)
            self._record(x, out, h0, c0, L)
        return self._finish(out, hT, cT, L)

    def _record_by_steps(self, x: Tensor) -> bool:
        """Record with a step loop: gates wanted and the loop not slower than kernel + reconstruction.

        With autograd on only the compiled loop qualifies (it has its own
        backward through time); the Python step loop records without a graph.
        """
        if not any(self._wants(s) for s in self.signals if not s.endswith("hidden_state")):
            return False
        B, _, D = x.shape
        pays = not self._fused or run.step_loop_pays(B, D, self.num_hidden_units, 4, x)
        if self._grad_needed(x):
            return pays and self._fused and run.compiled_ok(x)
        return pays

    def _record_steps(self, x: Tensor, h0: Tensor, c0: Tensor, L: Tensor | None) -> tuple:
        """Run and record each direction by a step loop: compiled (autograd too) or Python (autograd off)."""
        self._reserve_signals(x.shape[0], x.shape[1], x.element_size())
        gate, state = self._activations()
        compiled = self._fused and run.compiled_ok(x)  # one C++ loop per direction, no reversal
        outs, hs, cs = [], [], []
        for k, prefix in enumerate(self._prefixes):
            if compiled:
                want = self._wanted(LSTM_SIGNALS, prefix)
                o, h, c, sigs = run.lstm_record_compiled(x, h0[k], c0[k], *self._direction(k), L, k == 1, want)
            else:
                o, h, c, sigs = run.lstm_record_steps(x, h0[k], c0[k], *self._direction(k), L, gate, state, k == 1)
                sigs = [v if want else None for v, want in zip(sigs, self._wanted(LSTM_SIGNALS, prefix))]
            self._emit_signals(LSTM_SIGNALS, sigs, L, prefix)
            outs.append(o)
            hs.append(h)
            cs.append(c)
        return (outs[0] if self._dirs == 1 else torch.cat(outs, -1)), torch.stack(hs), torch.stack(cs)

    def _record(self, x: Tensor, out: Tensor, h0: Tensor, c0: Tensor, L: Tensor | None) -> None:
        """Signals from the kernel's hidden states: one batched product for the gates, a scan for c."""
        B, T, _ = x.shape
        self._reserve_signals(B, T, x.element_size())
        gate, state = self._activations()
        H = self.num_hidden_units
        with torch.set_grad_enabled(torch.is_grad_enabled() and self._recorder.keep_graph):
            for k, prefix in enumerate(self._prefixes):
                W, Rw, b = self._direction(k)
                hs = out[..., k * H : (k + 1) * H]
                want = self._wanted(LSTM_SIGNALS, prefix)
                sigs = lstm_signals(x, hs, h0[k], c0[k], W, Rw, b, want, gate, state, k == 1, L)
                self._emit_signals(LSTM_SIGNALS, sigs, L, prefix)

    def description(self) -> str:
        return f"{self.num_hidden_units} {self.type_name} hidden units, OutputMode '{self.output_mode}'"


class BiLSTM(LSTM):
    """Bidirectional LSTM layer: a forward and a backward LSTM over the sequence, outputs stacked along channels.

    Math:
        forward  LSTM over x_1 … x_T (weights: the first 4H rows), backward LSTM over x_T … x_1
        (the last 4H rows); each direction's step is :class:`LSTM`'s
        (i_t = σ_g(W_i x_t + R_i h_{t-1} + b_i), …, c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, h_t = o_t ⊙ σ_c(c_t)).
        y_t = [h→_t ; h←_t]

        h→_t is the forward hidden state after x_1 … x_t, h←_t the backward one after
        x_T … x_t. As MATLAB, ``'last'`` returns [h→_T ; h←_T]: the backward part is its
        output at step T (after seeing only x_T), not its final state; the
        ``'hidden'``/``'cell'`` outputs are the final states [h→_T ; h←_1].
    Shape:
        input   (B, T, C)                    MATLAB "CBT" (C×B×T)
        output  (B, T, 2H) / (B, 2H)         MATLAB "CBT" / "CB"   (OutputMode 'sequence' / 'last')
        hidden, cell ports  (B, 2H)          MATLAB "CB"           (forward channels first)

        B batch, T time, C = InputSize, H = NumHiddenUnits.
    Signals:
        forward_<s>, backward_<s> — for every LSTM signal <s> (input_gate, forget_gate,
            cell_candidate, output_gate, cell_state, hidden_state: (B, T, H); gates_pre: (B, T, 4H)),
            all in ORIGINAL time order: backward_hidden_state[:, t] is h←_t

        With ``lengths``, padded steps hold zeros.
    Example:
        >>> layer = dltk.bilstmLayer(50, OutputMode="last")
        >>> layer(torch.randn(4, 20, 12)).shape
        torch.Size([4, 100])
    MATLAB: bilstmLayer(numHiddenUnits, Name=Value)

    Args:
        as :class:`LSTM`; states and factors have one value per direction
        (HiddenState/CellState 2H×1, factors a scalar or 8 values).

    Learnables:
        input_weights: (8H, C), MATLAB ``InputWeights``, glorot per direction.
        recurrent_weights: (8H, H), MATLAB ``RecurrentWeights``, orthogonal per gate.
        bias: (8H,), MATLAB ``Bias`` (8H×1 view), unit-forget-gate per direction.
        Rows: forward i, f, g, o, then backward i, f, g, o.

    Variable-length batches, stateful prediction and speed: as :class:`LSTM`; the
    backward direction runs on each sequence reversed within its own length.
    """

    signals = BILSTM_SIGNALS
    signal_docs = {
        f"{d}_{s}": f"{d} direction: {v}" + (" (4H)" if s == "gates_pre" else "") + ", original time order"
        for d in ("forward", "backward")
        for s, v in _LSTM_DOCS.items()
    }
    matlab_name = "bilstmLayer"
    type_name = "BiLSTM"
    name_prefix = "bilstm"
    torch_equivalent = "torch.nn.LSTM(bidirectional=True)"
    _dirs = 2
