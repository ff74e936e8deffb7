"""Activation layers: ReLU family, ELU, tanh, sigmoid, softmax, and the PReLU custom-layer example.

Every layer here keeps the shape and layout of its input (features, vector
sequences, 2-D/3-D images, image sequences) and has no learnables, except
:class:`PReLU`. The ReLU-family layers record *regime masks*: boolean tensors,
shaped like the input, telling which branch of the piecewise formula each
element took. They are computed only while a recording wants them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch convention
from torch import nn

from ..layouts import ANY_LAYOUT
from ..options import number, positive_int
from .base import Layer, matlab_property

__all__ = ["ReLU", "LeakyReLU", "ClippedReLU", "ELU", "Tanh", "Sigmoid", "Softmax", "PReLU"]


def _g(v: float) -> str:
    return f"{v:g}"


class ReLU(Layer):
    r"""Rectified linear unit.

    Math:
        y = \max(0, x)

    where :math:`x` is any input element and :math:`y` the output element.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Any layout, output = input: (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT. B batch, T time, C channels.

    Signals:
        ``active`` (bool, input layout): :math:`x > 0`, the elements the unit passes.

    Example:
        >>> dltk.reluLayer()(torch.tensor([[-1.0, 2.0]]))
        tensor([[0., 2.]])

    MATLAB: reluLayer(Name=Value)
    """

    signals = ("active",)
    signal_docs = {"active": "bool mask x > 0 (elements passed through), input layout"}
    matlab_name = "reluLayer"
    type_name = "ReLU"
    name_prefix = "relu"
    torch_equivalent = "torch.nn.ReLU"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ANY_LAYOUT)
        if self._recorder is not None and self._wants("active"):
            self._emit("active", x > 0, lay)
        return F.relu(x)

    def description(self) -> str:
        return "ReLU"


class LeakyReLU(Layer):
    r"""Leaky ReLU.

    Math:
        y = \begin{cases} x & x \ge 0 \\ s\,x & x < 0 \end{cases}

    where :math:`s` is the scale (MATLAB ``Scale``) applied to negative inputs.

    Args:
        scale: multiplier for negative inputs (MATLAB ``scale``/``Scale``). Default: ``0.01``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Any layout, output = input: (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT. B batch, T time, C channels.

    Signals:
        ``negative`` (bool, input layout): :math:`x < 0`, the elements multiplied by the scale.

    Example:
        >>> dltk.leakyReluLayer(0.1)(torch.tensor([[-1.0, 2.0]]))
        tensor([[-0.1000,  2.0000]])

    MATLAB: leakyReluLayer(scale, Name=Value)
    """

    signals = ("negative",)
    signal_docs = {"negative": "bool mask x < 0 (elements multiplied by Scale), input layout"}
    matlab_name = "leakyReluLayer"
    type_name = "Leaky ReLU"
    name_prefix = "leakyrelu"
    torch_equivalent = "torch.nn.LeakyReLU"
    matlab_positional = ("scale",)
    matlab_options = {"Scale": "scale"}

    def __init__(self, scale: float = 0.01, *, name: str = "") -> None:
        super().__init__(name)
        self.scale = number("leakyReluLayer", "Scale", scale)

    Scale = matlab_property("scale")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ANY_LAYOUT)
        if self._recorder is not None and self._wants("negative"):
            self._emit("negative", x < 0, lay)
        return F.leaky_relu(x, self.scale)

    def description(self) -> str:
        return f"Leaky ReLU with scale {_g(self.scale)}"

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}"


class ClippedReLU(Layer):
    r"""ReLU clipped at a ceiling.

    Math:
        y = \min(\max(0, x), c)

    where :math:`c > 0` is the ceiling (MATLAB ``Ceiling``).

    Args:
        ceiling: the positive ceiling (MATLAB ``ceiling``/``Ceiling``), required.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Any layout, output = input: (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT. B batch, T time, C channels.

    Signals:
        ``clipped_low`` (bool, input layout): :math:`x < 0` (output 0);
        ``clipped_high`` (bool, input layout): :math:`x \ge c` (output c).

    Example:
        >>> dltk.clippedReluLayer(1)(torch.tensor([[-1.0, 0.5, 2.0]]))
        tensor([[0.0000, 0.5000, 1.0000]])

    MATLAB: clippedReluLayer(ceiling, Name=Value)
    """

    signals = ("clipped_low", "clipped_high")
    signal_docs = {
        "clipped_low": "bool mask x < 0 (output 0), input layout",
        "clipped_high": "bool mask x >= Ceiling (output Ceiling), input layout",
    }
    matlab_name = "clippedReluLayer"
    type_name = "Clipped ReLU"
    name_prefix = "clippedrelu"
    torch_equivalent = "torch.nn.Hardtanh(0, ceiling)"
    matlab_positional = ("ceiling",)
    matlab_options = {"Ceiling": "ceiling"}

    def __init__(self, ceiling: float, *, name: str = "") -> None:
        super().__init__(name)
        self.ceiling = number("clippedReluLayer", "Ceiling", ceiling, low=0, low_open=True)

    Ceiling = matlab_property("ceiling")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ANY_LAYOUT)
        if self._recorder is not None:
            if self._wants("clipped_low"):
                self._emit("clipped_low", x < 0, lay)
            if self._wants("clipped_high"):
                self._emit("clipped_high", x >= self.ceiling, lay)
        return F.hardtanh(x, 0.0, self.ceiling)

    def description(self) -> str:
        return f"Clipped ReLU with ceiling {_g(self.ceiling)}"

    def extra_repr(self) -> str:
        return f"ceiling={self.ceiling:g}"


class ELU(Layer):
    r"""Exponential linear unit.

    Math:
        y = \begin{cases} x & x \ge 0 \\ \alpha\,(e^{x} - 1) & x < 0 \end{cases}

    where :math:`\alpha > 0` (MATLAB ``Alpha``) is the value the output approaches for very negative inputs, negated.

    Args:
        alpha: positive nonlinearity parameter (MATLAB ``alpha``/``Alpha``). Default: ``1``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Any layout, output = input: (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT. B batch, T time, C channels.

    Signals:
        ``negative`` (bool, input layout): :math:`x < 0`, the exponential branch.

    Example:
        >>> dltk.eluLayer()(torch.tensor([[0.0, 1.0]]))
        tensor([[0., 1.]])

    MATLAB: eluLayer(alpha, Name=Value)
    """

    signals = ("negative",)
    signal_docs = {"negative": "bool mask x < 0 (exponential branch), input layout"}
    matlab_name = "eluLayer"
    type_name = "ELU"
    name_prefix = "elu"
    torch_equivalent = "torch.nn.ELU"
    matlab_positional = ("alpha",)
    matlab_options = {"Alpha": "alpha"}

    def __init__(self, alpha: float = 1.0, *, name: str = "") -> None:
        super().__init__(name)
        self.alpha = number("eluLayer", "Alpha", alpha, low=0, low_open=True)

    Alpha = matlab_property("alpha")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ANY_LAYOUT)
        if self._recorder is not None and self._wants("negative"):
            self._emit("negative", x < 0, lay)
        return F.elu(x, self.alpha)

    def description(self) -> str:
        return f"ELU with Alpha {_g(self.alpha)}"

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"


class Tanh(Layer):
    r"""Hyperbolic tangent.

    Math:
        y = \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}

    where :math:`x` is any input element; outputs lie in (−1, 1).

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Any layout, output = input: (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT. B batch, T time, C channels.

    Signals: none (the output is the whole story).

    Example:
        >>> dltk.tanhLayer()(torch.zeros(1, 2))
        tensor([[0., 0.]])

    MATLAB: tanhLayer(Name=Value)
    """

    matlab_name = "tanhLayer"
    type_name = "Tanh"
    name_prefix = "tanh"
    torch_equivalent = "torch.nn.Tanh"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, ANY_LAYOUT)
        return torch.tanh(x)

    def description(self) -> str:
        return "Hyperbolic tangent"


class Sigmoid(Layer):
    r"""Logistic sigmoid.

    Math:
        y = \frac{1}{1 + e^{-x}}

    where :math:`x` is any input element; outputs lie in (0, 1).

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Any layout, output = input: (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT. B batch, T time, C channels.

    Signals: none (the output is the whole story).

    Example:
        >>> dltk.sigmoidLayer()(torch.zeros(1, 2))
        tensor([[0.5000, 0.5000]])

    MATLAB: sigmoidLayer(Name=Value)
    """

    matlab_name = "sigmoidLayer"
    type_name = "Sigmoid"
    name_prefix = "sigmoid"
    torch_equivalent = "torch.nn.Sigmoid"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, ANY_LAYOUT)
        return torch.sigmoid(x)

    def description(self) -> str:
        return "sigmoid"


class Softmax(Layer):
    r"""Softmax over the channels.

    Math:
        y_r = \frac{e^{a_r}}{\sum_{j=1}^{C} e^{a_j}}

    where :math:`a_1 … a_C` are the C channel values (logits) at one
    observation, time step and pixel; each such position is normalized
    independently, so the outputs over C are positive and sum to 1.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Any layout, output = input: (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT. B batch, T time, C channels.

    Signals:
        ``logits`` (input layout): the input :math:`a`;
        ``probabilities`` (input layout): the output :math:`y`.

    Example:
        >>> dltk.softmaxLayer()(torch.zeros(1, 4))
        tensor([[0.2500, 0.2500, 0.2500, 0.2500]])

    MATLAB: softmaxLayer(Name=Value)
    """

    signals = ("logits", "probabilities")
    signal_docs = {
        "logits": "the input a (scores before normalization), input layout",
        "probabilities": "the output, positive and summing to 1 over C, input layout",
    }
    matlab_name = "softmaxLayer"
    type_name = "Softmax"
    name_prefix = "softmax"
    torch_equivalent = "torch.nn.Softmax(dim=C axis)"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ANY_LAYOUT)
        y = F.softmax(x, dim=lay.index("C"))
        self._emit("logits", x, lay)
        self._emit("probabilities", y, lay)
        return y

    def description(self) -> str:
        return "softmax"


class PReLU(Layer):
    r"""Parametric ReLU — MATLAB's custom-layer example, written the way a student writes one.

    MATLAB: ``preluLayer(numChannels, name)`` from "Define Custom Deep Learning
    Layer with Learnable Parameters". Read it as a template for your own layer:
    subclass :class:`~dltk.layers.Layer`, declare ``signals``, create the
    learnable as an ``nn.Parameter``, check the input, emit the signals,
    return the output. Autograd supplies the backward pass.

    Math:
        y = \max(0, x) + \alpha_c \min(0, x)

    where :math:`\alpha_c` is the learnable slope of channel :math:`c` for negative inputs.

    Args:
        num_channels: number of channels C (MATLAB ``numChannels``).
        name: layer name (MATLAB ``name``, second positional argument). Default: ``''``.

    Shape:
        Output = input. (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT; C = num_channels.

    Learnables:
        Alpha: (1, 1, C) as in MATLAB (one slope per channel), ``rand`` init: U[0, 1).

    Signals:
        ``negative_part`` (input layout): :math:`\alpha_c \min(0, x)`, what the negative inputs contribute.

    Example:
        >>> layer = dltk.preluLayer(3, "prelu")
        >>> layer(torch.randn(2, 3, 5, 5)).shape
        torch.Size([2, 3, 5, 5])

    MATLAB: preluLayer(numChannels, name, Name=Value)
    """

    signals = ("negative_part",)
    signal_docs = {"negative_part": "Alpha_c * min(0, x), input layout"}
    matlab_name = "preluLayer"
    type_name = "PReLU"
    name_prefix = "prelu"
    torch_equivalent = "torch.nn.PReLU(num_parameters=C)"
    matlab_positional = ("num_channels", "name")

    def __init__(self, num_channels: int, name: str = "") -> None:
        super().__init__(name)
        self.num_channels = positive_int("preluLayer", "numChannels", num_channels)
        self.Alpha = nn.Parameter(torch.rand(1, 1, self.num_channels))  # MATLAB 1×1×C

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.Alpha.uniform_(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ANY_LAYOUT, {"C": self.num_channels})
        c = lay.index("C")
        if self._recorder is not None:
            alpha = self.Alpha.reshape([-1] + [1] * (x.ndim - c - 1))  # C, then 1 per axis after C
            self._emit("negative_part", alpha * torch.clamp(x, max=0), lay)
        # max(0, x) + alpha_c min(0, x) in one fused op (F.prelu wants C on axis 1);
        # at x = 0 its gradient is alpha_c, as torch.nn.PReLU
        if c == 1:
            return F.prelu(x, self.Alpha.reshape(-1))
        return F.prelu(x.movedim(c, 1), self.Alpha.reshape(-1)).movedim(1, c)

    def description(self) -> str:
        return f"PReLU with {self.num_channels} channels"
