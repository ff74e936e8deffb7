"""Stride, padding and dilation of a convolution on a digit (lesson 6)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..errors import LayerInputError
from ..introspect import record
from ..matlab import convolution2dLayer
from ._pixels import show_pixels
from .base import DltkWidget

__all__ = ["ConvExplorer", "SOBEL_X"]

#: a vertical-edge (Sobel) filter: bright on the left, dark on the right -> positive
SOBEL_X = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


class ConvExplorer(DltkWidget):
    """Move stride, padding and dilation of a 3×3 convolution; see the taps and the feature map.

    Left: the padded input (the image inside a yellow frame; pixel numbers are the image's, padding
    gets negative ones) with the filter taps of output pixel (0, 0) in red and of the next output
    pixel to the right in orange. Right: the feature map with the same two pixels marked, on a
    diverging colour scale centred at 0 (the values are signed). When the dilated filter does not
    fit into the padded input, the widget says so instead of drawing.

    Args:
        image: one image (H, W), (1, H, W) or (1, 1, H, W).
        filter: the 3×3 filter (MATLAB ``Weights(:, :, 1, 1)``). Default: :data:`SOBEL_X`.

    Attributes: controls ``stride``, ``padding``, ``dilation``, ``same``; ``layer`` (the
    convolution shown, or None when it does not fit), ``padded`` and ``output`` (numpy),
    ``formula`` (HTML), ``view``.
    """

    def __init__(self, image: Any, filter: Any = None, interactive: bool | None = None) -> None:
        super().__init__(interactive)
        x = torch.as_tensor(np.asarray(image), dtype=torch.float32)
        self.x = x.reshape(1, 1, *x.shape[-2:])
        self.H, self.W = self.x.shape[-2:]
        self.filter = torch.as_tensor(SOBEL_X if filter is None else filter, dtype=torch.float32).reshape(3, 3)
        fig = Figure(figsize=(8.0, 3.6), dpi=100)
        FigureCanvasAgg(fig)
        self.ax_in, self.ax_out = fig.subplots(1, 2)
        self.im_in = self.ax_in.imshow(np.zeros((self.H, self.W)), cmap="gray", vmin=0, vmax=1)
        self.frame = self.ax_in.add_patch(Rectangle((-0.5, -0.5), self.W, self.H, fill=False, ec="#f5c400", lw=2))
        self.taps0 = self.ax_in.scatter([], [], s=60, c="#e41a1c", marker="s", alpha=0.75)
        self.taps1 = self.ax_in.scatter([], [], s=25, c="#ff8c00", marker="o")
        cb_in = fig.colorbar(self.im_in, ax=self.ax_in, fraction=0.046, pad=0.03)
        cb_in.ax.tick_params(labelsize=6)
        cb_in.set_label("pixel value (padding = 0)", fontsize=7)
        self.im_out = self.ax_out.imshow(np.zeros((self.H - 2, self.W - 2)), cmap="RdBu_r", vmin=-1, vmax=1)
        cb = fig.colorbar(self.im_out, ax=self.ax_out, fraction=0.046, pad=0.03)
        cb.ax.tick_params(labelsize=6)
        cb.set_label("feature value (0 = white)", fontsize=7)
        self.mark0 = self.ax_out.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="#e41a1c", lw=2.5))
        self.mark1 = self.ax_out.add_patch(Rectangle((0.5, -0.5), 1, 1, fill=False, ec="#ff8c00", lw=2.5))
        fig.subplots_adjust(left=0.05, right=0.93, bottom=0.08, top=0.86, wspace=0.25)
        self.view = self._view(fig)
        self.stride = self._w(W.IntSlider(1, 1, 4, description="Stride"))
        self.padding = self._w(W.IntSlider(0, 0, 3, description="Padding"))
        self.dilation = self._w(W.IntSlider(1, 1, 3, description="Dilation"))
        self.same = self._w(W.Checkbox(False, description="Padding='same'"))
        self.formula = self._w(W.HTMLMath())
        for control in (self.stride, self.padding, self.dilation, self.same):
            control.observe(self._guard(self.update), "value")
        self.box = self._w(
            W.VBox(
                [
                    W.HBox([self.stride, self.padding]),
                    W.HBox([self.dilation, self.same]),
                    self.view.widget,
                    self.formula,
                    self.error_area,
                ]
            )
        )
        self.update()

    def build_layer(self) -> Any:
        return convolution2dLayer(
            3,
            1,
            Stride=self.stride.value,
            DilationFactor=self.dilation.value,
            Padding="same" if self.same.value else self.padding.value,
            Weights=self.filter.reshape(3, 3, 1, 1),
            Bias=0,
        )

    def update(self, change: Any = None) -> None:
        s, d = self.stride.value, self.dilation.value
        self.padding.disabled = self.same.value
        layer = self.build_layer()
        try:
            r = record(layer, self.x)[layer.label]
        except LayerInputError as err:  # the dilated filter is bigger than the padded input
            self.layer, self.output = None, None
            self.ax_out.set_title("no output:\n" + str(err).split(": expected")[0][:60], fontsize=7, color="#b00020")
            show_pixels(self.im_out, np.full((1, 1), np.nan))
            self.taps0.set_offsets(np.empty((0, 2)))
            self.taps1.set_offsets(np.empty((0, 2)))
            self.mark0.set_visible(False)
            self.mark1.set_visible(False)
            self.formula.value = f"the effective filter size {d * 2 + 1} does not fit into the padded input"
            self.view.refresh(full=True)
            return
        self.layer = layer
        self.padded = xp = r["padded_input"][0, 0].numpy()
        self.output = y = r["output"][0, 0].numpy()
        (pt, pb), (pl, pr) = layer.pads_for((self.H, self.W))
        Hp, Wp = xp.shape
        show_pixels(self.im_in, xp, offset=(pt, pl))
        self.frame.set_xy((pl - 0.5, pt - 0.5))
        uu, vv = np.meshgrid(np.arange(3) * d, np.arange(3) * d, indexing="ij")
        self.taps0.set_offsets(np.c_[vv.ravel(), uu.ravel()])  # (x = column, y = row)
        has_next = y.shape[1] > 1
        self.taps1.set_offsets(np.c_[vv.ravel() + s, uu.ravel()] if has_next else np.empty((0, 2)))
        Ho, Wo = y.shape
        show_pixels(self.im_out, y)
        m = max(float(np.abs(y).max()), 1e-6)
        self.im_out.set_clim(-m, m)  # diverging scale centred at 0
        self.mark0.set_visible(True)
        self.mark1.set_visible(has_next)
        self.ax_in.set_title(f"padded input {Hp}×{Wp}  (padding t{pt} b{pb} l{pl} r{pr})", fontsize=8)
        self.ax_out.set_title(f"feature map {Ho}×{Wo}", fontsize=8, color="black")
        self.formula.value = (
            rf"$H' = \lfloor ({self.H} + {pt} + {pb} - ({d}\cdot 2 + 1)) / {s} \rfloor + 1 = {Ho}$"
            f" &nbsp; — <code>{layer.description()}</code>"
        )
        self.view.refresh(full=True)
