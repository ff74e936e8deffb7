"""Gated recurrent unit layer (MATLAB ``gruLayer``)."""

from __future__ import annotations

from typing import Any

import torch

from ..options import choice
from . import _recurrent as R
from ._recurrent import RecurrentLayer

__all__ = ["GRU"]

_MODES = ("after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication")


class GRU(RecurrentLayer):
    r"""Gated recurrent unit layer. MATLAB: ``gruLayer(numHiddenUnits, Name=Value)``.

    .. math::
        \begin{aligned}
        r_t &= \sigma_g(W_r x_t + R_r h_{t-1} + b_r), \qquad
        z_t = \sigma_g(W_z x_t + R_z h_{t-1} + b_z), \\
        \tilde h_t &= \sigma_s(W_h x_t + b_h + r_t \odot (R_h h_{t-1}))
            \quad \text{(after-multiplication)}, \\
        \tilde h_t &= \sigma_s(W_h x_t + b_h + R_h (r_t \odot h_{t-1}))
            \quad \text{(before-multiplication)}, \\
        \tilde h_t &= \sigma_s(W_h x_t + b_{Wh} + r_t \odot (R_h h_{t-1} + b_{Rh}))
            \quad \text{(recurrent-bias-after-multiplication)}, \\
        h_t &= (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}
        \end{aligned}

    where :math:`x_t` is the input at step t (D values), :math:`h_t` the hidden
    state (H values, the output), :math:`r, z` the reset and update gates,
    :math:`\tilde h` the candidate state, :math:`W = [W_r; W_z; W_h]` the 3H×D
    input weights, :math:`R` the 3H×H recurrent weights, :math:`b` the 3H bias
    (6H in recurrent-bias mode: input biases :math:`b_W` then recurrent biases
    :math:`b_R`, and the gates use :math:`b_W + b_R`), :math:`\sigma_g` the gate
    activation (sigmoid), :math:`\sigma_s` the state activation (tanh), and
    :math:`h_0` = ``HiddenState`` (zeros by default).

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
        input_size: D or ``'auto'`` (MATLAB ``InputSize``). Default: ``'auto'``.
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

    Variable-length batches (``lengths=``) and stateful prediction
    (``update_state(h)``, ``reset_state()``) work as for :class:`~dltk.layers.LSTM`
    (padded steps are 0; ``'last'`` is each sequence's own last step — an
    improvement on MATLAB, which runs over the padding).

    Speed: tanh/sigmoid with after-multiplication (``bias_hh = 0``) or
    recurrent-bias-after-multiplication (``bias_hh = b_R``) run the fused
    ``torch.gru`` kernel, whose gate order r, z, n is MATLAB's; before-multiplication
    and softsign/hard-sigmoid run a plain step loop (PyTorch has no kernel).

    Shape:
        ============  ==============  ==============
        port          dltk            MATLAB
        ============  ==============  ==============
        in            (B, T, D)       D×B×T ``CBT``
        out sequence  (B, T, H)       H×B×T ``CBT``
        out last      (B, H)          H×B   ``CB``
        hidden        (B, H)          H×B   ``CB``
        ============  ==============  ==============

    Learnables:
        input_weights: (3H, D), MATLAB ``InputWeights`` (same storage), glorot.
        recurrent_weights: (3H, H), MATLAB ``RecurrentWeights``, orthogonal per gate.
        bias: (3H,) or (6H,), MATLAB ``Bias`` (column view), zeros. Row order r, z, h~.

    Signals:
        ``reset_gate``, ``update_gate``, ``candidate_state``, ``hidden_state``:
        each (B, T, H); ``gates_pre`` (B, T, 3H): pre-activations of r, z and
        the candidate (the full argument of σ_s). Padded steps hold zeros.

    Example:
        >>> gru = dltk.gruLayer(64, OutputMode="last")
        >>> gru(torch.randn(4, 20, 12)).shape
        torch.Size([4, 64])
    """

    signals = ("reset_gate", "update_gate", "candidate_state", "hidden_state", "gates_pre")
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
        self.reset_gate_mode = choice("gruLayer", "ResetGateMode", reset_gate_mode, _MODES)
        super().__init__(num_hidden_units, **options)

    @property
    def _bias_size(self) -> int:
        return (6 if self.reset_gate_mode == _MODES[2] else 3) * self.num_hidden_units

    ResetGateMode = property(lambda self: self.reset_gate_mode, doc="MATLAB ``ResetGateMode``.")

    def _biases(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(input bias 3H, recurrent bias 3H or None)."""
        n = 3 * self.num_hidden_units
        return (self.bias[:n], self.bias[n:]) if self.reset_gate_mode == _MODES[2] else (self.bias, None)

    def forward(self, x: torch.Tensor, *states: torch.Tensor, lengths: Any = None) -> Any:
        """``x`` (B, T, D); with HasStateInputs also ``hidden`` (B, H); ``lengths`` (B,) optional."""
        L, h0, _ = self._prepare(x, states, lengths)
        W, Rw = self.input_weights, self.recurrent_weights
        bx, bh = self._biases()
        gate = R.GATE_FUNCTIONS[self.gate_activation_function]
        state = R.STATE_FUNCTIONS[self.state_activation_function]
        fused = gate is torch.sigmoid and state is torch.tanh and self.reset_gate_mode != _MODES[1]
        if fused:
            params = [W, Rw, bx, torch.zeros_like(bx) if bh is None else bh]
            out, (hT,) = R.run_fused("gru", x, h0, params, False, L, self.training)  # (B, T, H), (1, B, H)
        else:
            out, h = R.gru_loop(x, h0[0], W, Rw, bx, bh, self.reset_gate_mode, L, gate, state)
            hT = h[None]
        if self._recorder is not None:
            self._reserve_signals(x.shape[0], x.shape[1], x.element_size())
            with torch.set_grad_enabled(torch.is_grad_enabled() and self._recorder.keep_graph):
                sigs = R.gru_signals(
                    x, out, h0[0], W, Rw, bx, bh, self.reset_gate_mode, L, self._want_fn(), gate, state
                )
            self._emit_all(sigs, L)
        return self._finish(out, hT, None, L)

    def description(self) -> str:
        return f"{self.num_hidden_units} GRU hidden units, OutputMode '{self.output_mode}'"

    def extra_repr(self) -> str:
        return super().extra_repr() + f", reset_gate_mode={self.reset_gate_mode!r}"
