"""Normalization layers: batch, group and cross-channel (local response) normalization.

Batch and group normalization share a per-channel affine step ``y = γ·x̂ + β``
with MATLAB's learnables ``Scale`` γ (init ones) and ``Offset`` β (init
zeros); :class:`_ChannelAffine` holds that part (options, lazy creation when
``NumChannels`` is ``'auto'``, MATLAB-shaped views).

Torch's functional norms want channels on axis 1, so sequences are viewed
as (B, C, T) and image sequences as (B, C, T, H, W) before the call.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch convention
from torch import nn

from ..errors import LayerInputError, OptionError
from ..layouts import ANY_LAYOUT
from ..options import choice, number, positive_int
from . import initializers as init
from .base import Layer, matlab_property

__all__ = ["BatchNormalization", "GroupNormalization", "CrossChannelNormalization"]


def channels_second(x: torch.Tensor, lay: str) -> torch.Tensor:
    """View ``x`` as (B, C, …) for torch's norms: BTC -> (B, C, T), BTCHW -> (B, C, T, H, W)."""
    return x.transpose(1, 2) if lay in ("BTC", "BTCHW") else x


def _matlab_stat_shape(lay: str | None, c: int) -> tuple[int, ...]:
    """MATLAB's shape of per-channel parameters: C×1 (CB, CBT), 1×1×C (SSCB), 1×1×1×C (SSSCB)."""
    return {"BCHW": (1, 1, c), "BTCHW": (1, 1, c), "BCDHW": (1, 1, 1, c)}.get(lay or "BC", (c, 1))


