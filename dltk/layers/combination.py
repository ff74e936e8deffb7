"""Combination layers: several inputs in (``in1`` … ``inN``), one output.

Element-wise addition and multiplication, concatenation along channels or
another MATLAB dimension, and the ``weightedAdditionLayer`` custom-layer
example. Every input is checked on its own (rank, dtype) and against the
first one; a mismatch names both inputs with their sizes in both notations.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import LayerInputError, OptionError
from ..layouts import _MATLAB_ORDER, ANY_LAYOUT, describe, matlab_format
from ..options import positive_int
from .base import Layer

__all__ = ["Addition", "Multiplication", "DepthConcatenation", "Concatenation", "WeightedAddition"]


class _Combination(Layer):
    """Shared input handling: ``num_inputs`` ports ``in1``…, per-input signals ``<prefix>_1``…"""

    _signal_prefix = "input"
    _signal_doc = "input {i} as it enters the layer, input layout"

    def __init__(self, num_inputs: int, name: str) -> None:
        super().__init__(name)
        self.num_inputs = positive_int(self.matlab_name, "numInputs", num_inputs)
        if self.num_inputs < 2:
            raise OptionError(f"{self.matlab_name}: numInputs must be at least 2, got {num_inputs!r}.")
        # the signal list depends on numInputs, so it is set per instance
        self.signals = tuple(f"{self._signal_prefix}_{i}" for i in range(1, self.num_inputs + 1))
        self.signal_docs = {s: self._signal_doc.format(i=i + 1) for i, s in enumerate(self.signals)}

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f"in{i}" for i in range(1, self.num_inputs + 1))

    def _describe(self, x: torch.Tensor, lay: str) -> str:
        return describe(tuple(x.shape), lay)

    def _check_count(self, xs: Sequence[torch.Tensor]) -> None:
        if len(xs) != self.num_inputs:
            raise LayerInputError(
                f"{self.matlab_name} '{self.label}': expected {self.num_inputs} inputs "
                f"({', '.join(self.input_names)}), got {len(xs)}."
            )

    def _check_all(self, xs: Sequence[torch.Tensor], ignore_axis: str | None = None) -> str:
        """Check every input; all must share the layout and every size except ``ignore_axis``."""
        if ignore_axis is None and len(xs) == self.num_inputs and isinstance(xs[0], torch.Tensor):
            x1 = xs[0]  # common case: one check of x1, then the others are x1's size (a few tests)
            lay, s1 = self._check_input(x1, ANY_LAYOUT), x1.shape
            for x in xs[1:]:
                if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.shape == s1):
                    break
            else:
                return lay
        self._check_count(xs)
        lays = [self._check_input(x, ANY_LAYOUT) for x in xs]
        lay, x1 = lays[0], xs[0]
        k = -1 if ignore_axis is None else lay.find(ignore_axis)
        s1 = x1.shape[:k] + x1.shape[k + 1 :] if k >= 0 else x1.shape
        for i, (x, lay_i) in enumerate(zip(xs[1:], lays[1:]), start=2):
            if lay_i != lay or (x.shape[:k] + x.shape[k + 1 :] if k >= 0 else x.shape) != s1:
                what = "the same size" if ignore_axis is None else f"the same size except along {ignore_axis}"
                raise LayerInputError(
                    f"{self.matlab_name} '{self.label}': inputs must have {what}; "
                    f"in1 is {self._describe(x1, lay)} but in{i} is {self._describe(x, lay_i)}."
                )
        return lay

    def cat_axis(self, layout: str) -> int:
        """The dltk axis the concatenation layers join ``layout`` data along."""
        raise NotImplementedError

    def _cat(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``torch.cat`` of checked inputs along :meth:`cat_axis`.

        The common case checks ``in1`` and that every input is a non-empty floating-point
        tensor; ``torch.cat`` itself compares the ranks and the other sizes, and when it
        refuses, :meth:`_check_all` finds what is wrong and says it.
        """
        if len(xs) == self.num_inputs and isinstance(xs[0], torch.Tensor):
            lay = self._check_input(xs[0], ANY_LAYOUT)
            axis = self.cat_axis(lay)
            for x in xs[1:]:
                if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel()):
                    break
            else:
                if self._recorder is not None:
                    self._emit_inputs(xs, lay)
                try:
                    return torch.cat(xs, dim=axis)
                except RuntimeError:
                    pass
        self._check_count(xs)
        lay0 = self._check_input(xs[0], ANY_LAYOUT)
        axis = self.cat_axis(lay0)
        lay = self._check_all(xs, ignore_axis=lay0[axis])  # raises the clear error
        self._emit_inputs(xs, lay)
        return torch.cat(xs, dim=axis)

    def _emit_inputs(self, xs: Sequence[torch.Tensor], lay: str) -> None:
        if self._recorder is not None:
            for name, x in zip(self.signals, xs):
                self._emit(name, x, lay)

    def extra_repr(self) -> str:
        return f"num_inputs={self.num_inputs}"


