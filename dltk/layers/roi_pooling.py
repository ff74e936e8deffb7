"""ROI max pooling (MATLAB ``roiMaxPooling2dLayer``, Fast R-CNN)."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import LayerInputError
from ..options import int_tuple
from .base import Layer

__all__ = ["ROIMaxPooling2d"]


def roi_bins(roi: torch.Tensor, height: int, width: int, out: tuple[int, int]) -> tuple[int, list, list]:
    """Observation index and the [start, end) rows/columns of every bin of one ROI row.

    The ROI ``[b, x, y, w, h]`` (b 0-based; x, y 1-based pixels; w, h pixels)
    covers columns ``x … x+w−1`` and rows ``y … y+h−1`` (rounded to whole
    pixels, at least one pixel). Bin ``i`` of ``n`` along an axis covering
    ``L`` pixels from ``s`` spans ``[s + ⌊iL/n⌋, s + ⌈(i+1)L/n⌉)``, clipped to the
    feature map; a bin can be empty (then its output is 0).
    """
    b, x, y, w, h = (float(v) for v in roi.tolist())
    col0, row0 = round(x) - 1, round(y) - 1
    cols, rows = max(round(w), 1), max(round(h), 1)

    def edges(start: int, length: int, n: int, size: int) -> list[tuple[int, int]]:
        def clip(v: int) -> int:
            return min(max(v, 0), size)

        lo = [clip(start + math.floor(i * length / n)) for i in range(n)]
        return [(a, clip(start + math.ceil((i + 1) * length / n))) for i, a in enumerate(lo)]

    return round(b), edges(row0, rows, out[0], height), edges(col0, cols, out[1], width)


class ROIMaxPooling2d(Layer):
    r"""ROI max pooling: cut every region of interest into a fixed grid of bins, keep each bin's maximum.

    MATLAB: ``roiMaxPooling2dLayer(outputSize, Name=Value)`` (Computer Vision
    Toolbox); inputs ``'in'`` (feature map) and ``'roi'`` (regions, e.g. from
    ``roiInputLayer``).

    .. math::
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
        B, C, H, W = x.shape
        oh, ow = self.output_size
        outs, boxes = [], []
        for r in range(roi.shape[0]):
            b, rows, cols = roi_bins(roi[r], H, W, self.output_size)
            if not 0 <= b < B:
                raise LayerInputError(
                    f"{self.matlab_name} '{self.label}': expected batch indices 0 … {B - 1} in 'roi' "
                    f"(0-based, column 1), got {b} in row {r}."
                )
            boxes.append([rows[0][0], cols[0][0], rows[-1][1], cols[-1][1]])
            ar = torch.arange(H, device=x.device)
            ac = torch.arange(W, device=x.device)
            in_row = torch.stack([(ar >= s) & (ar < e) for s, e in rows])  # (oh, H)
            in_col = torch.stack([(ac >= s) & (ac < e) for s, e in cols])  # (ow, W)
            # max is separable over rectangles: first over the rows of each row bin, then columns
            t = torch.where(in_row[None, :, :, None], x[b, :, None], -torch.inf).amax(2)  # (C, oh, W)
            t = torch.where(in_col[None, None], t[:, :, None], -torch.inf).amax(-1)  # (C, oh, ow)
            outs.append(torch.where(torch.isinf(t) & (t < 0), torch.zeros_like(t), t))
        if self._recorder is not None:
            self._emit("boxes", torch.tensor(boxes, dtype=torch.int64, device=x.device).reshape(-1, 4), None)
        if not outs:
            return x.new_zeros(0, C, oh, ow)
        return torch.stack(outs)

    def description(self) -> str:
        return f"ROI max pooling with output size {self.output_size[0]}×{self.output_size[1]}"

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
