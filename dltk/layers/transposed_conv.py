"""Transposed convolution layers: ``transposedConv2dLayer``, ``transposedConv3dLayer``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ..errors import OptionError
from . import _spatial as sp
from .conv import _COMMON_OPTIONS, _Convolution

__all__ = ["TransposedConv2d", "TransposedConv3d"]


class TransposedConv2d(_Convolution):
    r"""2-D transposed convolution ("deconvolution"): spread every input pixel over a filter-sized patch.

    Math:
        \hat y_{b,f,\,s_h i + u,\; s_w j + v} \mathrel{+}= \sum_c x_{b,c,i,j}\, W_{c,f,u,v},
        \qquad y = \operatorname{crop}(\hat y) + \beta_f

    where :math:`x` is the input, :math:`W` the filters, :math:`s` the stride,
    :math:`u, v` the filter taps, :math:`\hat y` the full output of height
    :math:`s_h(H-1) + k_h`, and :math:`\beta` the bias. It is the gradient of
    a convolution with the same filters with respect to its input. Cropping
    removes rows/columns from the edges of :math:`\hat y`: output height
    :math:`s_h(H-1) + k_h - c_t - c_b`.

    Args:
        filter_size: filter height and width (3-D: height, width, depth) (MATLAB ``filterSize``).
        num_filters: output channels (MATLAB ``numFilters``).
        stride: upsampling step per axis (MATLAB ``Stride``). Default: 1.
        cropping: ``c``, ``[a b]`` (a top and bottom, b left and right),
            ``[t b l r]`` (3-D: ``[a b c]`` or 2×3 ``[t l f; b r k]``), or
            ``'same'`` — output size ``stride·in``; the cropping ``k − s`` is
            split evenly, an odd extra row removed at the bottom, column at the
            right (the same rule as convolution ``'same'`` padding; needs
            FilterSize ≥ Stride) (MATLAB ``Cropping``). Default: 0.
        num_channels: input channels or ``'auto'`` (MATLAB ``NumChannels``). Default: ``'auto'``.
        weights_initializer: as :class:`Convolution2d`, with fan_in =
            prod(FilterSize)·NumChannels and fan_out = prod(FilterSize)·NumFilters
            (MATLAB ``WeightsInitializer``). Default: ``'glorot'``.
        bias_initializer: (MATLAB ``BiasInitializer``). Default: ``'zeros'``.
        weights, bias: initial values in MATLAB shape. Default: None.
        weight_learn_rate_factor, bias_learn_rate_factor: Default: 1.
        weight_l2_factor, bias_l2_factor: Default: 1 / 0.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C, H, W) -> (B, F, H', W'); MATLAB SSCB -> SSCB. Image sequences
        (B, T, C, H, W) (SSCBT) are processed per time step.

    Learnables:
        weight: (C, F, kh, kw) (PyTorch ``ConvTranspose2d`` layout), glorot.
            MATLAB ``Weights`` is the kh×kw×F×C view (filters before channels).
        bias: (F,), zeros. MATLAB ``Bias`` is the 1×1×F view.

    Signals:
        ``uncropped`` (output layout): :math:`\hat y`, before cropping and bias;
        ``pre_bias`` (output layout): the cropped response before the bias.

    Example:
        >>> up = dltk.transposedConv2dLayer(4, 8, Stride=2, Cropping="same")
        >>> up(torch.randn(1, 3, 5, 5)).shape
        torch.Size([1, 8, 10, 10])

    MATLAB: transposedConv2dLayer(filterSize, numFilters, Name=Value)
    """

    signals = ("uncropped", "pre_bias")
    signal_docs = {
        "uncropped": "full transposed-convolution result before cropping and bias, output layout",
        "pre_bias": "cropped result before the bias is added, output layout",
    }
    matlab_name = "transposedConv2dLayer"
    type_name = "Transposed Convolution"
    name_prefix = "transposed-conv"
    torch_equivalent = "torch.nn.ConvTranspose2d"
    matlab_positional = ("filter_size", "num_filters")
    matlab_options: ClassVar[dict[str, str]] = {
        **{k: v for k, v in _COMMON_OPTIONS.items() if k not in ("Padding", "PaddingValue", "DilationFactor")},
        "Cropping": "cropping",
        "NumChannels": "num_channels",
    }

    def __init__(self, filter_size: Any, num_filters: int, *, cropping: Any = 0, **options: Any) -> None:
        where = self.matlab_name
        crop = sp.parse_padding(where, cropping, self.n, option="Cropping")
        super().__init__(filter_size, num_filters, **options)
        self.cropping = crop
        if crop == "same" and any(k < s for k, s in zip(self.filter_size, self.stride)):
            raise OptionError(
                f"{where}: Cropping 'same' needs FilterSize >= Stride on every axis, got FilterSize "
                f"{sp.vector(self.FilterSize)} and Stride {sp.vector(self.Stride)}."
            )

    def _channels_from_weights(self, shape: torch.Size) -> int:
        return int(shape[self.n + 1])

    def _weight_shape(self) -> tuple[int, ...]:
        return (self.num_channels, self.num_filters, *self.filter_size)

    def _fans(self) -> tuple[int, int]:
        k = math.prod(self.filter_size)
        return k * self.num_channels, k * self.num_filters

    @property
    def Cropping(self) -> Any:  # noqa: N802
        """MATLAB ``Cropping``: 'same', [t b l r] or 2×3 [t l f; b r k]."""
        return sp.padding_matlab(self.cropping)

    def crops_for(self) -> sp.Pads:
        """(before, after) cropping per spatial axis (torch order)."""
        if self.cropping == "same":
            return tuple(((k - s) // 2, (k - s) - (k - s) // 2) for k, s in zip(self.filter_size, self.stride))
        return self.cropping

    @property
    def Weights(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Weights`` kh×kw(×kd)×F×C: a view of ``weight`` (C, F, …)."""
        if self.weight is None:
            return None
        w = self.weight.detach()
        return w.permute(2, 3, 1, 0) if self.n == 2 else w.permute(3, 4, 2, 1, 0)

    @Weights.setter
    def Weights(self, value: Any) -> None:  # noqa: N802
        self._set_view(self.Weights, value, "Weights")

    @property
    def Bias(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Bias`` 1×1(×1)×F."""
        return None if self.bias is None else self.bias.detach().view(*[1] * self.n, -1)

    @Bias.setter
    def Bias(self, value: Any) -> None:  # noqa: N802
        self._set_view(self.Bias, value, "Bias")

    def _tconv(self, x: torch.Tensor, bias: torch.Tensor | None, padding: Any) -> torch.Tensor:
        fn = F.conv_transpose2d if self.n == 2 else F.conv_transpose3d
        return fn(x, self.weight, bias, self.stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        known = None if self.num_channels == "auto" else self.num_channels
        lay = self._check_input(x, self.layouts, {"C": known})
        z = sp.fold_time(x, lay)
        if self.weight is None:
            self._materialize(z.shape[1], z.dtype, z.device)
        crops = self.crops_for()
        full = [s * (n - 1) + k for n, k, s in zip(z.shape[2:], self.filter_size, self.stride)]
        if any(f - b - a < 1 for f, (b, a) in zip(full, crops)):
            raise self._fail(
                f"an input large enough for Cropping {sp.padding_text(self.cropping)}",
                x,
                f"the uncropped output {tuple(full)} would be cropped to nothing",
            )
        if self._recorder is None:
            common = tuple(min(b, a) for b, a in crops)  # torch crops symmetrically itself
            y = self._tconv(z, self.bias, common)
            rest = tuple((b - c, a - c) for (b, a), c in zip(crops, common))
            return sp.unfold_time(_crop(y, rest), x, lay)
        full_y = self._tconv(z, None, 0)
        self._emit("uncropped", sp.unfold_time(full_y, x, lay), lay)
        pre = _crop(full_y, crops)
        self._emit("pre_bias", sp.unfold_time(pre, x, lay), lay)
        return sp.unfold_time(pre + self.bias.view(-1, *[1] * self.n), x, lay)

    def description(self) -> str:
        return (
            f"{self.num_filters} {sp.times(self.FilterSize)} transposed convolutions with stride "
            f"{sp.vector(self.Stride)} and cropping {sp.padding_text(self.cropping)}"
        )

    def extra_repr(self) -> str:
        return (
            f"filter_size={self.FilterSize}, num_filters={self.num_filters}, num_channels={self.num_channels!r}, "
            f"stride={self.Stride}, cropping={sp.padding_text(self.cropping)}"
        )


class TransposedConv3d(TransposedConv2d):
    r"""3-D transposed convolution: the 3-D version of :class:`TransposedConv2d`.

    Math:
        \hat y_{b,f,\,s_d i + t,\; s_h j + u,\; s_w l + v} \mathrel{+}= \sum_c x_{b,c,i,j,l}\, W_{c,f,t,u,v},
        \qquad y = \operatorname{crop}(\hat y) + \beta_f

    where the symbols are those of :class:`TransposedConv2d` with a depth
    axis. Options use MATLAB order (height, width, depth); tensor axes are
    (depth, height, width). Args are those of :class:`TransposedConv2d`
    (``Cropping`` as ``c``, ``[a b c]`` or 2×3 ``[t l f; b r k]``, or ``'same'``).
    Default cropping: 0.

    Shape:
        (B, C, D, H, W) -> (B, F, D', H', W'); MATLAB SSSCB -> SSSCB.

    Learnables:
        weight: (C, F, kd, kh, kw), glorot. MATLAB ``Weights`` is the kh×kw×kd×F×C view.
        bias: (F,), zeros. MATLAB ``Bias`` is the 1×1×1×F view.

    Signals:
        ``uncropped`` and ``pre_bias`` (BCDHW), as in 2-D.

    Example:
        >>> dltk.transposedConv3dLayer(2, 4, Stride=2)(torch.randn(1, 3, 2, 3, 4)).shape
        torch.Size([1, 4, 4, 6, 8])

    MATLAB: transposedConv3dLayer(filterSize, numFilters, Name=Value)
    """

    n = 3
    layouts = ("BCDHW",)
    matlab_name = "transposedConv3dLayer"
    type_name = "3-D Transposed Convolution"
    torch_equivalent = "torch.nn.ConvTranspose3d"


def _crop(y: torch.Tensor, crops: sp.Pads) -> torch.Tensor:
    """Remove (before, after) rows per spatial axis (torch order) from the end axes of ``y``."""
    n = len(crops)
    index = [slice(None)] * (y.ndim - n) + [slice(b, y.shape[y.ndim - n + k] - a) for k, (b, a) in enumerate(crops)]
    return y[tuple(index)]