class Addition(_Combination):
    r"""Element-wise sum of the inputs.

    Math:
        y = x_1 + x_2 + \dots + x_N

    where :math:`x_i` is the input on port ``in<i>`` and :math:`N` is ``NumInputs``.
    All inputs must have the same size (no broadcasting), as in MATLAB.

    Args:
        num_inputs: number of inputs N ≥ 2 (MATLAB ``numInputs``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Every input and the output share one shape and layout: (B, C) CB, (B, T, C) CBT,
        (B, C, H, W) SSCB, (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT.

    Signals:
        ``input_1`` … ``input_N`` (input layout): each input, i.e. its contribution to the sum.

    Example:
        >>> add = dltk.additionLayer(2)
        >>> add(torch.ones(2, 3), torch.ones(2, 3))
        tensor([[2., 2., 2.],
                [2., 2., 2.]])

    MATLAB: additionLayer(numInputs, Name=Value)
    """

    matlab_name = "additionLayer"
    type_name = "Addition"
    name_prefix = "addition"
    torch_equivalent = "torch.add / sum"
    matlab_positional = ("num_inputs",)
    matlab_options = {"NumInputs": "num_inputs"}

    def __init__(self, num_inputs: int = 2, *, name: str = "") -> None:
        super().__init__(num_inputs, name)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        lay = self._check_all(xs)
        if self._recorder is not None:
            self._emit_inputs(xs, lay)
        if len(xs) == 2:
            return torch.add(xs[0], xs[1])
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y

    def description(self) -> str:
        return f"Element-wise addition of {self.num_inputs} inputs"


class Multiplication(_Combination):
    r"""Element-wise product of the inputs.

    Math:
        y = x_1 \odot x_2 \odot \dots \odot x_N

    where :math:`x_i` is the input on port ``in<i>`` and :math:`\odot` the element-wise product.
    All inputs must have the same size.

    Args:
        num_inputs: number of inputs N ≥ 2 (MATLAB ``numInputs``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Every input and the output share one shape and layout: (B, C) CB, (B, T, C) CBT,
        (B, C, H, W) SSCB, (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT.

    Signals:
        ``input_1`` … ``input_N`` (input layout): each factor.

    Example:
        >>> dltk.multiplicationLayer(2)(torch.full((1, 2), 3.0), torch.full((1, 2), 2.0))
        tensor([[6., 6.]])

    MATLAB: multiplicationLayer(numInputs, Name=Value)
    """

    matlab_name = "multiplicationLayer"
    type_name = "Multiplication"
    name_prefix = "multiplication"
    torch_equivalent = "torch.mul"
    matlab_positional = ("num_inputs",)
    matlab_options = {"NumInputs": "num_inputs"}

    def __init__(self, num_inputs: int = 2, *, name: str = "") -> None:
        super().__init__(num_inputs, name)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        lay = self._check_all(xs)
        if self._recorder is not None:
            self._emit_inputs(xs, lay)
        if len(xs) == 2:
            return torch.mul(xs[0], xs[1])
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y

    def description(self) -> str:
        return f"Element-wise multiplication of {self.num_inputs} inputs"


