"""The recurrent layers' common base class: options, parameters, initial states and ports.

:class:`RecurrentLayer` holds what LSTM, BiLSTM and GRU share; the math lives
in :mod:`.lstm` and :mod:`.gru` (each opens with its readable one-step
function), the ways to run it in :mod:`._recurrent_run` (fused kernels, step
loops, compiled recording loops), the gate reconstruction for recordings in
:mod:`._recurrent_rebuild`, and the variable-length helpers in
:mod:`._sequence_masks`.

The initial states ``hidden_state``/``cell_state`` are (non-persistent)
buffers, so ``.double()``, ``.to(device)`` move them with the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..errors import LayerInputError, OptionError
from ..options import choice, flag, number, positive_int
from . import initializers as init
from ._recurrent_rebuild import linear_scan
from ._recurrent_run import GATE_FUNCTIONS, STATE_FUNCTIONS
from ._sequence_masks import last_step, reverse_within, shift_prev, zero_padding
from .base import Layer, matlab_property

Tensor = torch.Tensor

# the helpers that lived here before the split stay importable from here (the torch.nn recognisers use them)
__all__ = [
    "RecurrentLayer",
    "GATE_FUNCTIONS",
    "STATE_FUNCTIONS",
    "linear_scan",
    "last_step",
    "reverse_within",
    "shift_prev",
    "zero_padding",
]


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
        self._set_factors(
            input_weights_learn_rate_factor,
            recurrent_weights_learn_rate_factor,
            bias_learn_rate_factor,
            input_weights_l2_factor,
            recurrent_weights_l2_factor,
            bias_l2_factor,
        )
        if not self._has_cell and cell_state is not None:
            raise OptionError(f"{w}: has no CellState (a GRU carries only HiddenState).")
        if self.has_state_inputs and (hidden_state is not None or cell_state is not None):
            raise OptionError(
                f"{w}: HiddenState/CellState cannot be set when HasStateInputs is true "
                "(the states come in through the 'hidden' and 'cell' inputs)."
            )
        # buffers (not in the state_dict): .double() / .to(device) move them with the parameters
        h0, c0 = self._state_value("HiddenState", hidden_state), self._state_value("CellState", cell_state)
        self.register_buffer("_initial_hidden", h0, persistent=False)
        self.register_buffer("_initial_cell", c0, persistent=False)
        self.register_buffer("hidden_state", None if h0 is None else h0.clone(), persistent=False)
        self.register_buffer("cell_state", None if c0 is None else c0.clone(), persistent=False)
        self._initial = (input_weights, recurrent_weights, bias)
        for p in ("input_weights", "recurrent_weights", "bias"):
            self.register_parameter(p, None)
        if self.input_size == "auto" and input_weights is not None:
            self.input_size = int(torch.as_tensor(input_weights).shape[-1])
        if self.input_size != "auto":
            self._materialize(int(self.input_size))

    _FACTORS = (
        ("InputWeightsLearnRateFactor", "input_weights_learn_rate_factor"),
        ("RecurrentWeightsLearnRateFactor", "recurrent_weights_learn_rate_factor"),
        ("BiasLearnRateFactor", "bias_learn_rate_factor"),
        ("InputWeightsL2Factor", "input_weights_l2_factor"),
        ("RecurrentWeightsL2Factor", "recurrent_weights_l2_factor"),
        ("BiasL2Factor", "bias_l2_factor"),
    )

    def _set_factors(self, *values: Any) -> None:
        """The six learn-rate/L2 factors, in ``_FACTORS`` order: scalars or one value per gate block."""
        n = self._gates * self._dirs
        for (opt, attr), val in zip(self._FACTORS, values):
            setattr(self, attr, _factor(self.matlab_name, opt, val, n))

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
        like = self.input_weights if "input_weights" in self._parameters and self.input_weights is not None else None
        dtype, device = (like.dtype, like.device) if like is not None else (torch.get_default_dtype(), None)
        v = torch.as_tensor(value).detach().to(dtype=dtype, device=device).clone()
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
        like = self.input_weights
        move = (lambda v: v.detach().clone()) if like is None else (lambda v: v.detach().to(like).clone())
        self.hidden_state = move(hidden)
        if self._has_cell and cell is not None:
            self.cell_state = move(cell)

    def reset_state(self) -> None:
        """Restore the initial HiddenState/CellState (MATLAB ``resetState``)."""
        h, c = self._initial_hidden, self._initial_cell
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

    def _prepare(self, x: Tensor, states: Sequence[Tensor], lengths: Any) -> tuple[Any, ...]:
        """Check the inputs; return (x with zeros at padded steps, lengths or None, h0, c0 (dirs, B, H) or None).

        Zeroing the padding keeps whatever it held (NaN, inf) out of every value
        and gradient, on every path.
        """
        known = None if self.input_weights is None else self.input_size
        self._check_input(x, "BTC", {"C": known})
        if len(states) != len(self.input_names) - 1:
            raise LayerInputError(
                f"{self.matlab_name} '{self.label}': expected inputs {self.input_names}, got {1 + len(states)} tensors."
            )
        if self.input_weights is None:
            self._materialize(int(x.shape[-1]), x.dtype, x.device)
        L = self._check_lengths(lengths, x)
        if L is not None:
            x = zero_padding(x, L)
        h0 = self._initial_state(states[0] if states else None, self.hidden_state, "hidden", x)
        c0 = None
        if self._has_cell:
            c0 = self._initial_state(states[1] if states else None, self.cell_state, "cell", x)
        return x, L, h0, c0

    def _check_lengths(self, lengths: Any, x: Tensor) -> Tensor | None:
        if lengths is None:
            return None
        L = torch.as_tensor(lengths).reshape(-1)
        B, T = x.shape[:2]
        lo, hi = torch.aminmax(L) if L.numel() and not L.is_floating_point() and not L.is_complex() else (0, 0)
        lo, hi = int(lo), int(hi)
        if L.is_floating_point() or L.numel() != B or lo < 1 or hi > T:
            raise self._fail(
                f"lengths: {B} integers in 1..{T} (one per observation)",
                x,
                f"lengths {L.tolist() if L.numel() <= 8 else tuple(L.shape)}",
            )
        return None if lo == T else L.long()

    def _finish(self, out: Tensor, hT: Tensor, cT: Tensor | None, lengths: Tensor | None, last: bool = False) -> Any:
        """Apply OutputMode and add state outputs; hT/cT (dirs, B, H) -> (B, dirs·H).

        ``last``: ``out`` is already the ``'last'`` output (B, dirs·H).
        """
        y = out if last or self.output_mode == "sequence" else last_step(out, lengths)
        if not self.has_state_outputs:
            return y
        B = y.shape[0]
        hT = hT.transpose(0, 1).reshape(B, -1)
        if not self._has_cell:
            return y, hT
        return y, hT, cT.transpose(0, 1).reshape(B, -1)

    def _emit_signals(
        self, names: Sequence[str], values: Sequence[Tensor | None], lengths: Tensor | None, prefix: str = ""
    ) -> None:
        """Emit each recorded signal (None: not wanted) under ``prefix + name``, zeros at padded steps."""
        for n, v in zip(names, values):
            if v is not None:
                self._emit(prefix + n, zero_padding(v, lengths), "BTC")

    def _reserve_signals(self, B: int, T: int, itemsize: int) -> None:
        """Reserve the bytes of the wanted signals before computing any of them."""
        H = self.num_hidden_units
        total = 0
        for s in self.signals:
            if self._wants(s):
                total += B * T * H * (self._gates if s.endswith("gates_pre") else 1) * itemsize
        if total:
            self._reserve(total, f"{sum(self._wants(s) for s in self.signals)} signals of (B, T, H) = ({B}, {T}, {H})")

    def _wanted(self, names: Sequence[str], prefix: str = "") -> tuple[bool, ...]:
        """Which of ``names`` (with ``prefix``) the recorder wants, in order."""
        return tuple(self._wants(prefix + n) for n in names)

    def _grad_needed(self, x: Tensor) -> bool:
        """True when autograd would track this call (the recording must then keep the graph)."""
        return torch.is_grad_enabled() and (x.requires_grad or self.input_weights.requires_grad)

    def extra_repr(self) -> str:
        s = f"num_hidden_units={self.num_hidden_units}, input_size={self.input_size!r}"
        s += f", output_mode={self.output_mode!r}"
        if self.state_activation_function != "tanh" or self.gate_activation_function != "sigmoid":
            s += f", state={self.state_activation_function!r}, gate={self.gate_activation_function!r}"
        return s
