"""Pooling windows and switches on a digit (lesson 9)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..introspect import record
from ..matlab import averagePooling2dLayer, maxPooling2dLayer
from ._pixels import constant_note, pixel_axes, show_pixels
from .base import DltkWidget

__all__ = ["PoolingExplorer"]


class PoolingExplorer(DltkWidget):
    """Move pool size, stride and padding; see the windows, the pooled output and the switches.

    Left: the image (padding drawn around it) with the window of output pixel (0, 0) in red and
    of the next output pixel to the right in orange; with max pooling, blue circles mark every
    input pixel that won at least one window (bigger = more windows). Middle: the pooled output.
    Right: ``switch_mask`` (max: windows won per pixel) or ``window_count`` (average: real pixels
    per window). An output whose values are all equal says so in text.

    Args:
        image: one image (H, W), (1, H, W) or (1, 1, H, W) with values in [0, 1].
        size, stride: starting pool size and stride. Default: 2, 2.
        kind: ``'max'`` or ``'average'``. Default: ``'max'``.

    Attributes: controls ``size``, ``stride``, ``same`` (Padding='same'), ``kind``; ``layer`` (the
    pooling layer shown), ``signals`` (its recorded signals), ``output`` (the pooled image, numpy),
    ``note`` (the all-equal text), ``info`` (formula), ``view``.
    """

    def __init__(
        self, image: Any, size: int = 2, stride: int = 2, kind: str = "max", interactive: bool | None = None
    ) -> None:
        super().__init__(interactive)
        x = torch.as_tensor(np.asarray(image), dtype=torch.float32)
        self.x = x.reshape(1, 1, *x.shape[-2:])
        self.H, self.W = self.x.shape[-2:]
        fig = Figure(figsize=(8.0, 3.0), dpi=100)
        FigureCanvasAgg(fig)
        self.ax_in, self.ax_out, self.ax_sw = fig.subplots(1, 3)
        self.im_in = self.ax_in.imshow(self.x[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        self.win0 = self.ax_in.add_patch(Rectangle((-0.5, -0.5), 2, 2, fill=False, ec="#e41a1c", lw=2.5))
        self.win1 = self.ax_in.add_patch(Rectangle((1.5, -0.5), 2, 2, fill=False, ec="#ff8c00", lw=2, ls="--"))
        self.winners = self.ax_in.scatter([], [], s=[], facecolors="none", edgecolors="#00bfff", linewidths=2)
        self.im_out = self.ax_out.imshow(np.zeros((4, 4)), cmap="gray", vmin=0, vmax=1)
        cb_out = fig.colorbar(self.im_out, ax=self.ax_out, fraction=0.046, pad=0.03)
        self.im_sw = self.ax_sw.imshow(np.zeros((self.H, self.W)), cmap="viridis", vmin=0, vmax=4)
        self.cb_sw = fig.colorbar(self.im_sw, ax=self.ax_sw, fraction=0.046, pad=0.03)
        for cb in (cb_out, self.cb_sw):
            cb.ax.tick_params(labelsize=6)
        self.note = self.ax_out.text(
            0.5, 0.5, "", transform=self.ax_out.transAxes, ha="center", va="center", fontsize=8, wrap=True,
            bbox=dict(boxstyle="round", fc="white", ec="#555555", alpha=0.9),
        )  # fmt: skip
        fig.subplots_adjust(left=0.05, right=0.97, bottom=0.1, top=0.84, wspace=0.45)
        self.view = self._view(fig)
        self.size = self._w(W.IntSlider(size, min=1, max=4, description="Pool size"))
        self.stride = self._w(W.IntSlider(stride, min=1, max=4, description="Stride"))
        self.same = self._w(W.Checkbox(False, description="Padding='same'"))
        self.kind = self._w(W.Dropdown(options=["max", "average"], value=kind, description="Type"))
        self.info = self._w(W.HTMLMath())
        for control in (self.size, self.stride, self.same, self.kind):
            control.observe(self._guard(self.update), "value")
        self.box = self._w(
            W.VBox(
                [
                    W.HBox([self.size, self.stride]),
                    W.HBox([self.kind, self.same]),
                    self.view.widget,
                    self.info,
                    self.error_area,
                ]
            )
        )
        self.update()

    def build_layer(self) -> Any:
        k, s = self.size.value, self.stride.value
        opts = dict(Stride=s, Padding="same" if self.same.value else 0, Name="pool")
        return maxPooling2dLayer(k, **opts) if self.kind.value == "max" else averagePooling2dLayer(k, **opts)

    def update(self, change: Any = None) -> None:
        k, s, kind = self.size.value, self.stride.value, self.kind.value
        self.layer = self.build_layer()
        self.signals = record(self.layer, self.x)["pool"]
        (pt, pb), (pl, pr) = self.layer.pads_for((self.H, self.W))
        y = self.signals["output"][0, 0].numpy()
        self.output = y
        Ho, Wo = y.shape
        show_pixels(self.im_out, y)
        # input with its padding: pixel numbers stay those of the image (padding gets -1, -2, … or H, H+1, …)
        self.im_in.set_extent((pl - 0.5, pl + self.W - 0.5, pt + self.H - 0.5, pt - 0.5))
        pixel_axes(self.ax_in, self.H + pt + pb, self.W + pl + pr, offset=(pt, pl))
        for patch, j in ((self.win0, 0), (self.win1, 1)):
            patch.set_bounds(j * s - 0.5, -0.5, k, k)
            patch.set_visible(j < Wo)
        if kind == "max":
            counts = self.signals["switch_mask"][0, 0].numpy()
            rows, cols = np.nonzero(counts)
            self.winners.set_offsets(np.c_[cols + pl, rows + pt])
            self.winners.set_sizes(60 * counts[rows, cols])
            show_pixels(self.im_sw, counts)
            self.ax_sw.set_title("switch_mask:\nwindows won per pixel", fontsize=8)
        else:
            counts = self.signals["window_count"][0, 0].numpy()
            self.winners.set_offsets(np.empty((0, 2)))
            show_pixels(self.im_sw, counts)
            self.ax_sw.set_title("window_count:\nreal pixels per window", fontsize=8)
        self.im_sw.set_clim(0, max(float(counts.max()), 1.0))
        self.ax_in.set_title(f"input {self.H}×{self.W}\npadding t{pt} b{pb} l{pl} r{pr}", fontsize=8)
        self.ax_out.set_title(f"{kind} pooling output {Ho}×{Wo}", fontsize=8)
        what = "window's maximum" if kind == "max" else "window's average"
        constant_note(self.note, y, what)
        self.info.value = (
            rf"$H' = \lfloor ({self.H} + {pt} + {pb} - {k}) / {s} \rfloor + 1 = {Ho}$ &nbsp; — "
            f"<code>{self.layer.description()}</code>"
        )
        self.view.refresh(full=True)
