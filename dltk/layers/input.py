r"""Input layers (MATLAB ``sequenceInputLayer``, ``featureInputLayer``,
``imageInputLayer``, ``image3dInputLayer``, ``roiInputLayer``).

An input layer starts a network: it checks the data (rank, channels, spatial
size, minimum length) and optionally normalizes it,

.. math::
    \text{zerocenter: } y = x - \mu \qquad
    \text{zscore: } y = \frac{x - \mu}{\sigma} \qquad
    \text{rescale-symmetric: } y = 2\,\frac{x - m}{M - m} - 1 \qquad
    \text{rescale-zero-one: } y = \frac{x - m}{M - m}

where :math:`\mu` is the ``Mean``, :math:`\sigma` the ``StandardDeviation``,
:math:`m` the ``Min`` and :math:`M` the ``Max`` statistic. With
``NormalizationDimension='auto'`` (default) or ``'channel'`` there is one
statistic per channel, ``'element'`` one per element of the input size, ``'all'``
a single scalar. Statistics are given as options (MATLAB-shaped: ``h×w×c`` or
``1×1×c`` for images, ``c×1`` for vectors) or computed by
:meth:`fit_normalization` (``trainNetwork`` calls it on the training data).
Until a statistic is known it is neutral (μ = m = 0, σ = M − m = 1), so a
fresh network runs. σ uses N−1 normalization, like MATLAB's ``std``
(which one ``trainNetwork`` uses internally is unconfirmed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

from ..errors import LayerInputError, OptionError
from ..options import choice, positive_int
from .base import Layer

__all__ = ["SequenceInput", "FeatureInput", "ImageInput", "Image3dInput", "ROIInput"]

NORMALIZATIONS = ("zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none")
_NEEDS = {
    "zerocenter": ("mean",),
    "zscore": ("mean", "std"),
    "rescale-symmetric": ("min", "max"),
    "rescale-zero-one": ("min", "max"),
    "none": (),
}
_STAT_OPTION = {"mean": "Mean", "std": "StandardDeviation", "min": "Min", "max": "Max"}
_TO_DLTK = {3: (2, 0, 1), 4: (3, 2, 0, 1)}  # MATLAB h×w×c / h×w×d×c -> c×h×w / c×d×h×w
_TO_MATLAB = {3: (1, 2, 0), 4: (2, 3, 1, 0)}


class _CastStat(NamedTuple):
    """A statistic buffer converted to the data's dtype (reused while the buffer is unchanged)."""

    source: torch.Tensor  # the float64 buffer
    version: int  # its in-place version when converted
    value: torch.Tensor  # the buffer in the data's dtype


class _AffinePlan(NamedTuple):
    """The normalization as ``a·x + b``, worked out for two statistics in one dtype and device."""

    first: torch.Tensor  # the statistics it was worked out from: (mean, std) or (min, max)
    second: torch.Tensor
    first_version: int  # their in-place versions then
    second_version: int
    dtype: torch.dtype  # the data's dtype and device
    device: torch.device
    ab: tuple[torch.Tensor, torch.Tensor] | None  # (a, b), or None: use the step-by-step formula


class _SizesMemo(NamedTuple):
    """The known axis sizes for ``_check_input``, for one (input_size, data_layout)."""

    key: tuple[Any, str]
    sizes: dict[str, int]


def _size(where: str, value: Any, n: tuple[int, ...]) -> tuple[int, ...]:
    arr = [int(v) if float(v).is_integer() else v for v in np.atleast_1d(np.asarray(value)).ravel().tolist()]
    if len(arr) not in n:
        raise OptionError(f"{where}: inputSize must have {' or '.join(map(str, n))} elements, got {value!r}.")
    return tuple(positive_int(where, "inputSize", a) for a in arr)


