"""Batch statistics and dropout masks, drawn again and again (lesson 8)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..introspect import record
from ..matlab import batchNormalizationLayer, dropoutLayer
from .base import DltkWidget

__all__ = ["DropoutExplorer", "BatchStatisticsExplorer"]


class DropoutExplorer(DltkWidget):
    """Move the dropout probability; see the mask and the output on a strip of images.

    Top: the input images side by side; middle: the mask dropout draws (1 = kept, a sequential
    0/1 scale); bottom: the output, kept pixels brightened by ``1/(1 − p)`` (fixed scale 0…2).
    **New mask** draws again with the same probability; the title reports the fraction kept and
    the means of input and output.

    Args:
        images: images (N, 1, H, W) or (N, H, W), shown side by side (4 is a good number).
        p: starting probability. Default: 0.5.

    Attributes: controls ``p``, ``new_mask``; ``layer`` (the dropout layer), ``mask``, ``output``
    (the last draw, (H, N·W) numpy), ``title``, ``view``.
    """

    def __init__(self, images: Any, p: float = 0.5, interactive: bool | None = None) -> None:
        super().__init__(interactive)
        imgs = np.asarray(images, dtype=np.float32)
        imgs = imgs.reshape(len(imgs), *imgs.shape[-2:])
        self.strip = torch.as_tensor(np.concatenate(list(imgs), axis=1))[None, None]  # (1, 1, H, N·W)
        H, Wd = self.strip.shape[-2:]
        fig = Figure(figsize=(8.0, 3.6), dpi=100)
        FigureCanvasAgg(fig)
        axes = fig.subplots(3, 1)
        self.im_x = axes[0].imshow(self.strip[0, 0].numpy(), cmap="gray", vmin=0, vmax=2)
        self.im_m = axes[1].imshow(np.ones((H, Wd)), cmap="viridis", vmin=0, vmax=1)
        self.im_y = axes[2].imshow(self.strip[0, 0].numpy(), cmap="gray", vmin=0, vmax=2)
        for ax, t in zip(axes, ("input x", "mask m\n(yellow = kept)", "output\ny = m·x / (1 − p)")):
            ax.set_ylabel(t, fontsize=7, rotation=0, ha="right", va="center")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor("#333333")
        for ax, im, label in zip(axes, (self.im_x, self.im_m, self.im_y), ("value", "kept", "value")):
            cb = fig.colorbar(im, cax=ax.inset_axes((1.01, 0.0, 0.015, 1.0)))  # as tall as the strip
            cb.ax.tick_params(labelsize=6)
            cb.set_label(label, fontsize=6)
        fig.subplots_adjust(left=0.2, right=0.9, top=0.88, bottom=0.03, hspace=0.15)
        self.title = fig.suptitle("", fontsize=8)
        self.view = self._view(fig)
        self.p = self._w(W.FloatSlider(p, min=0.0, max=0.9, step=0.05, description="Probability"))
        self.new_mask = self._w(W.Button(description="New mask"))
        self.layer = dropoutLayer(p)
        self.p.observe(self._guard(self.update), "value")
        self.new_mask.on_click(self._guard(self.update))
        self.box = self._w(W.VBox([W.HBox([self.p, self.new_mask]), self.view.widget, self.error_area]))
        self.update()

    def update(self, change: Any = None) -> None:
        p = self.p.value
        self.layer.Probability = p  # the MATLAB property, same as layer.probability
        self.layer.train()
        r = record(self.layer, self.strip)[self.layer.label]  # training mode: a fresh mask
        y = r["output"]
        m = r["mask"] if "mask" in r else torch.ones_like(self.strip)  # p = 0 draws no mask
        self.mask, self.output = m[0, 0].numpy(), y[0, 0].numpy()
        self.im_m.set_data(self.mask)
        self.im_y.set_data(self.output)
        self.title.set_text(
            f"p = {p:.2f}: kept {float(m.float().mean()):.0%} (expected {1 - p:.0%}); "
            f"mean in {float(self.strip.mean()):.3f}, out {float(y.mean()):.3f}"
        )
        self.view.refresh(full=True)


class BatchStatisticsExplorer(DltkWidget):
    """Draw random mini-batches; see how far each batch's mean of channel 0 is from the data's.

    Left: channel 0 of the drawn batch, with the mean over all the data (grey line) and this
    batch's ``batch_mean`` (red dashed). Right: the same values after batch normalization in
    training mode (signal ``normalized``).

    Args:
        features: all feature maps (N, C, H, W) to draw batches from.
        batch_size: starting batch size. Default: 16.
        seed: seed of the batch draws. Default: 0.

    Attributes: controls ``batch_size``, ``draw``; ``indices`` and ``batch_mean`` (of the last batch, channel 0),
    ``full_mean``, ``title``, ``view``.
    """

    def __init__(self, features: Any, batch_size: int = 16, seed: int = 0, interactive: bool | None = None) -> None:
        super().__init__(interactive)
        self.features = torch.as_tensor(features, dtype=torch.float32)
        self.full_mean = float(self.features[:, 0].mean())
        self.generator = torch.Generator().manual_seed(seed)
        fig = Figure(figsize=(8.0, 2.9), dpi=100)
        FigureCanvasAgg(fig)
        self.ax_x, self.ax_h = fig.subplots(1, 2)
        fig.subplots_adjust(left=0.07, right=0.98, top=0.8, bottom=0.16, wspace=0.25)
        self.title = fig.suptitle("", fontsize=8)
        self.view = self._view(fig)
        self.batch_size = self._w(W.IntSlider(batch_size, min=2, max=128, description="Batch size"))
        self.draw = self._w(W.Button(description="Draw a batch"))
        self.batch_size.observe(self._guard(self.update), "value")
        self.draw.on_click(self._guard(self.update))
        self.box = self._w(W.VBox([W.HBox([self.batch_size, self.draw]), self.view.widget, self.error_area]))
        self.update()

    def update(self, change: Any = None) -> None:
        self.indices = idx = torch.randperm(len(self.features), generator=self.generator)[: self.batch_size.value]
        bn = batchNormalizationLayer()
        r = record(bn, self.features[idx])[bn.label]
        self.batch_mean = float(r["batch_mean"][0])
        for ax, values, title in (
            (self.ax_x, self.features[idx, 0], "input x, channel 0"),
            (self.ax_h, r["normalized"][:, 0], "normalized x̂, channel 0"),
        ):
            ax.cla()
            ax.hist(values.flatten().numpy(), bins=30, range=(-3, 5), color="#4c72b0")
            ax.set_title(title, fontsize=8)
            ax.set_ylabel("count", fontsize=7)
            ax.tick_params(labelsize=7)
        self.ax_x.axvline(self.full_mean, color="#555555", lw=2)
        self.ax_x.axvline(self.batch_mean, color="#e41a1c", lw=1.5, ls="--")
        self.title.set_text(
            f"batch of {self.batch_size.value}: batch_mean {self.batch_mean:.3f} (red) vs "
            f"mean of all {len(self.features)} examples {self.full_mean:.3f} (grey)"
        )
        self.view.refresh(full=True)
