"""Grouped 2-D convolution (MATLAB ``groupedConvolution2dLayer``), incl. channel-wise (depth-wise)."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import OptionError
from ..options import choice, positive_int
from . import _spatial as sp
from .base import matlab_property
from .conv import _COMMON_OPTIONS, _Convolution

__all__ = ["GroupedConvolution2d"]


class GroupedConvolution2d(_Convolution):
    r"""Grouped 2-D convolution: split the channels into groups, convolve each group on its own.

    Math:
        y_{b,\,gF+f} = \beta_{g,f} + \sum_{c < C_g} W_{g,f,c} \star \tilde x_{b,\,gC_g + c}

    where :math:`g` is the group, :math:`F` = NumFiltersPerGroup,
    :math:`C_g` = NumChannelsPerGroup = C / NumGroups, :math:`\star` the 2-D
    cross-correlation of :class:`Convolution2d` (same stride, dilation and
    padding rules) and :math:`\tilde x` the padded input. Group :math:`g` sees
    the contiguous channel block :math:`[gC_g, (g+1)C_g)`; outputs are
    concatenated group after group. ``numGroups='channel-wise'`` makes one
    group per input channel (depth-wise convolution), set when the input is seen.

    Args:
        filter_size: filter height and width (MATLAB ``filterSize``).
        num_filters_per_group: filters per group (MATLAB ``numFiltersPerGroup``).
        num_groups: a positive integer or ``'channel-wise'`` (MATLAB ``numGroups``).
        num_channels_per_group: or ``'auto'`` (MATLAB ``NumChannelsPerGroup``). Default: ``'auto'``.
        stride, dilation_factor, padding, padding_value, weights_initializer,
            bias_initializer, weights, bias, learn-rate and L2 factors, name:
            as :class:`Convolution2d`. Glorot uses fan_in = kh·kw·C_g and
            fan_out = kh·kw·F (per group).

    Shape:
        (B, C, H, W) -> (B, F·G, H', W'); MATLAB SSCB -> SSCB. Image sequences
        (B, T, C, H, W) are convolved per time step. C must be NumGroups·C_g.

    Learnables:
        weight: (G·F, C_g, kh, kw), glorot. MATLAB ``Weights`` is the
            kh×kw×C_g×F×G view (writable).
        bias: (G·F,), zeros. MATLAB ``Bias`` is the 1×1×F×G view.

    Signals:
        ``padded_input`` (input layout), ``pre_bias`` (output layout).

    Example:
        >>> dw = dltk.groupedConvolution2dLayer(3, 1, "channel-wise", Padding="same")
        >>> dw(torch.randn(2, 4, 8, 8)).shape
        torch.Size([2, 4, 8, 8])

    MATLAB: groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups, Name=Value)
    """

    matlab_name = "groupedConvolution2dLayer"
    type_name = "Grouped Convolution"
    name_prefix = "groupedconv"
    torch_equivalent = "torch.nn.Conv2d(groups=G)"
    matlab_positional = ("filter_size", "num_filters_per_group", "num_groups")
    matlab_options = {**_COMMON_OPTIONS, "NumChannelsPerGroup": "num_channels_per_group"}

    def __init__(
        self,
        filter_size: Any,
        num_filters_per_group: int,
        num_groups: int | str,
        *,
        num_channels_per_group: int | str = "auto",
        **options: Any,
    ) -> None:
        where = self.matlab_name
        if isinstance(num_groups, str):
            self.num_groups: int | str = choice(where, "NumGroups", num_groups, ("channel-wise",))
        else:
            self.num_groups = positive_int(where, "NumGroups", num_groups)
        self.num_filters_per_group = positive_int(where, "NumFiltersPerGroup", num_filters_per_group)
        cpg = num_channels_per_group
        if isinstance(cpg, str) and cpg.lower() == "auto":
            if options.get("weights") is not None:
                cpg = int(torch.as_tensor(options["weights"]).shape[2])
        else:
            cpg = positive_int(where, "NumChannelsPerGroup", cpg)
        channels = cpg * self.num_groups if isinstance(cpg, int) and isinstance(self.num_groups, int) else "auto"
        if isinstance(cpg, int) and self.num_groups == "channel-wise" and cpg != 1:
            raise OptionError(f"{where}: 'channel-wise' groups have 1 channel each, got NumChannelsPerGroup {cpg}.")
        options.pop("num_channels", None)
        g = self.num_groups if isinstance(self.num_groups, int) else 1
        super().__init__(filter_size, self.num_filters_per_group * g, num_channels=channels, **options)

    def _channels_from_weights(self, shape: torch.Size) -> int:
        return int(shape[2] * shape[4])

    @property
    def groups(self) -> int:  # type: ignore[override]
        return self.num_groups if isinstance(self.num_groups, int) else self.num_channels

    def _check_groups(self, x: torch.Tensor, channels: int) -> None:
        if isinstance(self.num_groups, int) and channels % self.num_groups:
            raise self._fail(f"a channel count divisible by NumGroups {self.num_groups}", x, f"C is {channels}")

    def _materialize(self, channels: int, dtype: torch.dtype | None = None, device: Any = None) -> None:
        if self.num_groups == "channel-wise":
            self.num_groups = channels
            self.num_filters = self.num_filters_per_group * channels
        super()._materialize(channels, dtype, device)

    def setup(self, example_inputs: list[torch.Tensor], layouts: list[str | None]) -> None:
        x = example_inputs[0]
        lay = layouts[0] if layouts and layouts[0] else self._layout_of(x)
        if lay in self.layouts:
            self._check_groups(x, int(x.shape[lay.index("C")]))
        super().setup(example_inputs, layouts)

    NumGroups = matlab_property("num_groups", readonly=True)
    NumFiltersPerGroup = matlab_property("num_filters_per_group", readonly=True)

    @property
    def NumChannelsPerGroup(self) -> int | str:
        return "auto" if self.num_channels == "auto" else self.num_channels // self.groups

    @property
    def Weights(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Weights`` kh×kw×C_g×F×G: a view of ``weight`` (G·F, C_g, kh, kw)."""
        if self.weight is None:
            return None
        g = self.groups
        return self.weight.detach().view(g, -1, *self.weight.shape[1:]).permute(3, 4, 2, 1, 0)

    @Weights.setter
    def Weights(self, value: Any) -> None:  # noqa: N802
        self._set_view(self.Weights, value, "Weights")

    @property
    def Bias(self) -> torch.Tensor | None:  # noqa: N802
        """MATLAB ``Bias`` 1×1×F×G: a view of ``bias``."""
        return None if self.bias is None else self.bias.detach().view(self.groups, -1).t()[None, None]

    @Bias.setter
    def Bias(self, value: Any) -> None:  # noqa: N802
        self._set_view(self.Bias, value, "Bias")

    def description(self) -> str:
        g = self.num_groups if isinstance(self.num_groups, int) else "channel-wise"
        return (
            f"{g} groups of {self.num_filters_per_group} {sp.times(self.FilterSize)} convolutions "
            f"{self._describe_tail()}"
        )
