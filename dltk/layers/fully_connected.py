"""Fully connected layer (MATLAB ``fullyConnectedLayer``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..options import positive_int
from . import initializers as init
from .base import Layer, matlab_property

__all__ = ["FullyConnected"]

_LAYOUTS = ("BC", "BTC", "BCHW", "BCDHW")  # features, sequences, images, volumes


class FullyConnected(Layer):
    r"""Fully connected layer: multiply by a weight matrix, add a bias.

    Math:
        y = W x + b

    where :math:`x` is the input vector of size InputSize, :math:`W` the
    OutputSize×InputSize weight matrix and :math:`b` the bias. For an image,
    :math:`x` is the image flattened in MATLAB's column-major order (height
    fastest, then width, then channel), so MATLAB weights carry over. For a
    sequence, the layer acts independently at every time step.

    Args:
        output_size: number of outputs (MATLAB ``outputSize``).
        input_size: number of inputs, or ``'auto'`` to infer it from the first
            input (MATLAB ``InputSize``). Default: ``'auto'``.
        weights_initializer: ``'glorot'``, ``'he'``, ``'narrow-normal'``,
            ``'zeros'``, ``'ones'`` or a callable (MATLAB ``WeightsInitializer``).
            Default: ``'glorot'``.
        bias_initializer: ``'zeros'``, ``'narrow-normal'``, ``'ones'`` or a
            callable (MATLAB ``BiasInitializer``). Default: ``'zeros'``.
        weight_learn_rate_factor, bias_learn_rate_factor: MATLAB
            ``WeightLearnRateFactor``/``BiasLearnRateFactor``. Default: 1.
        weight_l2_factor, bias_l2_factor: MATLAB ``WeightL2Factor`` (default 1)
            / ``BiasL2Factor`` (default 0).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ======================  ============================  =====================
        input                   dltk                           MATLAB
        ======================  ============================  =====================
        features                (B, C) -> (B, O)               CB -> CB
        vector sequence         (B, T, C) -> (B, T, O)         CBT -> CBT
        2-D image               (B, C, H, W) -> (B, O)         SSCB -> CB
        3-D image               (B, C, D, H, W) -> (B, O)      SSSCB -> CB
        ======================  ============================  =====================

        B batch, T time, C channels, O = OutputSize; for images InputSize = C·H·W(·D).

    Learnables:
        weight: (O, InputSize) — MATLAB ``Weights`` (same shape), glorot.
        bias: (O,) — MATLAB ``Bias`` is the O×1 view of the same storage, zeros.

    Signals:
        ``input_flat`` (B, InputSize) or (B, T, InputSize): the input as the
        vector the weights see (images flattened in MATLAB order);
        ``pre_bias`` (same layout as the output): :math:`W x`.

    Example:
        >>> fc = dltk.fullyConnectedLayer(9)
        >>> fc(torch.randn(4, 100)).shape
        torch.Size([4, 9])

    MATLAB: fullyConnectedLayer(outputSize, Name=Value)
    """

    signals = ("input_flat", "pre_bias")
    signal_docs = {
        "input_flat": "input as the vector the weights see, (B, InputSize) or (B, T, InputSize)",
        "pre_bias": "W·x before the bias is added, same layout as the output",
    }
    matlab_name = "fullyConnectedLayer"
    type_name = "Fully Connected"
    name_prefix = "fc"
    torch_equivalent = "torch.nn.Linear"
    matlab_positional = ("output_size",)
    matlab_options = {
        "InputSize": "input_size",
        "WeightsInitializer": "weights_initializer",
        "BiasInitializer": "bias_initializer",
        "Weights": "weights",
        "Bias": "bias",
        "WeightLearnRateFactor": "weight_learn_rate_factor",
        "BiasLearnRateFactor": "bias_learn_rate_factor",
        "WeightL2Factor": "weight_l2_factor",
        "BiasL2Factor": "bias_l2_factor",
    }

    def __init__(
        self,
        output_size: int,
        input_size: int | str = "auto",
        *,
        weights_initializer: Any = "glorot",
        bias_initializer: Any = "zeros",
        weights: Any = None,
        bias: Any = None,
        weight_learn_rate_factor: float = 1.0,
        bias_learn_rate_factor: float = 1.0,
        weight_l2_factor: float = 1.0,
        bias_l2_factor: float = 0.0,
        name: str = "",
    ) -> None:
        super().__init__(name)
        where = "fullyConnectedLayer"
        self.output_size = positive_int(where, "OutputSize", output_size)
        if isinstance(input_size, str) and input_size.lower() == "auto":
            self.input_size: int | str = "auto"
        else:
            self.input_size = positive_int(where, "InputSize", input_size)
        init.set_weight_bias_options(
            self,
            where,
            weights_initializer,
            bias_initializer,
            weight_learn_rate_factor,
            bias_learn_rate_factor,
            weight_l2_factor,
            bias_l2_factor,
        )
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self._initial = (weights, bias)
        if self.input_size != "auto":
            self._materialize(self.input_size)

    # ---------------------------------------------------------------- params
    def _materialize(self, input_size: int, dtype: torch.dtype | None = None, device: Any = None) -> None:
        self.input_size = input_size
        dtype = dtype or torch.get_default_dtype()
        self.weight = nn.Parameter(torch.empty(self.output_size, input_size, dtype=dtype, device=device))
        self.bias = nn.Parameter(torch.empty(self.output_size, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialize with the layer's initializers (or given Weights/Bias)."""
        w0, b0 = self._initial
        with torch.no_grad():
            w = init.make(self.weights_initializer, self.weight.shape, self.input_size, self.output_size)
            b = init.make(self.bias_initializer, self.bias.shape, self.input_size, self.output_size)
            if w0 is not None:
                w = torch.as_tensor(w0, dtype=torch.float64).reshape(self.weight.shape)
            if b0 is not None:
                b = torch.as_tensor(b0, dtype=torch.float64).reshape(self.bias.shape)
            self.weight.copy_(w)
            self.bias.copy_(b)

    def setup(self, example_inputs: list[torch.Tensor], layouts: list[str | None]) -> None:
        super().setup(example_inputs, layouts)
        x = example_inputs[0]
        if self.weight is None:
            lay = layouts[0] or self._layout_of(x)
            size = x.shape[-1] if lay in ("BC", "BTC") else x[0].numel()
            self._materialize(int(size), x.dtype, x.device)

    # ---------------------------------------------------------- MATLAB views
    OutputSize = matlab_property("output_size", readonly=True)
    InputSize = matlab_property("input_size", readonly=True)
    WeightsInitializer = matlab_property("weights_initializer")
    BiasInitializer = matlab_property("bias_initializer")
    WeightLearnRateFactor = matlab_property("weight_learn_rate_factor")
    BiasLearnRateFactor = matlab_property("bias_learn_rate_factor")
    WeightL2Factor = matlab_property("weight_l2_factor")
    BiasL2Factor = matlab_property("bias_l2_factor")

    @property
    def Weights(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Weights``: OutputSize×InputSize, the torch ``weight``'s storage
        (detached, so MATLAB-style element assignment ``fc.Weights[0, 3] = 1`` writes the parameter)."""
        return None if self.weight is None else self.weight.detach()

    @Weights.setter
    def Weights(self, value: Any) -> None:  # noqa: N802
        with torch.no_grad():
            self.weight.copy_(torch.as_tensor(value).reshape(self.weight.shape))

    @property
    def Bias(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Bias``: OutputSize×1 view of the torch ``bias``."""
        return None if self.bias is None else self.bias.detach().view(-1, 1)

    @Bias.setter
    def Bias(self, value: Any) -> None:  # noqa: N802
        with torch.no_grad():
            self.bias.copy_(torch.as_tensor(value).reshape(self.bias.shape))

    # ---------------------------------------------------------------- forward
    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return "BTC" if input_layouts and input_layouts[0] == "BTC" else "BC"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self._parameters["weight"]
        image = isinstance(x, torch.Tensor) and x.dim() > 3
        # a known InputSize is the C of features/sequences; images are checked after flattening
        self._check_input(x, _LAYOUTS, {"C": self.input_size} if w is not None and not image else None)
        if image:
            # MATLAB column-major flatten: height fastest, then width, (depth,) channel
            x = x.transpose(-1, -2).reshape(x.shape[0], -1)  # (B, InputSize)
            if w is not None and x.shape[-1] != self.input_size:
                raise self._fail(f"an input of InputSize {self.input_size}", x, f"{x.shape[-1]} values per observation")
        if w is None:
            self._materialize(x.shape[-1], x.dtype, x.device)
            w = self._parameters["weight"]
        if self._recorder is None:
            return F.linear(x, w, self._parameters["bias"])
        self._emit("input_flat", x, "BTC" if x.ndim == 3 else "BC")
        pre = F.linear(x, self.weight)  # (B, O) or (B, T, O)
        self._emit("pre_bias", pre, "BTC" if x.ndim == 3 else "BC")
        return pre + self.bias

    def description(self) -> str:
        return f"{self.output_size} fully connected layer"

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, input_size={self.input_size!r}"
