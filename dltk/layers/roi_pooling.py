"""ROI max pooling (MATLAB ``roiMaxPooling2dLayer``, Fast R-CNN)."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import LayerInputError
from ..options import int_tuple
from .base import Layer

__all__ = ["ROIMaxPooling2d"]


def bin_edges(start: torch.Tensor, length: torch.Tensor, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[start, end) of the ``n`` bins of every region along one axis, (R, n) int64 each.

    A region covering ``L`` pixels from ``s`` (0-based) is split into bins
    ``[s + ⌊iL/n⌋, s + ⌈(i+1)L/n⌉)``, clipped to ``0 … size``; a bin can be empty.
    """
    i = torch.arange(n, device=start.device)
    lo = start[:, None] + torch.div(i * length[:, None], n, rounding_mode="floor")
    hi = start[:, None] + torch.div((i + 1) * length[:, None] + (n - 1), n, rounding_mode="floor")
    return lo.clamp(0, size), hi.clamp(0, size)


def _bin_max(v: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, axis: int) -> torch.Tensor:
    """Max of ``v`` (R, …) along ``axis`` over each region's bins ``[lo, hi)`` (R, n).

    Returns ``v`` with ``axis`` replaced by the n bins (−inf for empty bins).
    Every bin reads the slots ``lo … lo+K−1`` (K the longest bin) through one
    gather; slots past ``hi`` are −inf, so each bin's maximum, and the way
    its gradient is shared between tied elements, is that of the bin alone.
    """
    R, n = lo.shape
    K = max(int((hi - lo).max()), 1) if R else 1
    slots = lo[:, :, None] + torch.arange(K, device=lo.device)  # (R, n, K)
    valid = slots < hi[:, :, None]
    shape = [R] + [1] * (v.ndim - 1)
    shape[axis] = n * K
    index = slots.clamp(max=v.shape[axis] - 1).reshape(shape)
    size = list(v.shape)
    size[axis] = n * K
    picked = v.gather(axis, index.expand(size)).unflatten(axis, (n, K))
    shape.insert(axis + 1, 1)
    shape[axis], shape[axis + 1] = n, K
    return torch.where(valid.reshape(shape), picked, -torch.inf).amax(axis + 1)


