"""Convolution layers: ``convolution2dLayer``, ``convolution3dLayer``.

Every convolution shares :class:`_Convolution` (options, lazy parameters,
padding, forward with signals); each subclass adds its MATLAB-shaped
``Weights`` / ``Bias`` views and its description. Grouped convolution lives in
``grouped_conv.py``, transposed convolutions in ``transposed_conv.py``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..options import positive_int
from . import _spatial as sp
from . import initializers as init
from .base import Layer, matlab_property

__all__ = ["Convolution2d", "Convolution3d"]

_COMMON_OPTIONS = {
    "Stride": "stride",
    "DilationFactor": "dilation_factor",
    "Padding": "padding",
    "PaddingValue": "padding_value",
    "WeightsInitializer": "weights_initializer",
    "BiasInitializer": "bias_initializer",
    "Weights": "weights",
    "Bias": "bias",
    "WeightLearnRateFactor": "weight_learn_rate_factor",
    "BiasLearnRateFactor": "bias_learn_rate_factor",
    "WeightL2Factor": "weight_l2_factor",
    "BiasL2Factor": "bias_l2_factor",
}


def check_fits(layer: Layer, x: torch.Tensor, padded: tuple[int, ...], window: tuple[int, ...], what: str) -> None:
    """Raise a clear LayerInputError when a window is bigger than the padded input."""
    if all(p >= w for p, w in zip(padded, window)):
        return
    axes = "height, width" if len(window) == 2 else "depth, height, width"
    raise layer._fail(
        f"spatial sizes ({axes}) of at least {tuple(window)} after padding, to fit the {what}",
        x,
        f"padded spatial size is {tuple(padded)}",
    )


class _Convolution(sp.SlidingWindowOptions, Layer):
    """Shared machinery of the 2-D/3-D (grouped) convolutions; see the subclasses."""

    n: ClassVar[int] = 2
    layouts: ClassVar[tuple[str, ...]] = ("BCHW", "BTCHW")
    signals = ("padded_input", "pre_bias")
    signal_docs = {
        "padded_input": "the input after padding: what the filters slide over, same layout as the input",
        "pre_bias": "filter responses before the bias is added, same layout as the output",
    }
    name_prefix = "conv"

    def __init__(
        self,
        filter_size: Any,
        num_filters: int,
        *,
        stride: Any = 1,
        dilation_factor: Any = 1,
        padding: Any = 0,
        padding_value: Any = 0,
        num_channels: int | str = "auto",
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
        where, n = self.matlab_name, self.n
        self.filter_size = sp.sizes(where, "FilterSize", filter_size, n)  # torch order
        self.num_filters = positive_int(where, "NumFilters", num_filters)
        self.stride = sp.sizes(where, "Stride", stride, n)
        self.dilation_factor = sp.sizes(where, "DilationFactor", dilation_factor, n)
        self.padding = sp.parse_padding(where, padding, n)
        self.padding_value = sp.parse_padding_value(where, padding_value)
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
        if isinstance(num_channels, str) and num_channels.lower() == "auto":
            self.num_channels: int | str = "auto"
            if weights is not None:  # MATLAB infers NumChannels from given Weights
                self.num_channels = self._channels_from_weights(torch.as_tensor(weights).shape)
        else:
            self.num_channels = positive_int(where, "NumChannels", num_channels)
        if self.num_channels != "auto":
            self._materialize(self.num_channels)

    # ------------------------------------------------------------ subclass API
    groups: int = 1

    def _channels_from_weights(self, shape: torch.Size) -> int:
        return int(shape[self.n])

    def _weight_shape(self) -> tuple[int, ...]:
        return (self.num_filters, self.num_channels // self.groups, *self.filter_size)

    def _fans(self) -> tuple[int, int]:
        k = math.prod(self.filter_size)
        return k * self.num_channels // self.groups, k * self.num_filters // self.groups

    # ---------------------------------------------------------------- params
    def _materialize(self, channels: int, dtype: torch.dtype | None = None, device: Any = None) -> None:
        self.num_channels = channels
        dtype = dtype or torch.get_default_dtype()
        self.weight = nn.Parameter(torch.empty(self._weight_shape(), dtype=dtype, device=device))
        self.bias = nn.Parameter(torch.empty(self.num_filters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialize with the layer's initializers (or given MATLAB-shaped Weights/Bias)."""
        fan_in, fan_out = self._fans()
        w0, b0 = self._initial
        with torch.no_grad():
            self.weight.copy_(init.make(self.weights_initializer, self.weight.shape, fan_in, fan_out))
            self.bias.copy_(init.make(self.bias_initializer, self.bias.shape, fan_in, fan_out))
            if w0 is not None:
                self.Weights = w0
            if b0 is not None:
                self.Bias = b0

    def setup(self, example_inputs: list[torch.Tensor], layouts: list[str | None]) -> None:
        super().setup(example_inputs, layouts)
        x = example_inputs[0]
        lay = layouts[0] if layouts and layouts[0] else self._layout_of(x)
        if self.weight is None and lay in self.layouts:
            self._materialize(int(x.shape[lay.index("C")]), x.dtype, x.device)

    def _set_view(self, view: torch.Tensor | None, value: Any, what: str) -> None:
        if view is None:
            raise ValueError(f"{self.matlab_name}: {what} do not exist until NumChannels is known (first call).")
        with torch.no_grad():
            view.copy_(torch.as_tensor(value, dtype=view.dtype).reshape(view.shape))

    # ---------------------------------------------------------- MATLAB views
    NumFilters = matlab_property("num_filters", readonly=True)
    NumChannels = matlab_property("num_channels", readonly=True)
    PaddingValue = matlab_property("padding_value", readonly=True)
    WeightsInitializer = matlab_property("weights_initializer")
    BiasInitializer = matlab_property("bias_initializer")
    WeightLearnRateFactor = matlab_property("weight_learn_rate_factor")
    BiasLearnRateFactor = matlab_property("bias_learn_rate_factor")
    WeightL2Factor = matlab_property("weight_l2_factor")
    BiasL2Factor = matlab_property("bias_l2_factor")

    @property
    def FilterSize(self) -> tuple[int, ...]:
        """MATLAB ``FilterSize`` ([h w] or [h w d])."""
        return sp.to_matlab_order(self.filter_size)

    @property
    def DilationFactor(self) -> tuple[int, ...]:
        return sp.to_matlab_order(self.dilation_factor)

    # ---------------------------------------------------------------- forward
    def pads_for(self, in_sizes: tuple[int, ...]) -> sp.Pads:
        """(before, after) padding per spatial axis (torch order) for an input of ``in_sizes``."""
        if self.padding == "same":
            return sp.same_pads(in_sizes, sp.effective(self.filter_size, self.dilation_factor), self.stride)
        return self.padding

    def _conv(self, x: torch.Tensor, bias: torch.Tensor | None, padding: Any) -> torch.Tensor:
        fn = F.conv2d if self.n == 2 else F.conv3d
        return fn(x, self.weight, bias, self.stride, padding, self.dilation_factor, self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        known = None if self.num_channels == "auto" else self.num_channels
        lay = self._check_input(x, self.layouts, {"C": known})
        z = sp.fold_time(x, lay)  # image sequences: every time step is an image
        self._check_groups(x, z.shape[1])
        if self.weight is None:
            self._materialize(z.shape[1], z.dtype, z.device)
        pads = self.pads_for(tuple(z.shape[2:]))
        eff = sp.effective(self.filter_size, self.dilation_factor)
        check_fits(self, x, tuple(s + b + a for s, (b, a) in zip(z.shape[2:], pads)), eff, "dilated filter")
        if self._recorder is None:
            if self.padding_value == 0 and all(b == a for b, a in pads):  # torch pads symmetric zeros itself
                return sp.unfold_time(self._conv(z, self.bias, tuple(b for b, _ in pads)), x, lay)
            return sp.unfold_time(self._conv(sp.pad(z, pads, self.padding_value), self.bias, 0), x, lay)
        padded = sp.pad(z, pads, self.padding_value)
        self._emit("padded_input", sp.unfold_time(padded, x, lay), lay)
        pre = self._conv(padded, None, 0)  # (B, F, H', W')
        self._emit("pre_bias", sp.unfold_time(pre, x, lay), lay)
        y = pre + self.bias.view(-1, *[1] * self.n)
        return sp.unfold_time(y, x, lay)

    def _check_groups(self, x: torch.Tensor, channels: int) -> None:
        pass

    def _describe_tail(self) -> str:
        dil = "" if set(self.dilation_factor) == {1} else f", dilation {sp.vector(self.DilationFactor)}"
        return f"with stride {sp.vector(self.Stride)} and padding {sp.padding_text(self.padding)}{dil}"

    def extra_repr(self) -> str:
        return (
            f"filter_size={self.FilterSize}, num_filters={self.num_filters}, num_channels={self.num_channels!r}, "
            f"stride={self.Stride}, padding={sp.padding_text(self.padding)}, padding_value={self.padding_value!r}"
        )


class Convolution2d(_Convolution):
    r"""2-D convolution: slide filters over an image, add a bias.

    Math:
        y_{b,f,i,j} = \beta_f + \sum_{c}\sum_{u,v} W_{f,c,u,v}\,
        \tilde x_{b,c,\,s_h i + d_h u,\; s_w j + d_w v}

    where :math:`\tilde x` is the padded input, :math:`W` the filters
    (cross-correlation: no kernel flip), :math:`\beta` the bias,
    :math:`s` the stride, :math:`d` the dilation factor, :math:`f` the filter,
    :math:`c` the input channel and :math:`i, j` the output position. Output
    height :math:`\lfloor (H + p_t + p_b - (d_h(k_h-1)+1)) / s_h\rfloor + 1`.
    A 2-D image sequence is convolved at every time step independently.
    Args:
        filter_size: filter height and width (3-D: height, width, depth), a
            scalar or a vector (MATLAB ``filterSize``).
        num_filters: number of filters = output channels (MATLAB ``numFilters``).
        stride: step of the filter per axis, MATLAB order (MATLAB ``Stride``). Default: 1.
        dilation_factor: spacing between filter taps (MATLAB ``DilationFactor``). Default: 1.
        padding: ``p``, ``[a b]`` (a top and bottom, b left and right),
            ``[t b l r]`` (3-D: ``[a b c]`` or 2×3 ``[t l f; b r k]``), or
            ``'same'`` — output size ``ceil(in/stride)``, the padding split
            evenly and an odd extra row at the bottom, column at the right,
            slice at the back (MATLAB ``Padding``). Default: 0.
        padding_value: a number, ``'symmetric-include-edge'``,
            ``'symmetric-exclude-edge'`` or ``'replicate'`` (MATLAB
            ``PaddingValue``). Default: 0.
        num_channels: input channels, or ``'auto'`` to infer them from the first
            input (MATLAB ``NumChannels``). Default: ``'auto'``.
        weights_initializer: ``'glorot'``, ``'he'``, ``'narrow-normal'``,
            ``'zeros'``, ``'ones'`` or a callable ``fn(torch_shape)`` (MATLAB
            ``WeightsInitializer``). Default: ``'glorot'``.
        bias_initializer: ``'zeros'``, ``'narrow-normal'``, ``'ones'`` or a
            callable (MATLAB ``BiasInitializer``). Default: ``'zeros'``.
        weights, bias: initial values in MATLAB shape (MATLAB ``Weights``/``Bias``). Default: None.
        weight_learn_rate_factor, bias_learn_rate_factor: Default: 1.
        weight_l2_factor, bias_l2_factor: MATLAB ``WeightL2Factor`` (default 1)
            / ``BiasL2Factor`` (default 0).
        name: layer name (MATLAB ``Name``). Default: ``''``.
    Shape:
        =====================  ==============================  ================
        input                  dltk                            MATLAB
        =====================  ==============================  ================
        2-D image              (B, C, H, W) -> (B, F, H', W')  SSCB -> SSCB
        2-D image sequence     (B, T, C, H, W) -> (B, T, F, …)  SSCBT -> SSCBT
        =====================  ==============================  ================

        B batch, T time, C channels, F = NumFilters, H' W' as above.

    Learnables:
        weight: (F, C, kh, kw), glorot with fan_in = kh·kw·C, fan_out = kh·kw·F.
            MATLAB ``Weights`` is the kh×kw×C×F view of the same storage (writable).
        bias: (F,), zeros. MATLAB ``Bias`` is the 1×1×F view.

    Signals:
        ``padded_input`` (input layout): what the filters slide over;
        ``pre_bias`` (output layout): filter responses before the bias.

    Example:
        >>> conv = dltk.convolution2dLayer(5, 20, Padding="same")
        >>> conv(torch.randn(2, 3, 28, 28)).shape
        torch.Size([2, 20, 28, 28])

    MATLAB: convolution2dLayer(filterSize, numFilters, Name=Value)
    """

    matlab_name = "convolution2dLayer"
    type_name = "Convolution"
    torch_equivalent = "torch.nn.Conv2d"
    matlab_positional = ("filter_size", "num_filters")
    matlab_options = {**_COMMON_OPTIONS, "NumChannels": "num_channels"}

    @property
    def Weights(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Weights`` kh×kw×C×F: a view of ``weight`` (F, C, kh, kw)."""
        return None if self.weight is None else self.weight.detach().permute(2, 3, 1, 0)

    @Weights.setter
    def Weights(self, value: Any) -> None:  # noqa: N802
        self._set_view(self.Weights, value, "Weights")

    @property
    def Bias(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Bias`` 1×1×F: a view of ``bias``."""
        return None if self.bias is None else self.bias.detach().view(1, 1, -1)

    @Bias.setter
    def Bias(self, value: Any) -> None:  # noqa: N802
        self._set_view(self.Bias, value, "Bias")

    def description(self) -> str:
        ch = "" if self.num_channels == "auto" else f"×{self.num_channels}"
        return f"{self.num_filters} {sp.times(self.FilterSize)}{ch} convolutions {self._describe_tail()}"


class Convolution3d(Convolution2d):
    r"""3-D convolution: slide 3-D filters over a volume, add a bias.

    Math:
        y_{b,f,i,j,l} = \beta_f + \sum_{c}\sum_{t,u,v} W_{f,c,t,u,v}\,
        \tilde x_{b,c,\,s_d i + d_d t,\; s_h j + d_h u,\; s_w l + d_w v}

    where the symbols are those of :class:`Convolution2d` with a depth axis
    added. Sizes in options are in MATLAB order (height, width, depth); the
    tensor axes are (depth, height, width).
    Args:
        filter_size: filter height and width (3-D: height, width, depth), a
            scalar or a vector (MATLAB ``filterSize``).
        num_filters: number of filters = output channels (MATLAB ``numFilters``).
        stride: step of the filter per axis, MATLAB order (MATLAB ``Stride``). Default: 1.
        dilation_factor: spacing between filter taps (MATLAB ``DilationFactor``). Default: 1.
        padding: ``p``, ``[a b]`` (a top and bottom, b left and right),
            ``[t b l r]`` (3-D: ``[a b c]`` or 2×3 ``[t l f; b r k]``), or
            ``'same'`` — output size ``ceil(in/stride)``, the padding split
            evenly and an odd extra row at the bottom, column at the right,
            slice at the back (MATLAB ``Padding``). Default: 0.
        padding_value: a number, ``'symmetric-include-edge'``,
            ``'symmetric-exclude-edge'`` or ``'replicate'`` (MATLAB
            ``PaddingValue``). Default: 0.
        num_channels: input channels, or ``'auto'`` to infer them from the first
            input (MATLAB ``NumChannels``). Default: ``'auto'``.
        weights_initializer: ``'glorot'``, ``'he'``, ``'narrow-normal'``,
            ``'zeros'``, ``'ones'`` or a callable ``fn(torch_shape)`` (MATLAB
            ``WeightsInitializer``). Default: ``'glorot'``.
        bias_initializer: ``'zeros'``, ``'narrow-normal'``, ``'ones'`` or a
            callable (MATLAB ``BiasInitializer``). Default: ``'zeros'``.
        weights, bias: initial values in MATLAB shape (MATLAB ``Weights``/``Bias``). Default: None.
        weight_learn_rate_factor, bias_learn_rate_factor: Default: 1.
        weight_l2_factor, bias_l2_factor: MATLAB ``WeightL2Factor`` (default 1)
            / ``BiasL2Factor`` (default 0).
        name: layer name (MATLAB ``Name``). Default: ``''``.
    Shape:
        (B, C, D, H, W) -> (B, F, D', H', W'); MATLAB SSSCB h×w×d×C×B -> SSSCB.

    Learnables:
        weight: (F, C, kd, kh, kw), glorot with fan_in = kh·kw·kd·C, fan_out = kh·kw·kd·F.
            MATLAB ``Weights`` is the kh×kw×kd×C×F view (writable).
        bias: (F,), zeros. MATLAB ``Bias`` is the 1×1×1×F view.

    Signals:
        ``padded_input`` (BCDHW), ``pre_bias`` (BCDHW).

    Example:
        >>> dltk.convolution3dLayer(3, 8)(torch.randn(1, 2, 5, 6, 7)).shape
        torch.Size([1, 8, 3, 4, 5])

    MATLAB: convolution3dLayer(filterSize, numFilters, Name=Value)
    """

    n = 3
    layouts = ("BCDHW",)
    matlab_name = "convolution3dLayer"
    type_name = "3-D Convolution"
    torch_equivalent = "torch.nn.Conv3d"

    @property
    def Weights(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Weights`` kh×kw×kd×C×F: a view of ``weight`` (F, C, kd, kh, kw)."""
        return None if self.weight is None else self.weight.detach().permute(3, 4, 2, 1, 0)

    @Weights.setter
    def Weights(self, value: Any) -> None:  # noqa: N802
        self._set_view(self.Weights, value, "Weights")

    @property
    def Bias(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Bias`` 1×1×1×F."""
        return None if self.bias is None else self.bias.detach().view(1, 1, 1, -1)

    @Bias.setter
    def Bias(self, value: Any) -> None:  # noqa: N802
        self._set_view(self.Bias, value, "Bias")