class _ChannelAffine(Layer):
    """Per-channel learnables ``scale`` γ and ``offset`` β, created lazily for ``NumChannels='auto'``."""

    _where = ""

    def __init__(
        self,
        *,
        num_channels: Any,
        epsilon: float,
        offset_initializer: Any,
        scale_initializer: Any,
        offset: Any,
        scale: Any,
        offset_learn_rate_factor: float,
        scale_learn_rate_factor: float,
        offset_l2_factor: float,
        scale_l2_factor: float,
        name: str,
    ) -> None:
        super().__init__(name)
        w = self._where
        self.num_channels: int | str = "auto"
        if not (isinstance(num_channels, str) and num_channels.lower() == "auto"):
            self.num_channels = positive_int(w, "NumChannels", num_channels)
        self.epsilon = number(w, "Epsilon", epsilon, low=1e-5)
        self.offset_initializer = init.check_initializer(
            w, "OffsetInitializer", offset_initializer, init.BIAS_INITIALIZERS
        )
        self.scale_initializer = init.check_initializer(
            w, "ScaleInitializer", scale_initializer, init.BIAS_INITIALIZERS
        )
        self.offset_learn_rate_factor = number(w, "OffsetLearnRateFactor", offset_learn_rate_factor, low=0)
        self.scale_learn_rate_factor = number(w, "ScaleLearnRateFactor", scale_learn_rate_factor, low=0)
        self.offset_l2_factor = number(w, "OffsetL2Factor", offset_l2_factor, low=0)
        self.scale_l2_factor = number(w, "ScaleL2Factor", scale_l2_factor, low=0)
        self._initial = (offset, scale)
        self._last_layout: str | None = None
        self.register_parameter("offset", None)
        self.register_parameter("scale", None)
        if self.num_channels != "auto":
            self._materialize(self.num_channels)

    def _materialize(self, c: int, dtype: torch.dtype | None = None, device: Any = None) -> None:
        self.num_channels = c
        kw = {"dtype": dtype or torch.get_default_dtype(), "device": device}
        self.offset = nn.Parameter(torch.empty(c, **kw))
        self.scale = nn.Parameter(torch.empty(c, **kw))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Offset/Scale from their initializers (or the given values)."""
        c = self.num_channels
        with torch.no_grad():
            for p, spec, given in (
                (self.offset, self.offset_initializer, self._initial[0]),
                (self.scale, self.scale_initializer, self._initial[1]),
            ):
                v = init.make(spec, (c,), c, c) if given is None else torch.as_tensor(given, dtype=torch.float64)
                p.copy_(v.reshape(c))

    def setup(self, example_inputs: list[torch.Tensor], layouts: list[str | None]) -> None:
        super().setup(example_inputs, layouts)
        x = example_inputs[0]
        if self.scale is None:
            lay = layouts[0] or self._layout_of(x)
            self._materialize(int(x.shape[lay.index("C")]), x.dtype, x.device)

    def _prepare(self, x: torch.Tensor) -> str:
        """Check the input, create the learnables on first call; return the layout."""
        known = self._parameters["scale"] is not None  # NumChannels known (given, or from a first input)
        lay = self._check_input(x, ANY_LAYOUT, {"C": self.num_channels} if known else None)
        if not known:
            self._materialize(int(x.shape[lay.index("C")]), x.dtype, x.device)
        if self.__dict__.get("_last_layout") != lay:  # (nn.Module attribute writes are slow: only on change)
            self._last_layout = lay
        return lay

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        if self.scale is None and prefix + "scale" in state_dict:  # 'auto' layer loading trained values
            ref = state_dict[prefix + "scale"]
            self._materialize(ref.numel(), ref.dtype, ref.device)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def _matlab_view(self, t: torch.Tensor | None) -> torch.Tensor | None:
        lay = self.input_layout or self._last_layout
        return None if t is None else t.view(_matlab_stat_shape(lay, t.numel()))

    def _set(self, t: torch.Tensor | None, value: Any) -> None:
        if t is None:
            raise OptionError(f"{self._where}: NumChannels is 'auto'; run the layer once before setting values.")
        with torch.no_grad():
            t.copy_(torch.as_tensor(value).reshape(t.shape))

    # MATLAB views: C×1 for features/sequences, 1×1×C for images, 1×1×1×C for volumes
    Offset = property(lambda s: s._matlab_view(s.offset), lambda s, v: s._set(s.offset, v), doc="MATLAB ``Offset`` β.")
    Scale = property(lambda s: s._matlab_view(s.scale), lambda s, v: s._set(s.scale, v), doc="MATLAB ``Scale`` γ.")
    NumChannels = matlab_property("num_channels", readonly=True)
    Epsilon = matlab_property("epsilon")
    OffsetInitializer = matlab_property("offset_initializer")
    ScaleInitializer = matlab_property("scale_initializer")
    OffsetLearnRateFactor = matlab_property("offset_learn_rate_factor")
    ScaleLearnRateFactor = matlab_property("scale_learn_rate_factor")
    OffsetL2Factor = matlab_property("offset_l2_factor")
    ScaleL2Factor = matlab_property("scale_l2_factor")

    def _affine(self, xhat: torch.Tensor, c_axis: int) -> torch.Tensor:
        shape = [-1] + [1] * (xhat.ndim - c_axis - 1)
        return xhat * self.scale.view(shape) + self.offset.view(shape)


_AFFINE_OPTIONS = {
    "NumChannels": "num_channels",
    "Epsilon": "epsilon",
    "Offset": "offset",
    "Scale": "scale",
    "OffsetInitializer": "offset_initializer",
    "ScaleInitializer": "scale_initializer",
    "OffsetLearnRateFactor": "offset_learn_rate_factor",
    "ScaleLearnRateFactor": "scale_learn_rate_factor",
    "OffsetL2Factor": "offset_l2_factor",
    "ScaleL2Factor": "scale_l2_factor",
}


class BatchNormalization(_ChannelAffine):
    r"""Batch normalization.

    Math:
        \hat x = \frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}, \qquad y = \gamma_c \hat x + \beta_c

    where, for channel :math:`c`, :math:`\mu_c` and :math:`\sigma_c^2` are the
    mean and (biased, 1/m) variance over all :math:`m` elements of that channel
    in the mini-batch — every observation, time step and pixel — while
    training, and the running statistics ``TrainedMean`` / ``TrainedVariance``
    in evaluation mode (``layer.eval()``, what ``predict`` uses);
    :math:`\gamma` is ``Scale``, :math:`\beta` is ``Offset``.

    Running statistics (our reading of MATLAB's moving statistics,
    ``BatchNormalizationStatistics="moving"``): after each training step

    .. math::
        \mu^{*} = \lambda_\mu \mu_c + (1 - \lambda_\mu)\,\mu^{*}, \qquad
        \sigma^{2*} = \lambda_{\sigma^2} \tfrac{m}{m-1}\sigma_c^2 + (1 - \lambda_{\sigma^2})\,\sigma^{2*}

    where :math:`\lambda_\mu` is ``MeanDecay`` and :math:`\lambda_{\sigma^2}` is
    ``VarianceDecay`` — the update of ``torch.nn.BatchNorm`` with momentum
    :math:`\lambda` (the variance is stored unbiased, as PyTorch does; MATLAB's
    exact choice is unconfirmed). MATLAB's default ``"population"`` statistics
    (recomputed over the training data after training) are the trainer's job.

    Args:
        num_channels: number of channels C, or ``'auto'`` to take it from the
            first input (MATLAB ``NumChannels``). Default: ``'auto'``.
        epsilon: constant added to the variance, at least 1e-5 (MATLAB ``Epsilon``). Default: ``1e-5``.
        offset_initializer, scale_initializer: ``'zeros'``, ``'ones'``,
            ``'narrow-normal'`` or a callable (MATLAB ``OffsetInitializer`` /
            ``ScaleInitializer``). Default: ``'zeros'`` / ``'ones'``.
        offset, scale: initial values, C elements in any shape (MATLAB ``Offset`` / ``Scale``). Default: ``None``.
        offset_learn_rate_factor, scale_learn_rate_factor, offset_l2_factor,
            scale_l2_factor: MATLAB ``OffsetLearnRateFactor`` … ``ScaleL2Factor``. Default: ``1``.
        name: layer name (MATLAB ``Name``). Default: ``''``.
        mean_decay, variance_decay: decay λ of the running statistics, in [0, 1]
            (MATLAB ``MeanDecay`` / ``VarianceDecay``). Default: ``0.1``.
        trained_mean, trained_variance: initial running statistics (MATLAB
            ``TrainedMean`` / ``TrainedVariance``). Default: zeros / ones.

    Shape:
        Output = input; statistics per channel over all other axes.
        (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB, (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT.

    Learnables:
        scale γ: (C,), ones — MATLAB ``Scale`` is the C×1 / 1×1×C / 1×1×1×C view.
        offset β: (C,), zeros — MATLAB ``Offset``, same views.
        Buffers ``running_mean`` (zeros) / ``running_var`` (ones) are MATLAB
        ``TrainedMean`` / ``TrainedVariance``.

    Signals:
        ``batch_mean``, ``batch_variance`` (C,): :math:`\mu_c`, :math:`\sigma_c^2` of this
        mini-batch (training only); ``normalized`` (input layout): :math:`\hat x`;
        ``running_mean``, ``running_variance`` (C,): the running statistics after the update.

    Example:
        >>> bn = dltk.batchNormalizationLayer()
        >>> bn(torch.randn(8, 20, 5, 5)).shape, bn.description()
        (torch.Size([8, 20, 5, 5]), 'Batch normalization with 20 channels')

    MATLAB: batchNormalizationLayer(Name=Value)
    """

    signals = ("batch_mean", "batch_variance", "normalized", "running_mean", "running_variance")
    signal_docs = {
        "batch_mean": "per-channel mean of the mini-batch (training only), (C,)",
        "batch_variance": "per-channel biased variance of the mini-batch (training only), (C,)",
        "normalized": "x̂ = (x − μ)/√(σ² + ε) before Scale and Offset, input layout",
        "running_mean": "TrainedMean after this step's update, (C,)",
        "running_variance": "TrainedVariance after this step's update, (C,)",
    }
    matlab_name = "batchNormalizationLayer"
    type_name = "Batch Normalization"
    name_prefix = "batchnorm"
    torch_equivalent = "torch.nn.BatchNorm1d/2d/3d"
    _where = "batchNormalizationLayer"
    matlab_options = {
        **_AFFINE_OPTIONS,
        "MeanDecay": "mean_decay",
        "VarianceDecay": "variance_decay",
        "TrainedMean": "trained_mean",
        "TrainedVariance": "trained_variance",
    }

    def __init__(
        self,
        *,
        num_channels: int | str = "auto",
        epsilon: float = 1e-5,
        mean_decay: float = 0.1,
        variance_decay: float = 0.1,
        trained_mean: Any = None,
        trained_variance: Any = None,
        offset_initializer: Any = "zeros",
        scale_initializer: Any = "ones",
        offset: Any = None,
        scale: Any = None,
        offset_learn_rate_factor: float = 1.0,
        scale_learn_rate_factor: float = 1.0,
        offset_l2_factor: float = 1.0,
        scale_l2_factor: float = 1.0,
        name: str = "",
    ) -> None:
        self.mean_decay = number(self._where, "MeanDecay", mean_decay, low=0, high=1)
        self.variance_decay = number(self._where, "VarianceDecay", variance_decay, low=0, high=1)
        self._initial_stats = (trained_mean, trained_variance)
        super().__init__(
            num_channels=num_channels,
            epsilon=epsilon,
            offset_initializer=offset_initializer,
            scale_initializer=scale_initializer,
            offset=offset,
            scale=scale,
            offset_learn_rate_factor=offset_learn_rate_factor,
            scale_learn_rate_factor=scale_learn_rate_factor,
            offset_l2_factor=offset_l2_factor,
            scale_l2_factor=scale_l2_factor,
            name=name,
        )

    def _materialize(self, c: int, dtype: torch.dtype | None = None, device: Any = None) -> None:
        kw = {"dtype": dtype or torch.get_default_dtype(), "device": device}
        m0, v0 = self._initial_stats

        def as_c(v: Any, default: float) -> torch.Tensor:
            return torch.full((c,), default, **kw) if v is None else torch.as_tensor(v).to(**kw).reshape(c)

        self.register_buffer("running_mean", as_c(m0, 0.0))
        self.register_buffer("running_var", as_c(v0, 1.0))
        super()._materialize(c, dtype, device)

    MeanDecay = matlab_property("mean_decay")
    VarianceDecay = matlab_property("variance_decay")
    TrainedMean = property(
        lambda s: s._matlab_view(getattr(s, "running_mean", None)),
        lambda s, v: s._set(getattr(s, "running_mean", None), v),
        doc="MATLAB ``TrainedMean``.",
    )
    TrainedVariance = property(
        lambda s: s._matlab_view(getattr(s, "running_var", None)),
        lambda s, v: s._set(getattr(s, "running_var", None), v),
        doc="MATLAB ``TrainedVariance``.",
    )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._prepare(x)
        xc = channels_second(x, lay)  # (B, C, …)
        if self.training and xc.numel() // xc.shape[1] < 2:
            raise self._fail(
                "more than one value per channel in training mode",
                x,
                "use more observations, or layer.eval() to use the trained statistics",
            )
        if self._recorder is None and (not self.training or self.mean_decay == self.variance_decay):
            y = F.batch_norm(
                xc,
                self.running_mean,
                self.running_var,
                self.scale,
                self.offset,
                self.training,
                self.mean_decay,
                self.epsilon,
            )
            return channels_second(y, lay)
        return channels_second(self._explicit(xc, lay), lay)

    def _explicit(self, xc: torch.Tensor, lay: str) -> torch.Tensor:
        """The formula step by step, with signals (and decays that differ)."""
        shape = [1, -1] + [1] * (xc.ndim - 2)
        if self.training:
            dims = [0] + list(range(2, xc.ndim))
            var, mean = torch.var_mean(xc, dim=dims, correction=0)  # (C,), biased
            m = xc.numel() // xc.shape[1]
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), self.mean_decay)
                self.running_var.lerp_(var.detach() * (m / (m - 1)), self.variance_decay)
            self._emit("batch_mean", mean)
            self._emit("batch_variance", var)
        else:
            mean, var = self.running_mean, self.running_var
        xhat = (xc - mean.view(shape)) / torch.sqrt(var.view(shape) + self.epsilon)  # (B, C, …)
        self._emit("normalized", channels_second(xhat, lay), lay)
        self._emit("running_mean", self.running_mean.clone())
        self._emit("running_variance", self.running_var.clone())
        return self._affine(xhat, 1)

    def description(self) -> str:
        if self.num_channels == "auto":
            return "Batch normalization"
        return f"Batch normalization with {self.num_channels} channels"

    def extra_repr(self) -> str:
        return f"num_channels={self.num_channels!r}, epsilon={self.epsilon:g}, mean_decay={self.mean_decay:g}"


class GroupNormalization(_ChannelAffine):
    r"""Group normalization.

    Math:
        \hat x = \frac{x - \mu_{b,g}}{\sqrt{\sigma_{b,g}^2 + \epsilon}}, \qquad y = \gamma_c \hat x + \beta_c

    where the C channels are split into G consecutive groups of C/G channels,
    and :math:`\mu_{b,g}`, :math:`\sigma^2_{b,g}` are the mean and biased variance
    of observation :math:`b` over every element (channel of the group, time
    step, pixel) of group :math:`g`; :math:`\gamma` is ``Scale`` and
    :math:`\beta` ``Offset`` of the element's channel :math:`c`. The same
    computation in training and evaluation (no running statistics).
    ``'all-channels'`` (G = 1) is layer-norm-like; ``'channel-wise'`` (G = C)
    is instance-norm-like.

    Args:
        num_groups: a positive integer dividing C, ``'all-channels'`` or
            ``'channel-wise'`` (MATLAB ``numGroups``).
        num_channels: number of channels C, or ``'auto'`` to take it from the
            first input (MATLAB ``NumChannels``). Default: ``'auto'``.
        epsilon: constant added to the variance, at least 1e-5 (MATLAB ``Epsilon``). Default: ``1e-5``.
        offset_initializer, scale_initializer: ``'zeros'``, ``'ones'``,
            ``'narrow-normal'`` or a callable (MATLAB ``OffsetInitializer`` /
            ``ScaleInitializer``). Default: ``'zeros'`` / ``'ones'``.
        offset, scale: initial values, C elements in any shape (MATLAB ``Offset`` / ``Scale``). Default: ``None``.
        offset_learn_rate_factor, scale_learn_rate_factor, offset_l2_factor,
            scale_l2_factor: MATLAB ``OffsetLearnRateFactor`` … ``ScaleL2Factor``. Default: ``1``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Output = input. (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB, (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT.

    Learnables:
        scale γ: (C,), ones; offset β: (C,), zeros (MATLAB ``Scale`` / ``Offset`` views as in batch norm).

    Signals:
        ``group_mean``, ``group_variance`` (B, G): per observation and group;
        ``normalized`` (input layout): :math:`\hat x`.

    Example:
        >>> gn = dltk.groupNormalizationLayer(4)
        >>> gn(torch.randn(2, 8, 5, 5)).shape, gn.description()
        (torch.Size([2, 8, 5, 5]), 'Group normalization with 8 channels split into 4 groups')

    MATLAB: groupNormalizationLayer(numGroups, Name=Value)
    """

    signals = ("group_mean", "group_variance", "normalized")
    signal_docs = {
        "group_mean": "mean of each group of each observation, (B, G)",
        "group_variance": "biased variance of each group of each observation, (B, G)",
        "normalized": "x̂ before Scale and Offset, input layout",
    }
    matlab_name = "groupNormalizationLayer"
    type_name = "Group Normalization"
    name_prefix = "groupnorm"
    torch_equivalent = "torch.nn.GroupNorm"
    _where = "groupNormalizationLayer"
    matlab_positional = ("num_groups",)
    matlab_options = dict(_AFFINE_OPTIONS)

    def __init__(
        self,
        num_groups: int | str,
        *,
        num_channels: int | str = "auto",
        epsilon: float = 1e-5,
        offset_initializer: Any = "zeros",
        scale_initializer: Any = "ones",
        offset: Any = None,
        scale: Any = None,
        offset_learn_rate_factor: float = 1.0,
        scale_learn_rate_factor: float = 1.0,
        offset_l2_factor: float = 1.0,
        scale_l2_factor: float = 1.0,
        name: str = "",
    ) -> None:
        if isinstance(num_groups, str):
            self.num_groups: int | str = choice(self._where, "numGroups", num_groups, ("all-channels", "channel-wise"))
        else:
            self.num_groups = positive_int(self._where, "numGroups", num_groups)
        if isinstance(self.num_groups, int) and isinstance(num_channels, int) and num_channels % self.num_groups:
            raise OptionError(
                f"groupNormalizationLayer: numGroups {self.num_groups} must divide NumChannels {num_channels}."
            )
        super().__init__(
            num_channels=num_channels,
            epsilon=epsilon,
            offset_initializer=offset_initializer,
            scale_initializer=scale_initializer,
            offset=offset,
            scale=scale,
            offset_learn_rate_factor=offset_learn_rate_factor,
            scale_learn_rate_factor=scale_learn_rate_factor,
            offset_l2_factor=offset_l2_factor,
            scale_l2_factor=scale_l2_factor,
            name=name,
        )

    def _materialize(self, c: int, dtype: torch.dtype | None = None, device: Any = None) -> None:
        if isinstance(self.num_groups, int) and c % self.num_groups:
            raise LayerInputError(
                f"groupNormalizationLayer '{self.label}': expected a channel count divisible by "
                f"numGroups {self.num_groups}, got {c} channels."
            )
        super()._materialize(c, dtype, device)

    NumGroups = matlab_property("num_groups", readonly=True)

    @property
    def groups(self) -> int | None:
        """G as a number (None while NumChannels is 'auto' and numGroups is text)."""
        if isinstance(self.num_groups, int):
            return self.num_groups
        if self.num_groups == "all-channels":
            return 1
        return None if self.num_channels == "auto" else int(self.num_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._prepare(x)
        xc = channels_second(x, lay)  # (B, C, …)
        g = self.groups
        if self._recorder is None:
            y = F.group_norm(xc, g, self._parameters["scale"], self._parameters["offset"], self.epsilon)
            return channels_second(y, lay)
        xg = xc.reshape(xc.shape[0], g, -1)  # (B, G, elements of the group)
        var, mean = torch.var_mean(xg, dim=2, correction=0)  # (B, G)
        xhat = ((xg - mean[..., None]) / torch.sqrt(var[..., None] + self.epsilon)).reshape(xc.shape)
        self._emit("group_mean", mean, "BC")
        self._emit("group_variance", var, "BC")
        self._emit("normalized", channels_second(xhat, lay), lay)
        return channels_second(self._affine(xhat, 1), lay)

    def description(self) -> str:
        groups = f"'{self.num_groups}'" if isinstance(self.num_groups, str) else f"{self.num_groups} groups"
        if self.num_channels == "auto":
            return f"Group normalization with {groups}"
        return f"Group normalization with {self.num_channels} channels split into {self.groups} groups"

    def extra_repr(self) -> str:
        return f"num_groups={self.num_groups!r}, num_channels={self.num_channels!r}, epsilon={self.epsilon:g}"


class CrossChannelNormalization(Layer):
    r"""Local response (cross-channel) normalization. MATLAB: ``crossChannelNormalizationLayer(windowChannelSize)``.

    Math:
        y_c = \frac{x_c}{\left(K + \frac{\alpha}{w} \sum_{j=c-p}^{c+n} x_j^2\right)^{\beta}}

    where :math:`w` is ``WindowChannelSize``, the window of channel :math:`c`
    covers :math:`p = \lfloor (w-1)/2 \rfloor` previous and
    :math:`n = \lfloor w/2 \rfloor` next channels (channels outside 1…C count as
    zero), at the same observation and pixel; :math:`K`, :math:`\alpha`,
    :math:`\beta` are ``K``, ``Alpha``, ``Beta``. For odd :math:`w` this is
    ``torch.nn.LocalResponseNorm``; for even :math:`w` PyTorch puts the longer
    half of the window on the other side.

    Args:
        window_channel_size: window size w, 1…16 (MATLAB ``windowChannelSize``).
        alpha: multiplier α (MATLAB ``Alpha``). Default: ``1e-4``.
        beta: exponent β, positive (MATLAB ``Beta``). Default: ``0.75``.
        k: additive constant K, positive (MATLAB ``K``). Default: ``2``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Output = input: (B, C, H, W) SSCB, (B, C, D, H, W) SSSCB.

    Signals:
        ``scale`` (input layout): the denominator :math:`(K + \alpha/w \sum x_j^2)^\beta`.

    Example:
        >>> dltk.crossChannelNormalizationLayer(5)(torch.randn(2, 8, 4, 4)).shape
        torch.Size([2, 8, 4, 4])

    MATLAB: crossChannelNormalizationLayer(windowChannelSize, Name=Value)
    """

    signals = ("scale",)
    signal_docs = {"scale": "denominator (K + Alpha·ss/w)^Beta, input layout"}
    matlab_name = "crossChannelNormalizationLayer"
    type_name = "Cross Channel Normalization"
    name_prefix = "crossnorm"
    torch_equivalent = "torch.nn.LocalResponseNorm (odd window sizes)"
    matlab_positional = ("window_channel_size",)
    matlab_options = {"Alpha": "alpha", "Beta": "beta", "K": "k", "WindowChannelSize": "window_channel_size"}

    def __init__(
        self, window_channel_size: int, *, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0, name: str = ""
    ) -> None:
        super().__init__(name)
        w = "crossChannelNormalizationLayer"
        self.window_channel_size = positive_int(w, "windowChannelSize", window_channel_size)
        if self.window_channel_size > 16:
            raise OptionError(f"{w}: windowChannelSize must be at most 16, got {window_channel_size!r}.")
        self.alpha = number(w, "Alpha", alpha)
        self.beta = number(w, "Beta", beta, low=0, low_open=True)
        self.k = number(w, "K", k, low=0, low_open=True)

    WindowChannelSize = matlab_property("window_channel_size", readonly=True)
    Alpha = matlab_property("alpha")
    Beta = matlab_property("beta")
    K = matlab_property("k")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ("BCHW", "BCDHW"))
        w = self.window_channel_size
        sq = (x * x).flatten(2).unsqueeze(1)  # (B, 1, C, pixels)
        sq = F.pad(sq, (0, 0, (w - 1) // 2, w // 2))  # previous, next channels
        mean_sq = F.avg_pool2d(sq, (w, 1), stride=1).view_as(x)  # ss / w, (B, C, …)
        denom = (self.k + self.alpha * mean_sq) ** self.beta
        self._emit("scale", denom, lay)
        return x / denom

    def description(self) -> str:
        return f"cross channel normalization with {self.window_channel_size} channels per element"

    def extra_repr(self) -> str:
        return f"window_channel_size={self.window_channel_size}, alpha={self.alpha:g}, beta={self.beta:g}, k={self.k:g}"