class ROIMaxPooling2d(Layer):
    r"""ROI max pooling: cut every region of interest into a fixed grid of bins, keep each bin's maximum.

    MATLAB: ``roiMaxPooling2dLayer(outputSize, Name=Value)`` (Computer Vision
    Toolbox); inputs ``'in'`` (feature map) and ``'roi'`` (regions, e.g. from
    ``roiInputLayer``).

    Math:
        y_{r,c,i,j} = \max_{(u,v) \in \mathcal B_{r,i,j}} x_{b_r,c,u,v}
        \quad (0 \text{ if } \mathcal B_{r,i,j} = \emptyset)

    where :math:`r` is the region, :math:`b_r` its observation, :math:`c` the
    channel and :math:`\mathcal B_{r,i,j}` bin :math:`(i, j)` of region
    :math:`r`: along each axis a region of :math:`L` pixels starting at
    :math:`s` is split into bins :math:`[s + \lfloor iL/n\rfloor,\ s + \lceil (i+1)L/n\rceil)`
    (neighbouring bins may share a pixel when :math:`L` is not a multiple of
    :math:`n`), clipped to the feature map. ROI coordinates are feature-map
    pixels (no spatial scale); fractional coordinates are rounded.

    Args:
        output_size: bins per region [height width] or a scalar (MATLAB ``outputSize``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ``in`` (B, C, H, W) [MATLAB H×W×C×B SSCB]; ``roi`` (R, 5) rows
        ``[batch_index, x, y, w, h]`` — batch_index 0-based, (x, y) the upper-left
        pixel 1-based as in MATLAB, w, h in pixels (the ``roiInputLayer``
        convention) -> (R, C, oh, ow) [MATLAB oh×ow×C×R].

    Learnables: none.

    Signals:
        ``boxes`` (R, 4) int64: the feature-map pixels each region covers after
        rounding and clipping, 0-based ``[row_start, col_start, row_end, col_end)``
        (end exclusive).

    Example:
        >>> pool = dltk.roiMaxPooling2dLayer([2, 2])
        >>> pool(torch.randn(1, 3, 8, 8), torch.tensor([[0., 1, 1, 4, 4]])).shape
        torch.Size([1, 3, 2, 2])

    MATLAB: roiMaxPooling2dLayer(outputSize, Name=Value)
    """

    signals = ("boxes",)
    signal_docs = {"boxes": "covered feature-map pixels per region, (R, 4) int64 [row0, col0, row1, col1) 0-based"}
    matlab_name = "roiMaxPooling2dLayer"
    type_name = "ROI Max Pooling"
    name_prefix = "roipool"
    torch_equivalent = "torchvision.ops.roi_pool (other box convention)"
    matlab_positional = ("output_size",)

    def __init__(self, output_size: Any, *, name: str = "") -> None:
        super().__init__(name)
        self.output_size = int_tuple(self.matlab_name, "OutputSize", output_size, 2)

    @property
    def OutputSize(self) -> tuple[int, int]:
        return self.output_size

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("in", "roi")

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return "BCHW"

    def forward(self, x: torch.Tensor, roi: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "BCHW")
        if not isinstance(roi, torch.Tensor) or roi.ndim != 2 or roi.shape[1] != 5 or not roi.is_floating_point():
            got = f"{tuple(roi.shape)} {roi.dtype}" if isinstance(roi, torch.Tensor) else type(roi).__name__
            raise LayerInputError(
                f"{self.matlab_name} '{self.label}': expected 'roi' as (R, 5) float rows "
                f"[batch_index x y w h] [MATLAB M×4 [x y w h] per image], got {got}."
            )
        if roi.numel() and not bool(torch.isfinite(roi).all()):
            raise LayerInputError(f"{self.matlab_name} '{self.label}': expected finite 'roi' rows, got NaN or Inf.")
        if roi.numel() and not bool((roi[:, 3:] > 0).all()):  # (a region not from roiInputLayer is checked too)
            k = int((roi[:, 3:] <= 0).any(1).nonzero()[0, 0])
            raise LayerInputError(
                f"{self.matlab_name} '{self.label}': expected positive widths and heights in 'roi' "
                f"(columns 4 and 5), got {roi[k, 3:].tolist()} in row {k}."
            )
        B, C, H, W = x.shape
        oh, ow = self.output_size
        r = roi.round().long()  # round half to even, as Python's round()
        b = r[:, 0]
        bad = (b < 0) | (b >= B)
        if bool(bad.any()):
            k = int(bad.nonzero()[0, 0])
            raise LayerInputError(
                f"{self.matlab_name} '{self.label}': expected batch indices 0 … {B - 1} in 'roi' "
                f"(0-based, column 1), got {int(b[k])} in row {k}."
            )
        rows = bin_edges(r[:, 2] - 1, r[:, 4].clamp(min=1), oh, H)  # (R, oh) [start, end)
        cols = bin_edges(r[:, 1] - 1, r[:, 3].clamp(min=1), ow, W)  # (R, ow)
        if self._recorder is not None:
            boxes = torch.stack([rows[0][:, 0], cols[0][:, 0], rows[1][:, -1], cols[1][:, -1]], 1)
            self._emit("boxes", boxes.reshape(-1, 4), None)
        if roi.shape[0] == 0:
            return x.new_zeros(0, C, oh, ow)
        # max is separable over rectangles: first over the rows of each row bin, then the columns
        t = _bin_max(x.index_select(0, b), *rows, axis=2)  # (R, C, oh, W)
        t = _bin_max(t, *cols, axis=3)  # (R, C, oh, ow)
        return torch.where(torch.isinf(t) & (t < 0), torch.zeros_like(t), t)

    def description(self) -> str:
        return f"ROI max pooling with output size {self.output_size[0]}×{self.output_size[1]}"

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