class DepthConcatenation(_Combination):
    r"""Stack the inputs along the channel axis.

    Math:
        y = [x_1; x_2; \dots; x_N] \text{ along } C, \qquad C_y = \sum_i C_i

    where :math:`x_i` is the input on port ``in<i>`` with :math:`C_i` channels; the
    inputs must agree on every other axis (batch, time, height, width, depth).

    Args:
        num_inputs: number of inputs N ≥ 2 (MATLAB ``numInputs``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Inputs in one layout, output the same layout with :math:`C_y` channels:
        (B, C, H, W) SSCB, (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT, and also
        (B, C) CB, (B, T, C) CBT.

    Signals:
        ``input_1`` … ``input_N`` (input layout): each input, i.e. its block of channels.

    Example:
        >>> cat = dltk.depthConcatenationLayer(2)
        >>> cat(torch.zeros(2, 3, 5, 5), torch.zeros(2, 4, 5, 5)).shape
        torch.Size([2, 7, 5, 5])

    MATLAB: depthConcatenationLayer(numInputs, Name=Value)
    """

    matlab_name = "depthConcatenationLayer"
    type_name = "Depth concatenation"
    name_prefix = "depthcat"
    torch_equivalent = "torch.cat(dim=C axis)"
    matlab_positional = ("num_inputs",)
    matlab_options = {"NumInputs": "num_inputs"}

    def __init__(self, num_inputs: int = 2, *, name: str = "") -> None:
        super().__init__(num_inputs, name)

    def cat_axis(self, layout: str) -> int:
        return layout.index("C")

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self._cat(xs)

    def description(self) -> str:
        return f"Depth concatenation of {self.num_inputs} inputs"


class Concatenation(_Combination):
    r"""Concatenate the inputs along a MATLAB dimension.

    Math:
        y = \text{cat}_{\text{dim}}(x_1, \dots, x_N)

    where :math:`x_i` is the input on port ``in<i>`` and ``dim`` counts the
    dimensions of the **MATLAB array** (1-based, in MATLAB's order S…, C, B, T).
    The dltk axis it means depends on the data:

    ======================  ===============  =====================================
    dltk layout             MATLAB array      dim → dltk axis
    ======================  ===============  =====================================
    (B, C)                  C×B (CB)          1 → C
    (B, T, C)               C×B×T (CBT)       1 → C, 3 → T
    (B, C, H, W)            H×W×C×B (SSCB)    1 → H, 2 → W, 3 → C
    (B, C, D, H, W)         H×W×D×C×B         1 → H, 2 → W, 3 → D, 4 → C
    (B, T, C, H, W)         H×W×C×B×T         1 → H, 2 → W, 3 → C, 5 → T
    ======================  ===============  =====================================

    The batch dimension cannot be concatenated. The inputs must agree on every other axis.

    Args:
        dim: MATLAB concatenation dimension, a positive integer (MATLAB ``dim``).
        num_inputs: number of inputs N ≥ 2 (MATLAB ``numInputs``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Inputs in one layout; output the same layout, longer along the concatenated axis,
        e.g. dim 3 of images: (B, C1, H, W), (B, C2, H, W) -> (B, C1 + C2, H, W), MATLAB SSCB;
        dim 1 of sequences: (B, T, C1), (B, T, C2) -> (B, T, C1 + C2), MATLAB CBT.

    Signals:
        ``input_1`` … ``input_N`` (input layout): each input.

    Example:
        >>> cat = dltk.concatenationLayer(3, 2)   # SSCB dim 3 = channels
        >>> cat(torch.zeros(2, 3, 5, 5), torch.zeros(2, 1, 5, 5)).shape
        torch.Size([2, 4, 5, 5])

    MATLAB: concatenationLayer(dim, numInputs, Name=Value)
    """

    matlab_name = "concatenationLayer"
    type_name = "Concatenation"
    name_prefix = "concat"
    torch_equivalent = "torch.cat"
    matlab_positional = ("dim", "num_inputs")
    matlab_options = {"NumInputs": "num_inputs"}

    def __init__(self, dim: int, num_inputs: int = 2, *, name: str = "") -> None:
        super().__init__(num_inputs, name)
        self.dim = positive_int("concatenationLayer", "dim", dim)

    @property
    def Dim(self) -> int:  # noqa: N802
        return self.dim

    def cat_axis(self, layout: str) -> int:
        return self.torch_axis(layout)

    def torch_axis(self, layout: str) -> int:
        """The dltk axis that MATLAB dimension ``dim`` means for data in ``layout``."""
        order = _MATLAB_ORDER[layout]  # MATLAB's axis order, e.g. 'HWCB' for BCHW
        if self.dim > len(order) or order[self.dim - 1] == "B":
            ok = [f"{i + 1} ({a})" for i, a in enumerate(order) if a != "B"]
            why = "the batch dimension" if self.dim <= len(order) else f"the array has {len(order)} dimensions"
            raise LayerInputError(
                f"concatenationLayer '{self.label}': cannot concatenate along dim {self.dim} of "
                f"{matlab_format(layout)} data ({why}); allowed: {', '.join(ok)}."
            )
        return layout.index(order[self.dim - 1])

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self._cat(xs)

    def description(self) -> str:
        return f"Concatenation of {self.num_inputs} inputs along dimension {self.dim}"

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_inputs={self.num_inputs}"