class _Input(Layer):
    """Shared machinery: checks, normalization, statistics, examples."""

    is_input_layer = True
    signals = ("raw", "normalized")
    signal_docs = {
        "raw": "the data as it arrives, in the layer's data layout",
        "normalized": "the data after normalization (equals raw for 'none'), same layout",
    }
    torch_equivalent = "torch.nn.Identity (+ normalization arithmetic)"
    matlab_positional = ("input_size",)
    matlab_options = {
        "Normalization": "normalization",
        "NormalizationDimension": "normalization_dimension",
        "Mean": "mean",
        "StandardDeviation": "standard_deviation",
        "Min": "min",
        "Max": "max",
    }
    data_layout: ClassVar[str] = "BC"

    def _init_normalization(self, normalization: Any, dim: str, stats: dict[str, Any]) -> None:
        where = self.matlab_name
        if callable(normalization):
            self.normalization: str | Callable = normalization
        else:
            self.normalization = choice(where, "Normalization", normalization, NORMALIZATIONS)
        self.normalization_dimension = choice(
            where, "NormalizationDimension", dim, ("auto", "channel", "element", "all")
        )
        for key, value in stats.items():
            self.register_buffer(key, None if value is None else self._from_matlab(key, value))
        #: statistic name -> the buffer converted to the input's dtype
        self._cast: dict[str, _CastStat] = {}

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any) -> None:
        # statistics fitted after construction: accept them into a fresh layer's empty slots
        for key in _STAT_OPTION:
            if prefix + key in state_dict and key in self._buffers and self._buffers[key] is None:
                self._buffers[key] = torch.empty_like(state_dict[prefix + key])
        super()._load_from_state_dict(state_dict, prefix, *args)

    # -------------------------------------------------------------- statistics
    def _stat_shape(self) -> tuple[int, ...]:
        """dltk shape of one statistic (broadcasts against a sample)."""
        sample = self._sample_shape()  # without B and T, dltk order (C first)
        mode = self.normalization_dimension
        if mode == "all":
            return (1,) * len(sample)
        if mode == "element":
            return sample
        return (sample[0],) + (1,) * (len(sample) - 1)

    def _from_matlab(self, key: str, value: Any) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        sample = self._sample_shape()
        if len(sample) > 1 and 2 <= t.ndim <= len(sample):  # MATLAB h×w(×d)×c -> dltk c×(d×)h×w
            t = t.reshape(tuple(t.shape) + (1,) * (len(sample) - t.ndim)).permute(*_TO_DLTK[len(sample)])
        per_channel, scalar = (sample[0],) + (1,) * (len(sample) - 1), (1,) * len(sample)
        for shape in (tuple(t.shape), per_channel, scalar, sample):
            if shape in (per_channel, scalar, sample) and t.numel() == int(np.prod(shape)):
                return t.reshape(shape)  # float64, as given (cast to the data's dtype in forward)
        raise OptionError(
            f"{self.matlab_name}: {_STAT_OPTION[key]} must have 1, {sample[0]} (per channel) or "
            f"{int(np.prod(sample))} (per element) values, got {t.numel()}."
        )

    def _matlab_view(self, t: torch.Tensor | None) -> torch.Tensor | None:
        if t is None:
            return None
        return t.view(-1, 1) if t.ndim == 1 else t.permute(*_TO_MATLAB[t.ndim])

    def fit_normalization(self, X: Any, lengths: torch.Tensor | None = None) -> _Input:
        """Compute the statistics the normalization needs from data ``X``.

        Args:
            X: a tensor/array in the layer's data layout, or (sequence layers) a
                list of (T_i, C) [or (T_i, C, H, W)] sequences.
            lengths: real lengths of right-padded sequences (padding is ignored).

        Returns:
            the layer (statistics stored as ``Mean`` … buffers).
        """
        needed = _NEEDS.get(self.normalization, ()) if isinstance(self.normalization, str) else ()
        if not needed:
            return self
        flat = self._observations(X, lengths).to(torch.float64)  # (N, *sample)
        mode = self.normalization_dimension
        axes = [0] if mode == "element" else list(range(flat.ndim)) if mode == "all" else [0, *range(2, flat.ndim)]
        shape = self._stat_shape()
        fns = {
            "mean": lambda v: v.mean(axes),
            "std": lambda v: v.std(axes, correction=1) if v.numel() > 1 else torch.ones(()),
            "min": lambda v: v.amin(axes),
            "max": lambda v: v.amax(axes),
        }
        dtype = next((b.dtype for b in self.buffers()), torch.float64)
        for key in needed:
            setattr(self, key, fns[key](flat).reshape(shape).to(dtype))
        return self

    def _observations(self, X: Any, lengths: torch.Tensor | None) -> torch.Tensor:
        if isinstance(X, (list, tuple)) and "T" in self.data_layout:
            return torch.cat([torch.as_tensor(np.asarray(x), dtype=torch.float64) for x in X], 0)
        x = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X, dtype=torch.float64)
        self._check_input(x, self.data_layout, self._sizes())
        if "T" in self.data_layout:
            if lengths is not None:
                keep = torch.arange(x.shape[1])[None, :] < torch.as_tensor(lengths)[:, None]
                return x[keep]
            return x.reshape(-1, *x.shape[2:])
        return x

    def _stat(self, key: str, dtype: torch.dtype) -> torch.Tensor | None:
        """Statistic ``key`` in ``dtype``: kept in float64, converted once, not on every call."""
        s = self._buffers[key]
        if s is None or s.dtype == dtype:
            return s
        hit = self._cast.get(key)
        if hit is None or hit.source is not s or hit.version != s._version or hit.value.dtype != dtype:
            hit = _CastStat(s, s._version, s.to(dtype))
            self._cast[key] = hit
        return hit.value

    def _affine(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        r"""``(a, b)`` with normalized data :math:`a x + b`, in ``x``'s dtype and device, or None.

        zscore: :math:`a = 1/\sigma,\ b = -\mu/\sigma`; rescale-zero-one:
        :math:`a = 1/(M - m),\ b = -m/(M - m)`; rescale-symmetric: twice those, and
        :math:`b - 1`. Worked out once in float64 (again when a statistic is replaced or
        changed in place), so the data takes one multiply and one in-place add: one new
        tensor instead of two. None when a statistic is missing or a divisor is not a positive finite
        number: the step-by-step formula then gives what MATLAB gives (inf/NaN).
        """
        keys = ("mean", "std") if self.normalization == "zscore" else ("min", "max")
        s0, s1 = self._buffers[keys[0]], self._buffers[keys[1]]
        if s0 is None or s1 is None:
            return None
        v0, v1 = s0._version, s1._version
        plan: _AffinePlan | None = self.__dict__.get("_affine_plan")
        if plan is not None:  # (one unpacking: cheaper than seven attribute reads on every call)
            first, second, first_version, second_version, dtype, device, ab = plan
            if first is s0 and second is s1 and first_version == v0 and second_version == v1 and dtype == x.dtype:
                if device == x.device:
                    return ab
        lo, hi = s0.double(), s1.double()
        div = hi if self.normalization == "zscore" else hi - lo
        ab = None
        if bool(torch.isfinite(div).all()) and bool((div > 0).all()):
            a, b = 1 / div, -lo / div
            if self.normalization == "rescale-symmetric":
                a, b = 2 * a, 2 * b - 1
            ab = (a.to(device=x.device, dtype=x.dtype), b.to(device=x.device, dtype=x.dtype))
        self.__dict__["_affine_plan"] = _AffinePlan(s0, s1, v0, v1, x.dtype, x.device, ab)
        return ab

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        norm = self.normalization
        if norm == "none":
            return x
        if norm in ("zscore", "rescale-zero-one", "rescale-symmetric"):
            ab = self._affine(x)
            if ab is not None:
                a, b = ab
                if a.ndim == 1:  # per channel along the last axis (BC, BTC): one fused b + x·a, ~1.5x faster
                    return torch.addcmul(b, x, a)
                return (x * a).add_(b)  # (C, 1, 1): x·a, then + b in place, faster than addcmul's broadcast
        if norm == "zscore":
            mu, sd = self._stat("mean", x.dtype), self._stat("std", x.dtype)
            y = x if mu is None else x - mu
            return y if sd is None else y / sd
        if norm == "zerocenter":
            mu = self._stat("mean", x.dtype)
            return x if mu is None else x - mu
        if callable(norm):
            return norm(x)
        lo, hi = self._stat("min", x.dtype), self._stat("max", x.dtype)
        y = x if lo is None else x - lo
        if hi is not None:
            y = y / (hi - (0 if lo is None else lo))
        return 2 * y - 1 if norm == "rescale-symmetric" else y

    # --------------------------------------------------------------- contract
    def _sample_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def _sizes(self) -> dict[str, int]:
        """Known axis sizes for :meth:`_check_input` (kept until ``input_size`` changes)."""
        key = (self.input_size, self.data_layout)
        memo: _SizesMemo | None = self.__dict__.get("_sizes_memo")
        if memo is None or memo.key != key:
            memo = _SizesMemo(key, dict(zip([a for a in self.data_layout if a not in "BT"], self._sample_shape())))
            self.__dict__["_sizes_memo"] = memo
        return memo.sizes

    def example(self, batch: int = 2, time: int = 4) -> torch.Tensor:
        """Zeros in the layer's data layout (``time`` is used for sequence layers)."""
        t = (max(time, getattr(self, "min_length", 1)),) if "T" in self.data_layout else ()
        return torch.zeros(batch, *t, *self._sample_shape())

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return self.data_layout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, self.data_layout, self._sizes())
        return self._normalize(x) if self._recorder is None else self._forward_checked(x)

    def _forward_checked(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize an input that passed :meth:`_check_input`; emit the signals."""
        if self._recorder is None:
            return self._normalize(x)
        self._emit("raw", x, self.data_layout)
        y = self._normalize(x)
        self._emit("normalized", y, self.data_layout)
        return y

    def _norm_text(self) -> str:
        n = self.normalization
        return f" with '{n}' normalization" if isinstance(n, str) else " with custom normalization"

    @property
    def Normalization(self) -> str | Callable:  # noqa: N802
        return self.normalization

    @property
    def NormalizationDimension(self) -> str:  # noqa: N802
        return self.normalization_dimension

    @property
    def Mean(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB-shaped view of the mean (``h×w×c`` / ``1×1×c`` for images, ``c×1`` for vectors)."""
        return self._matlab_view(self.mean)

    @property
    def StandardDeviation(self) -> torch.Tensor | None:  # noqa: N802
        return self._matlab_view(self.std)

    @property
    def Min(self) -> torch.Tensor | None:  # noqa: N802
        return self._matlab_view(self.min)

    @property
    def Max(self) -> torch.Tensor | None:  # noqa: N802
        return self._matlab_view(self.max)

    @property
    def InputSize(self) -> Any:  # noqa: N802
        return self.input_size

    def extra_repr(self) -> str:
        return f"input_size={self.input_size!r}, normalization={self.normalization!r}"


class SequenceInput(_Input):
    r"""Sequence input layer: starts a network on sequence data.

    Normalization:

    Math:
        \text{zerocenter: } y = x - \mu \quad
        \text{zscore: } y = \frac{x - \mu}{\sigma} \quad
        \text{rescale-symmetric: } y = 2\,\frac{x - m}{M - m} - 1 \quad
        \text{rescale-zero-one: } y = \frac{x - m}{M - m}

    where :math:`x` is the data, :math:`\mu` the ``Mean``, :math:`\sigma` the
    ``StandardDeviation``, :math:`m` the ``Min`` and :math:`M` the ``Max``
    statistic (per channel by default; see ``NormalizationDimension``), given
    as options or computed by ``fit_normalization``; an unknown statistic is
    neutral (μ = m = 0, σ = M − m = 1).

    Args:
        input_size: ``C`` (vector sequences) or ``[h w c]`` (2-D image
            sequences) (MATLAB ``inputSize``). ``[h c]`` and ``[h w d c]``
            sequences are not supported by dltk.
        min_length: shortest allowed sequence; shorter data raises
            (MATLAB ``MinLength``). Default: ``1``.
        normalization: ``'none'``, ``'zerocenter'``, ``'zscore'``,
            ``'rescale-symmetric'``, ``'rescale-zero-one'`` or a callable
            (MATLAB ``Normalization``). Default: ``'none'``.
        normalization_dimension: ``'auto'``, ``'channel'``, ``'element'``,
            ``'all'`` (MATLAB ``NormalizationDimension``). Default: ``'auto'``.
        mean, standard_deviation, min, max: statistics (MATLAB ``Mean``,
            ``StandardDeviation``, ``Min``, ``Max``; ``c×1`` or, for images,
            ``h×w×c``/``1×1×c``). Default: ``None`` (computed by ``fit_normalization``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        vector sequences: (B, T, C) -> (B, T, C); MATLAB ``CBT`` C×B×T.
        image sequences: (B, T, C, H, W) -> same; MATLAB ``SSCBT`` H×W×C×B×T.
        B batch, T time steps (T ≥ MinLength), C channels, H×W image size.
        ``forward(x, lengths=None)``: ``lengths`` (B,) are real lengths of
        right-padded sequences; each must be ≥ MinLength.

    Learnables: none. Buffers ``mean``, ``std``, ``min``, ``max`` (when used).

    Signals:
        ``raw``: the data as received; ``normalized``: after normalization.

    Example:
        >>> layer = dltk.sequenceInputLayer(12)
        >>> layer(torch.randn(4, 20, 12)).shape
        torch.Size([4, 20, 12])

    MATLAB: sequenceInputLayer(inputSize, Name=Value)
    """

    matlab_name = "sequenceInputLayer"
    type_name = "Sequence Input"
    name_prefix = "sequenceinput"
    accepts_lengths = True
    matlab_options = {**_Input.matlab_options, "MinLength": "min_length"}

    def __init__(
        self,
        input_size: Any,
        *,
        min_length: int = 1,
        normalization: Any = "none",
        normalization_dimension: str = "auto",
        mean: Any = None,
        standard_deviation: Any = None,
        min: Any = None,
        max: Any = None,
        name: str = "",
    ) -> None:  # noqa: A002
        super().__init__(name)
        where = self.matlab_name
        size = _size(where, input_size, (1, 2, 3, 4))
        if len(size) in (2, 4):
            raise OptionError(
                f"{where}: inputSize {list(size)} describes 1-D or 3-D image sequences, which dltk "
                "does not support; use a scalar C (vector sequences) or [h w c] (image sequences)."
            )
        self.input_size: int | tuple[int, ...] = size[0] if len(size) == 1 else size
        self.data_layout = "BTC" if len(size) == 1 else "BTCHW"  # type: ignore[misc]
        self.min_length = positive_int(where, "MinLength", min_length)
        self._init_normalization(
            normalization, normalization_dimension, {"mean": mean, "std": standard_deviation, "min": min, "max": max}
        )

    def _sample_shape(self) -> tuple[int, ...]:
        s = self.input_size
        return (s,) if isinstance(s, int) else (s[2], s[0], s[1])

    @property
    def MinLength(self) -> int:  # noqa: N802
        return self.min_length

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        self._check_input(x, self.data_layout, self._sizes())
        if lengths is None and self._recorder is None and x.shape[1] >= self.min_length:
            return self._normalize(x)  # the plain path
        short = x.shape[1] if lengths is None else int(torch.as_tensor(lengths).min())
        if short < self.min_length:
            raise LayerInputError(
                f"sequenceInputLayer '{self.label}': sequences must have at least MinLength = {self.min_length} "
                f"time steps, got a sequence of {short} (T is axis 1 of (B, T, C); MATLAB C×B×T). "
                "Use longer sequences or a smaller MinLength."
            )
        return self._forward_checked(x)

    def description(self) -> str:
        s = self.input_size
        dims = str(s) if isinstance(s, int) else "×".join(map(str, s))
        norm = "" if self.normalization == "none" else self._norm_text()
        return f"Sequence input with {dims} dimensions{norm}"


class FeatureInput(_Input):
    r"""Feature input layer: starts a network on feature vectors.

    MATLAB: ``featureInputLayer(numFeatures, Name=Value)``.

    Normalization:

    Math:
        \text{zerocenter: } y = x - \mu \quad
        \text{zscore: } y = \frac{x - \mu}{\sigma} \quad
        \text{rescale-symmetric: } y = 2\,\frac{x - m}{M - m} - 1 \quad
        \text{rescale-zero-one: } y = \frac{x - m}{M - m}

    where :math:`x` is the data, :math:`\mu` the ``Mean``, :math:`\sigma` the
    ``StandardDeviation``, :math:`m` the ``Min`` and :math:`M` the ``Max``
    statistic (per channel by default; see ``NormalizationDimension``), given
    as options or computed by ``fit_normalization``; an unknown statistic is
    neutral (μ = m = 0, σ = M − m = 1).

    Args:
        input_size: number of features C (MATLAB ``numFeatures``).
        normalization: as for :class:`SequenceInput` (MATLAB ``Normalization``). Default: ``'none'``.
        normalization_dimension: MATLAB ``NormalizationDimension``. Default: ``'auto'``.
        mean, standard_deviation, min, max: ``c×1`` statistics (MATLAB
            ``Mean`` …). Default: ``None``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C) -> (B, C); MATLAB ``CB`` C×B.

    Learnables: none.

    Signals:
        ``raw``, ``normalized`` (B, C).

    Example:
        >>> dltk.featureInputLayer(4)(torch.randn(8, 4)).shape
        torch.Size([8, 4])

    MATLAB: featureInputLayer(inputSize, Name=Value)
    """

    matlab_name = "featureInputLayer"
    type_name = "Feature Input"
    name_prefix = "input"
    data_layout = "BC"

    def __init__(
        self,
        input_size: int,
        *,
        normalization: Any = "none",
        normalization_dimension: str = "auto",
        mean: Any = None,
        standard_deviation: Any = None,
        min: Any = None,
        max: Any = None,  # noqa: A002
        name: str = "",
    ) -> None:
        super().__init__(name)
        self.input_size = positive_int(self.matlab_name, "numFeatures", input_size)
        self._init_normalization(
            normalization, normalization_dimension, {"mean": mean, "std": standard_deviation, "min": min, "max": max}
        )

    def _sample_shape(self) -> tuple[int, ...]:
        return (self.input_size,)

    def description(self) -> str:
        norm = "" if self.normalization == "none" else self._norm_text()
        return f"{self.input_size} features{norm}"


class ImageInput(_Input):
    r"""Image input layer: starts a network on 2-D images.

    Normalization:

    Math:
        \text{zerocenter: } y = x - \mu \quad
        \text{zscore: } y = \frac{x - \mu}{\sigma} \quad
        \text{rescale-symmetric: } y = 2\,\frac{x - m}{M - m} - 1 \quad
        \text{rescale-zero-one: } y = \frac{x - m}{M - m}

    where :math:`x` is the data, :math:`\mu` the ``Mean``, :math:`\sigma` the
    ``StandardDeviation``, :math:`m` the ``Min`` and :math:`M` the ``Max``
    statistic (per channel by default; see ``NormalizationDimension``), given
    as options or computed by ``fit_normalization``; an unknown statistic is
    neutral (μ = m = 0, σ = M − m = 1).

    Args:
        input_size: ``[h w c]`` (or ``[h w]``, c = 1) (MATLAB ``inputSize``).
        normalization: ``'zerocenter'``, ``'zscore'``, ``'rescale-symmetric'``,
            ``'rescale-zero-one'``, ``'none'`` or a callable (MATLAB
            ``Normalization``). Default: ``'zerocenter'``.
        normalization_dimension: MATLAB ``NormalizationDimension``. Default: ``'auto'`` (per channel).
        mean, standard_deviation, min, max: ``h×w×c`` or ``1×1×c`` statistics
            (MATLAB ``Mean`` …). Default: ``None`` (computed by ``fit_normalization``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C, H, W) -> (B, C, H, W); MATLAB ``SSCB`` H×W×C×B.

    Learnables: none.

    Signals:
        ``raw``, ``normalized`` (B, C, H, W).

    Example:
        >>> dltk.imageInputLayer([28, 28, 1])(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 1, 28, 28])

    MATLAB: imageInputLayer(inputSize, Name=Value)
    """

    matlab_name = "imageInputLayer"
    type_name = "Image Input"
    name_prefix = "imageinput"
    data_layout = "BCHW"
    _dims = (2, 3)

    def __init__(
        self,
        input_size: Any,
        *,
        normalization: Any = "zerocenter",
        normalization_dimension: str = "auto",
        mean: Any = None,
        standard_deviation: Any = None,
        min: Any = None,
        max: Any = None,  # noqa: A002
        name: str = "",
    ) -> None:
        super().__init__(name)
        size = _size(self.matlab_name, input_size, self._dims)
        self.input_size: tuple[int, ...] = size + (1,) * (self._dims[-1] - len(size))
        self._init_normalization(
            normalization, normalization_dimension, {"mean": mean, "std": standard_deviation, "min": min, "max": max}
        )

    def _sample_shape(self) -> tuple[int, ...]:
        h, w, c = self.input_size
        return (c, h, w)

    def description(self) -> str:
        return f"{'×'.join(map(str, self.input_size))} images{self._norm_text()}"


class Image3dInput(ImageInput):
    r"""3-D image input layer: starts a network on volumes.

    MATLAB: ``image3dInputLayer(inputSize, Name=Value)``; same options and
    defaults as :class:`ImageInput` (``Normalization`` default ``'zerocenter'``).

    Normalization:

    Math:
        \text{zerocenter: } y = x - \mu \quad
        \text{zscore: } y = \frac{x - \mu}{\sigma} \quad
        \text{rescale-symmetric: } y = 2\,\frac{x - m}{M - m} - 1 \quad
        \text{rescale-zero-one: } y = \frac{x - m}{M - m}

    where :math:`x` is the data, :math:`\mu` the ``Mean``, :math:`\sigma` the
    ``StandardDeviation``, :math:`m` the ``Min`` and :math:`M` the ``Max``
    statistic (per channel by default; see ``NormalizationDimension``), given
    as options or computed by ``fit_normalization``; an unknown statistic is
    neutral (μ = m = 0, σ = M − m = 1).

    Args:
        input_size: ``[h w d c]`` (or ``[h w d]``, c = 1) (MATLAB ``inputSize``).
        normalization, normalization_dimension, mean, standard_deviation, min,
            max, name: as :class:`ImageInput` (statistics ``h×w×d×c`` or
            ``1×1×1×c``). Default: ``'zerocenter'``, ``'auto'``, ``None``…, ``''``.

    Shape:
        (B, C, D, H, W) -> same; MATLAB ``SSSCB`` H×W×D×C×B.

    Learnables: none.

    Signals:
        ``raw``, ``normalized`` (B, C, D, H, W).

    Example:
        >>> dltk.image3dInputLayer([8, 8, 4, 1])(torch.rand(2, 1, 4, 8, 8)).shape
        torch.Size([2, 1, 4, 8, 8])

    MATLAB: image3dInputLayer(inputSize, Name=Value)
    """

    matlab_name = "image3dInputLayer"
    type_name = "3-D Image Input"
    name_prefix = "image3dinput"
    data_layout = "BCDHW"
    _dims = (3, 4)

    def _sample_shape(self) -> tuple[int, ...]:
        h, w, d, c = self.input_size
        return (c, d, h, w)

    def description(self) -> str:
        return f"{'×'.join(map(str, self.input_size))} 3-D images{self._norm_text()}"


class ROIInput(Layer):
    r"""ROI input layer: regions of interest for Fast R-CNN style networks.

    MATLAB: ``roiInputLayer(Name=Value)`` (Computer Vision Toolbox; "not
    recommended" in new MATLAB code). It feeds ``roiMaxPooling2dLayer``'s
    ``roi`` input.

    Math:
        \text{row } r = [\,b_r,\ x_r,\ y_r,\ w_r,\ h_r\,]

    where :math:`b_r` is the 0-based index of the observation (image) in the
    batch the region belongs to, :math:`(x_r, y_r)` the upper-left pixel in
    MATLAB's 1-based pixel convention (pixel (1, 1) is the top-left pixel; x
    runs along the width, y along the height), and :math:`w_r, h_r` the width
    and height in pixels, so the box covers columns :math:`x_r … x_r + w_r - 1`
    and rows :math:`y_r … y_r + h_r - 1` (in continuous coordinates
    :math:`[x_r - 0.5,\ x_r + w_r - 0.5]`). MATLAB keeps ROIs as M×4
    ``[x y w h]`` per image; the batch index is dltk's addition.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (R, 5) -> (R, 5), R regions over the whole batch; data layout ``"ROI"``
        (not a tensor layout of :mod:`dltk.layouts`; MATLAB: M×4 per image).

    Learnables: none.

    Signals:
        ``raw`` (R, 5).

    Checks: the layout and dtype here; the values (finite, widths and heights
    positive, batch indices in range) where they are used, by
    ``roiMaxPooling2dLayer``, whose error names the row (one reduction over the
    rows per call, not two).

    Example:
        >>> dltk.roiInputLayer()(torch.tensor([[0., 1, 1, 4, 4]])).shape
        torch.Size([1, 5])

    MATLAB: roiInputLayer(Name=Value)
    """

    matlab_name = "roiInputLayer"
    type_name = "ROI Input"
    name_prefix = "roiinput"
    torch_equivalent = "torch.nn.Identity (boxes as for torchvision.ops.roi_pool, other convention)"
    is_input_layer = True
    signals = ("raw",)
    signal_docs = {"raw": "the regions, (R, 5) rows [batch_index, x, y, w, h]"}
    data_layout = "ROI"
    input_size = 5

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    def example(self, batch: int = 2, time: int = 4) -> torch.Tensor:
        """One 1×1 region at pixel (1, 1) per observation."""
        return torch.tensor([[float(b), 1.0, 1.0, 1.0, 1.0] for b in range(batch)])

    def fit_normalization(self, X: Any, lengths: Any = None) -> ROIInput:
        """Nothing to fit (ROIs are not normalized)."""
        return self

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != 5 or not x.is_floating_point():
            raise self._fail("(R, 5) float rows [batch_index, x, y, w, h] [MATLAB M×4 [x y w h] per image]", x)
        if self._recorder is not None:
            self._emit("raw", x)
        return x

    def description(self) -> str:
        return "ROI input ([batch_index x y w h] rows)"
