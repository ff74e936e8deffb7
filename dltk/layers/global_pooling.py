"""Global pooling layers: average and max over all spatial positions, singleton axes kept (MATLAB 1×1×C×N)."""

from __future__ import annotations

from typing import ClassVar

import torch

from .base import Layer

__all__ = ["GlobalAveragePooling2d", "GlobalAveragePooling3d", "GlobalMaxPooling2d", "GlobalMaxPooling3d"]

_SPATIAL_DIMS = {2: (-2, -1), 3: (-3, -2, -1)}  # the H, W (and D) axes, counted from the end


class GlobalAveragePooling2d(Layer):
    r"""Global average pooling: the mean of every channel over all spatial positions.

    Math:
        y_{b,c} = \frac{1}{HW} \sum_{i,j} x_{b,c,i,j}

    where :math:`H, W` are the input height and width (3-D: also depth :math:`D`).

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C, H, W) -> (B, C, 1, 1) (MATLAB SSCB h×w×C×B -> 1×1×C×B, singleton
        spatial axes kept); image sequences (B, T, C, H, W) -> (B, T, C, 1, 1).

    Learnables: none.

    Signals:
        none besides the output.

    Example:
        >>> dltk.globalAveragePooling2dLayer()(torch.randn(2, 3, 5, 5)).shape
        torch.Size([2, 3, 1, 1])

    MATLAB: globalAveragePooling2dLayer(Name=Value)
    """

    n: ClassVar[int] = 2
    layouts: ClassVar[tuple[str, ...]] = ("BCHW", "BTCHW")
    matlab_name = "globalAveragePooling2dLayer"
    type_name = "2-D Global Average Pooling"
    name_prefix = "gapool"
    torch_equivalent = "torch.nn.AdaptiveAvgPool2d(1)"

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name)

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return input_layouts[0] if input_layouts and input_layouts[0] in self.layouts else self.layouts[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, self.layouts)
        return x.mean(dim=_SPATIAL_DIMS[self.n], keepdim=True)

    def description(self) -> str:
        return "Global average pooling" if self.n == 2 else "3-D global average pooling"


class GlobalAveragePooling3d(GlobalAveragePooling2d):
    r"""3-D global average pooling: the mean of every channel over the volume.

    Math:
        y_{b,c} = \frac{1}{DHW} \sum_{t,i,j} x_{b,c,t,i,j}

    where :math:`D, H, W` are the input depth, height and width.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C, D, H, W) -> (B, C, 1, 1, 1); MATLAB SSSCB -> 1×1×1×C×B.

    Learnables: none.

    Signals:
        none besides the output.

    Example:
        >>> dltk.globalAveragePooling3dLayer()(torch.randn(2, 3, 4, 5, 5)).shape
        torch.Size([2, 3, 1, 1, 1])

    MATLAB: globalAveragePooling3dLayer(Name=Value)
    """

    n = 3
    layouts = ("BCDHW",)
    matlab_name = "globalAveragePooling3dLayer"
    type_name = "3-D Global Average Pooling"
    torch_equivalent = "torch.nn.AdaptiveAvgPool3d(1)"


class GlobalMaxPooling2d(GlobalAveragePooling2d):
    r"""Global max pooling: the largest value of every channel.

    Math:
        y_{b,c} = \max_{i,j} x_{b,c,i,j}

    where :math:`i, j` run over the height and width. The gradient goes to the
    winning position only (the first in row-major order on ties).

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C, H, W) -> (B, C, 1, 1) (MATLAB 1×1×C×B); (B, T, C, H, W) -> (B, T, C, 1, 1).

    Learnables: none.

    Signals:
        ``indices`` (output layout, int64): flat H·W index of each channel's maximum;
        ``switch_mask`` (input layout): 1 at the winning position, 0 elsewhere.

    Example:
        >>> dltk.globalMaxPooling2dLayer()(torch.randn(2, 3, 5, 5)).shape
        torch.Size([2, 3, 1, 1])

    MATLAB: globalMaxPooling2dLayer(Name=Value)
    """

    signals = ("indices", "switch_mask")
    signal_docs = {
        "indices": "flat spatial index (0-based) of each channel's maximum, int64, output layout",
        "switch_mask": "1 where an element is its channel's maximum, input layout",
    }
    matlab_name = "globalMaxPooling2dLayer"
    type_name = "2-D Global Max Pooling"
    name_prefix = "gmpool"
    torch_equivalent = "torch.nn.AdaptiveMaxPool2d(1)"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, self.layouts)
        flat = x.flatten(-self.n)  # (…, C, H·W)
        if self._recorder is None and not (x.requires_grad and torch.is_grad_enabled()):
            # no switches needed (no recording, no gradient to route): amax, ~6x faster on CPU than max
            # with indices; the same values, NaN included
            y = flat.amax(-1, keepdim=True)
            return y.view(*y.shape, *[1] * (self.n - 1))
        y, idx = flat.max(-1, keepdim=True)  # the gradient goes to the one switch, as MATLAB's and PyTorch's
        if self._recorder is not None:
            self._emit("indices", idx.view(*idx.shape, *[1] * (self.n - 1)), lay)
            if self._wants("switch_mask"):
                self._reserve(x.numel() * x.element_size(), "signal 'switch_mask'")
                mask = torch.zeros_like(flat).scatter_(-1, idx, 1.0)
                self._emit("switch_mask", mask.view(x.shape), lay)
        return y.view(*y.shape, *[1] * (self.n - 1))

    def description(self) -> str:
        return "Global max pooling" if self.n == 2 else "3-D global max pooling"


class GlobalMaxPooling3d(GlobalMaxPooling2d):
    r"""3-D global max pooling: the largest value of every channel over the volume.

    Math:
        y_{b,c} = \max_{t,i,j} x_{b,c,t,i,j}

    where :math:`t, i, j` run over depth, height and width.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        (B, C, D, H, W) -> (B, C, 1, 1, 1); MATLAB SSSCB -> 1×1×1×C×B.

    Learnables: none.

    Signals:
        ``indices`` (flat D·H·W index), ``switch_mask`` (input layout).

    Example:
        >>> dltk.globalMaxPooling3dLayer()(torch.randn(2, 3, 4, 5, 5)).shape
        torch.Size([2, 3, 1, 1, 1])

    MATLAB: globalMaxPooling3dLayer(Name=Value)
    """

    n = 3
    layouts = ("BCDHW",)
    matlab_name = "globalMaxPooling3dLayer"
    type_name = "3-D Global Max Pooling"
    torch_equivalent = "torch.nn.AdaptiveMaxPool3d(1)"
