"""Pooling layers: average, max, global, max-unpooling (2-D/3-D) and ROI max pooling.

Window pooling shares :class:`_Pooling` (pool size, stride, padding with
MATLAB's ``'same'`` rule). Global pooling is in ``global_pooling.py``, ROI max
pooling in ``roi_pooling.py``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ..errors import LayerInputError, OptionError
from ..options import choice, flag
from . import _spatial as sp
from .base import Layer, matlab_property
from .conv import check_fits

__all__ = [
    "AveragePooling2d", "AveragePooling3d", "MaxPooling2d", "MaxPooling3d",
    "MaxUnpooling2d",
]  # fmt: skip


class _Pooling(sp.SlidingWindowOptions, Layer):
    """Pool size, stride and padding shared by average and max pooling."""

    n: ClassVar[int] = 2
    layouts: ClassVar[tuple[str, ...]] = ("BCHW", "BTCHW")
    kind: ClassVar[str] = "max"
    matlab_positional = ("pool_size",)
    matlab_options = {"Stride": "stride", "Padding": "padding"}

    def __init__(self, pool_size: Any, *, stride: Any = 1, padding: Any = 0, name: str = "") -> None:
        super().__init__(name)
        where = self.matlab_name
        self.pool_size = sp.sizes(where, "PoolSize", pool_size, self.n)  # torch order
        self.stride = sp.sizes(where, "Stride", stride, self.n)
        self.padding = sp.parse_padding(where, padding, self.n)
        if self.padding != "same" and any(max(p) >= k for p, k in zip(self.padding, self.pool_size)):
            raise OptionError(
                f"{where}: Padding must be smaller than the pool size {sp.vector(self.PoolSize)}, "
                f"got {sp.padding_text(self.padding)}."
            )

    @property
    def PoolSize(self) -> tuple[int, ...]:
        return sp.to_matlab_order(self.pool_size)

    def pads_for(self, in_sizes: tuple[int, ...]) -> sp.Pads:
        """(before, after) padding per spatial axis (torch order)."""
        return sp.same_pads(in_sizes, self.pool_size, self.stride) if self.padding == "same" else self.padding

    def _prepare(self, x: torch.Tensor) -> tuple[str, torch.Tensor, sp.Pads, bool]:
        """Check ``x``; return layout, the time-folded input, pads and whether torch can pad itself."""
        lay = self._check_input(x, self.layouts)
        z = sp.fold_time(x, lay)
        pads = self.pads_for(tuple(z.shape[2:]))
        check_fits(self, x, tuple(s + b + a for s, (b, a) in zip(z.shape[2:], pads)), self.pool_size, "pool")
        native = all(b == a and 2 * b <= k for (b, a), k in zip(pads, self.pool_size))
        return lay, z, pads, native

    def description(self) -> str:
        return (
            f"{sp.times(self.PoolSize)} {self.kind} pooling with stride {sp.vector(self.Stride)} "
            f"and padding {sp.padding_text(self.padding)}"
        )

    def extra_repr(self) -> str:
        return f"pool_size={self.PoolSize}, stride={self.Stride}, padding={sp.padding_text(self.padding)}"


class AveragePooling2d(_Pooling):
    r"""2-D average pooling: the mean of every pooling window.

    Math:
        y_{b,c,i,j} = \frac{1}{N_{ij}} \sum_{u<k_h,\,v<k_w} \tilde x_{b,c,\,s_h i+u,\; s_w j+v}

    where :math:`\tilde x` is the zero-padded input, :math:`k` the pool size,
    :math:`s` the stride and :math:`N_{ij}` the divisor: :math:`k_h k_w`
    (padding zeros count in the mean, ``PaddingValue=0``) or the number of
    real (non-padding) elements in the window (``PaddingValue='mean'``).

    Args:
        pool_size: window height and width, scalar or vector (MATLAB ``poolSize``).
        stride: step per axis (MATLAB ``Stride``). Default: 1 (MATLAB's default ``[1 1]``).
        padding: ``p``, ``[a b]``, ``[t b l r]`` or ``'same'`` (output
            ``ceil(in/stride)``, odd extra at the bottom/right) (MATLAB ``Padding``). Default: 0.
        padding_value: ``0`` or ``'mean'`` (MATLAB ``PaddingValue``). Default: 0.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C, H, W) -> (B, C, H', W'), H' = ⌊(H + p_t + p_b − k_h)/s_h⌋ + 1;
        MATLAB SSCB -> SSCB. Image sequences (B, T, C, H, W) SSCBT are pooled per time step.

    Learnables: none.

    Signals:
        ``window_mean`` (output layout): the window means (= the output);
        ``window_count`` (1, 1, H', W'): number of real input elements in each window.

    Example:
        >>> dltk.averagePooling2dLayer(2, Stride=2)(torch.randn(1, 3, 6, 6)).shape
        torch.Size([1, 3, 3, 3])

    MATLAB: averagePooling2dLayer(poolSize, Name=Value)
    """

    signals = ("window_mean", "window_count")
    signal_docs = {
        "window_mean": "mean of every window (= the output), output layout",
        "window_count": "number of real (non-padding) input elements per window, (1, 1, H', W')",
    }
    kind = "average"
    matlab_name = "averagePooling2dLayer"
    type_name = "Average Pooling"
    name_prefix = "avgpool"
    torch_equivalent = "torch.nn.AvgPool2d"
    matlab_options = {**_Pooling.matlab_options, "PaddingValue": "padding_value"}

    def __init__(self, pool_size: Any, *, padding_value: Any = 0, **options: Any) -> None:
        super().__init__(pool_size, **options)
        if isinstance(padding_value, str):
            self.padding_value: float | str = choice(self.matlab_name, "PaddingValue", padding_value, ("mean",))
        elif padding_value == 0:
            self.padding_value = 0.0
        else:
            raise OptionError(f"{self.matlab_name}: PaddingValue must be 0 or 'mean', got {padding_value!r}.")

    PaddingValue = matlab_property("padding_value", readonly=True)

    def _avg(self, x: torch.Tensor, padding: Any = 0) -> torch.Tensor:
        fn = F.avg_pool2d if self.n == 2 else F.avg_pool3d
        return fn(x, self.pool_size, self.stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay, z, pads, native = self._prepare(x)
        zero = self.padding_value == 0
        if self._recorder is None and zero and native:
            return sp.unfold_time(self._avg(z, tuple(b for b, _ in pads)), x, lay)
        y = self._avg(sp.pad(z, pads))  # (B, C, H', W'), zeros counted
        need_count = not zero or self._wants("window_count")
        if need_count:
            real = sp.pad(z.new_ones(1, 1, *z.shape[2:]), pads)
            frac = self._avg(real)  # (1, 1, H', W'): share of real elements per window
            if not zero:
                y = y / frac
            self._emit("window_count", (frac * float(math.prod(self.pool_size))).round(), None)
        y = sp.unfold_time(y, x, lay)
        self._emit("window_mean", y, lay)
        return y


class AveragePooling3d(AveragePooling2d):
    r"""3-D average pooling: the mean of every 3-D pooling window.

    Math:
        y_{b,c,i,j,l} = \frac{1}{N_{ijl}} \sum_{t,u,v} \tilde x_{b,c,\,s_d i+t,\; s_h j+u,\; s_w l+v}

    where the symbols are those of :class:`AveragePooling2d` with a depth axis.
    Args as :class:`AveragePooling2d`; sizes in MATLAB order [h w d]; Padding
    ``p``, ``[a b c]``, 2×3 ``[t l f; b r k]`` or ``'same'``. Default stride 1, padding 0.

    Shape:
        (B, C, D, H, W) -> (B, C, D', H', W'); MATLAB SSSCB -> SSSCB.

    Learnables: none.

    Signals:
        ``window_mean`` (BCDHW), ``window_count`` (1, 1, D', H', W').

    Example:
        >>> dltk.averagePooling3dLayer(2, Stride=2)(torch.randn(1, 3, 4, 4, 4)).shape
        torch.Size([1, 3, 2, 2, 2])

    MATLAB: averagePooling3dLayer(poolSize, Name=Value)
    """

    n = 3
    layouts = ("BCDHW",)
    matlab_name = "averagePooling3dLayer"
    type_name = "3-D Average Pooling"
    torch_equivalent = "torch.nn.AvgPool3d"


class MaxPooling2d(_Pooling):
    r"""2-D max pooling: the largest value of every pooling window.

    Math:
        y_{b,c,i,j} = \max_{u<k_h,\,v<k_w} \tilde x_{b,c,\,s_h i+u,\; s_w j+v}

    where :math:`\tilde x` is the input padded with :math:`-\infty` (padding
    never wins), :math:`k` the pool size and :math:`s` the stride. The gradient
    flows only to the winning element of each window (the first one in
    row-major order when several tie, as in PyTorch).

    Args:
        pool_size: window height and width (MATLAB ``poolSize``).
        stride: step per axis (MATLAB ``Stride``). Default: 1 (MATLAB's default ``[1 1]``).
        padding: ``p``, ``[a b]``, ``[t b l r]`` or ``'same'`` (MATLAB ``Padding``). Default: 0.
        has_unpooling_outputs: also return ``indices`` and ``size`` for
            ``maxUnpooling2dLayer`` (MATLAB ``HasUnpoolingOutputs``). Default: False.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C, H, W) -> (B, C, H', W'), H' = ⌊(H + p_t + p_b − k_h)/s_h⌋ + 1;
        MATLAB SSCB -> SSCB; image sequences (B, T, C, H, W) per time step.
        With unpooling outputs: ``out``, ``indices`` (B, C, H', W') int64,
        ``size`` (4,) int64 = the input shape (B, C, H, W).

    Learnables: none.

    Signals:
        ``indices`` (output layout, int64): flat index ``h·W + w`` of each
        window's winner in its (unpadded) H×W input plane, as PyTorch's
        ``max_pool2d(return_indices=True)`` (0-based);
        ``window_max`` (output layout): the window maxima (= the output);
        ``switch_mask`` (input layout): for every input element, the number of
        windows it wins (0 = never selected; 1 everywhere a window picked it
        when windows do not overlap).

    Example:
        >>> dltk.maxPooling2dLayer(2, Stride=2)(torch.randn(1, 3, 6, 6)).shape
        torch.Size([1, 3, 3, 3])

    MATLAB: maxPooling2dLayer(poolSize, Name=Value)
    """

    signals = ("indices", "window_max", "switch_mask")
    signal_docs = {
        "indices": "flat H·W index (0-based, unpadded plane) of each window's winner, int64, output layout",
        "window_max": "maximum of every window (= the output), output layout",
        "switch_mask": "how many windows each input element wins, input layout",
    }
    kind = "max"
    matlab_name = "maxPooling2dLayer"
    type_name = "Max Pooling"
    name_prefix = "maxpool"
    torch_equivalent = "torch.nn.MaxPool2d"
    matlab_options = {**_Pooling.matlab_options, "HasUnpoolingOutputs": "has_unpooling_outputs"}

    def __init__(self, pool_size: Any, *, has_unpooling_outputs: bool = False, **options: Any) -> None:
        super().__init__(pool_size, **options)
        self.has_unpooling_outputs = flag(self.matlab_name, "HasUnpoolingOutputs", has_unpooling_outputs)

    HasUnpoolingOutputs = matlab_property("has_unpooling_outputs", readonly=True)

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("out", "indices", "size") if self.has_unpooling_outputs else ("out",)

    def _max(self, x: torch.Tensor, padding: Any, indices: bool) -> Any:
        fn = F.max_pool2d if self.n == 2 else F.max_pool3d
        return fn(x, self.pool_size, self.stride, padding, return_indices=indices)

    def forward(self, x: torch.Tensor) -> Any:
        lay, z, pads, native = self._prepare(x)
        need = self.has_unpooling_outputs or self._recorder is not None
        if not need:
            if native:
                return sp.unfold_time(self._max(z, tuple(b for b, _ in pads), False), x, lay)
            return sp.unfold_time(self._max(sp.pad(z, pads, -torch.inf), 0, False), x, lay)
        if native:
            y, idx = self._max(z, tuple(b for b, _ in pads), True)
        else:
            padded = sp.pad(z, pads, -torch.inf)
            y, idx = self._max(padded, 0, True)
            idx = _unpad_index(idx, padded.shape[2:], z.shape[2:], pads)
        if self._recorder is not None:
            self._emit("indices", sp.unfold_time(idx, x, lay), lay)
            self._emit("window_max", sp.unfold_time(y, x, lay), lay)
            if self._wants("switch_mask"):
                self._reserve(z.numel() * z.element_size(), "signal 'switch_mask'")
                wins = z.new_zeros(z.shape[:2].numel(), z.shape[2:].numel())
                wins.scatter_add_(1, idx.flatten(2).flatten(0, 1), torch.ones_like(y).flatten(2).flatten(0, 1))
                self._emit("switch_mask", sp.unfold_time(wins.view(z.shape), x, lay), lay)
        y, idx = sp.unfold_time(y, x, lay), sp.unfold_time(idx, x, lay)
        if self.has_unpooling_outputs:
            return y, idx, torch.tensor(tuple(x.shape), dtype=torch.int64, device=x.device)
        return y


class MaxPooling3d(MaxPooling2d):
    r"""3-D max pooling: the largest value of every 3-D window.

    Math:
        y_{b,c,i,j,l} = \max_{t,u,v} \tilde x_{b,c,\,s_d i+t,\; s_h j+u,\; s_w l+v}

    where the symbols are those of :class:`MaxPooling2d` with a depth axis.
    Args as :class:`MaxPooling2d` without unpooling outputs; sizes in MATLAB
    order [h w d]. Default stride 1, padding 0.

    Shape:
        (B, C, D, H, W) -> (B, C, D', H', W'); MATLAB SSSCB -> SSSCB.

    Learnables: none.

    Signals:
        ``indices`` (flat D·H·W index), ``window_max``, ``switch_mask``.

    Example:
        >>> dltk.maxPooling3dLayer(2, Stride=2)(torch.randn(1, 3, 4, 4, 4)).shape
        torch.Size([1, 3, 2, 2, 2])

    MATLAB: maxPooling3dLayer(poolSize, Name=Value)
    """

    n = 3
    layouts = ("BCDHW",)
    matlab_name = "maxPooling3dLayer"
    type_name = "3-D Max Pooling"
    torch_equivalent = "torch.nn.MaxPool3d"
    matlab_options = dict(_Pooling.matlab_options)

    def __init__(self, pool_size: Any, **options: Any) -> None:
        super().__init__(pool_size, **options)


def _unpad_index(idx: torch.Tensor, padded: torch.Size, size: torch.Size, pads: sp.Pads) -> torch.Tensor:
    """Flat indices into a padded plane -> flat indices into the unpadded plane."""
    out = torch.zeros_like(idx)
    rest = idx
    for k in reversed(range(len(size))):  # unravel from the last axis
        coord = rest.remainder(padded[k]) - pads[k][0]
        rest = rest.div(padded[k], rounding_mode="floor")
        stride = math.prod(size[k + 1 :])
        out += coord * stride
    return out


class MaxUnpooling2d(Layer):
    r"""Max unpooling: put every pooled value back where its maximum came from.

    MATLAB: ``maxUnpooling2dLayer(Name=Value)``; inputs ``'in'``, ``'indices'``, ``'size'``
    (from a ``maxPooling2dLayer`` with ``HasUnpoolingOutputs=true``).

    Math:
        y_{b,c,p} = \begin{cases} x_{b,c,q} & p = \mathrm{idx}_{b,c,q} \\ 0 & \text{otherwise} \end{cases}

    where :math:`q` runs over the pooled positions, :math:`p` over the flat
    H·W positions of the output plane and :math:`\mathrm{idx}` are the
    pooling layer's ``indices``. Where windows overlap and several share a
    winner, they carry the same value.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ``in`` (B, C, H', W') float, ``indices`` (B, C, H', W') int64,
        ``size`` (4,) int64 = (B, C, H, W) -> (B, C, H, W); MATLAB SSCB -> SSCB.

    Learnables: none.

    Signals:
        none besides the output.

    Example:
        >>> pool = dltk.maxPooling2dLayer(2, Stride=2, HasUnpoolingOutputs=True)
        >>> y, idx, size = pool(torch.randn(1, 3, 4, 4))
        >>> dltk.maxUnpooling2dLayer()(y, idx, size).shape
        torch.Size([1, 3, 4, 4])

    MATLAB: maxUnpooling2dLayer(Name=Value)
    """

    matlab_name = "maxUnpooling2dLayer"
    type_name = "Max Unpooling"
    name_prefix = "maxunpool"
    torch_equivalent = "torch.nn.MaxUnpool2d"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("in", "indices", "size")

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return "BCHW"

    def forward(self, x: torch.Tensor, indices: torch.Tensor, size: Any) -> torch.Tensor:
        self._check_input(x, "BCHW")
        if not isinstance(indices, torch.Tensor) or indices.shape != x.shape or indices.dtype != torch.int64:
            raise self._fail(f"'indices' as int64 shaped like 'in' {tuple(x.shape)}", indices, "the 'indices' input")
        size = [int(s) for s in torch.as_tensor(size).reshape(-1).tolist()]
        if len(size) != 4 or size[:2] != list(x.shape[:2]):
            raise _input_error(self, f"'size' (B, C, H, W) with B, C = {tuple(x.shape[:2])}, got {size}")
        if x.device.type != "cpu":  # a bad index is a device-side assert there: check first
            self._check_indices(indices, size)
        out = x.new_zeros(size[0], size[1], size[2] * size[3])  # in place: scatter() would copy the zeros
        try:  # on the CPU scatter_ checks the bounds itself, at no extra cost
            out.scatter_(2, indices.flatten(2), x.flatten(2))
        except RuntimeError as err:
            error = err
        else:
            return out.view(size)
        self._check_indices(indices, size)  # the clear error (no torch trace) for an index outside the plane
        raise error

    def _check_indices(self, indices: torch.Tensor, size: list[int]) -> None:
        plane = size[2] * size[3]
        if indices.numel():
            low, high = (int(v) for v in torch.aminmax(indices))  # one pass over the indices
            if low < 0 or high >= plane:
                raise _input_error(self, f"'indices' within the {size[2]}×{size[3]} plane (0 … {plane - 1})")

    def description(self) -> str:
        return "Max Unpooling"


def _input_error(layer: Layer, text: str) -> LayerInputError:
    """A LayerInputError naming ``layer`` with a free-text expectation."""
    return LayerInputError(f"{layer.matlab_name} '{layer.label}': expected {text}.")