class WeightedAddition(Layer):
    r"""Weighted sum of the inputs — MATLAB's multiple-input custom-layer example, written as a student would.

    MATLAB: ``weightedAdditionLayer(numInputs, name)`` from "Define Custom
    Deep Learning Layer with Multiple Inputs". Read it as a template: a
    :class:`~dltk.layers.Layer` with ``input_names`` ``in1``…``inN``, one
    learnable, a signal per input, and autograd for the backward pass.

    Math:
        y = \sum_{i=1}^{N} w_i\, x_i

    where :math:`x_i` is the input on port ``in<i>`` and :math:`w_i` its learnable weight.

    Args:
        num_inputs: number of inputs N (MATLAB ``numInputs``).
        name: layer name (MATLAB ``name``, second positional argument). Default: ``''``.

    Shape:
        Every input and the output share one shape: (B, C) CB, (B, T, C) CBT,
        (B, C, H, W) SSCB, (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT.

    Learnables:
        Weights: (1, N) as in MATLAB, ``rand`` init: U[0, 1).

    Signals:
        ``weighted_1`` … ``weighted_N`` (input layout): :math:`w_i x_i`, each input's contribution.

    Example:
        >>> layer = dltk.weightedAdditionLayer(2, "add")
        >>> layer(torch.ones(1, 3), torch.ones(1, 3)).shape
        torch.Size([1, 3])

    MATLAB: weightedAdditionLayer(numInputs, name, Name=Value)
    """

    matlab_name = "weightedAdditionLayer"
    torch_equivalent = "sum(w_i * x_i) (torch.stack + tensordot)"
    type_name = "Weighted Addition"
    name_prefix = "weightedadd"
    matlab_positional = ("num_inputs", "name")

    def __init__(self, num_inputs: int, name: str = "") -> None:
        super().__init__(name)
        self.num_inputs = positive_int("weightedAdditionLayer", "numInputs", num_inputs)
        self.Weights = nn.Parameter(torch.rand(1, self.num_inputs))  # MATLAB 1×numInputs
        self.signals = tuple(f"weighted_{i}" for i in range(1, self.num_inputs + 1))
        self.signal_docs = {s: f"Weights(i)·x_{i} for input in{i}" for i, s in enumerate(self.signals, start=1)}

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f"in{i}" for i in range(1, self.num_inputs + 1))

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.Weights.uniform_(0.0, 1.0)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        if len(xs) != self.num_inputs:
            raise LayerInputError(
                f"weightedAdditionLayer '{self.label}': expected {self.num_inputs} inputs, got {len(xs)}."
            )
        lay = self._check_input(xs[0], ANY_LAYOUT)
        for i, x in enumerate(xs):  # check every input before computing anything
            if not isinstance(x, torch.Tensor) or x.shape != xs[0].shape or not x.is_floating_point():
                self._check_input(x, lay)  # a clear error for a non-tensor, another rank or dtype
                raise LayerInputError(
                    f"weightedAdditionLayer '{self.label}': inputs must have the same size; "
                    f"in1 is {tuple(xs[0].shape)} but in{i + 1} is {tuple(x.shape)} ({lay})."
                )
        w = self.Weights[0]  # (N,): w_i for input i
        y = w[0] * xs[0]
        if self._recorder is None:  # y + x_i·w_i fused (addcmul): one pass per input after the first
            for i in range(1, len(xs)):
                y = torch.addcmul(y, xs[i], w[i])
            return y
        self._emit(self.signals[0], y, lay)  # each input's contribution w_i x_i
        for i in range(1, len(xs)):
            weighted = w[i] * xs[i]
            self._emit(self.signals[i], weighted, lay)
            y = y + weighted
        return y

    def description(self) -> str:
        return f"Weighted addition of {self.num_inputs} inputs"
