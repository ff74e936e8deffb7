"""Input normalizations and the pixel distribution they produce (lesson 5)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..introspect import record
from ..matlab import imageInputLayer
from ._pixels import show_pixels
from .base import DltkWidget

__all__ = ["NormalizationExplorer", "NORMALIZATIONS"]

NORMALIZATIONS = ("zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none")


class NormalizationExplorer(DltkWidget):
    """Pick a normalization and a normalization dimension; see one image and the histogram move.

    The widget builds ``imageInputLayer([h w c], Normalization=…, NormalizationDimension=…)``, fits
    it on the training images (as ``trainNetwork`` does), records ``raw`` and ``normalized`` for the
    first ``n_show`` of them and shows image 0 before and after (a diverging scale centred at 0:
    normalized values are signed; NaN pixels in green) and the histogram of all recorded values
    before (grey) and after (blue); its x-axis stops at the 0.1 % / 99.9 % quantiles.

    Args:
        X: training images (N, C, H, W) BCHW [MATLAB H×W×C×N SSCB] (grey: C = 1).
        n_show: how many images to record. Default: 300.

    Attributes: controls ``normalization``, ``dimension``; ``layer`` (the fitted input layer),
    ``raw``, ``normalized`` (numpy, the recorded signals), ``stats`` (HTML), ``ax_hist``, ``view``.
    """

    def __init__(self, X: Any, n_show: int = 300, interactive: bool | None = None) -> None:
        super().__init__(interactive)
        self.X = np.asarray(X)
        self.x_show = torch.as_tensor(self.X[:n_show])
        self.size = [int(self.X.shape[2]), int(self.X.shape[3]), int(self.X.shape[1])]
        fig = Figure(figsize=(8.0, 3.0), dpi=100)
        FigureCanvasAgg(fig)
        self.ax_raw, self.ax_norm, self.ax_hist = fig.subplots(1, 3, width_ratios=[1, 1, 1.6])
        first = self.x_show[0, 0].numpy()
        self.im_raw = self.ax_raw.imshow(first, cmap="gray", vmin=0, vmax=1)
        self.im_norm = self.ax_norm.imshow(first, cmap=colormaps["RdBu_r"].with_extremes(bad="#00b050"))
        for im in (self.im_raw, self.im_norm):
            cb = fig.colorbar(im, ax=im.axes, fraction=0.046, pad=0.03)
            cb.ax.tick_params(labelsize=6)
        show_pixels(self.im_raw, first)
        self.ax_raw.set_title("raw", fontsize=8)
        self.ax_norm.set_title("normalized", fontsize=8)
        self.edges0 = np.linspace(0, 1, 41)
        self.ax_hist.stairs(
            np.histogram(self.x_show.numpy(), self.edges0)[0], self.edges0, fill=True, color="#bbbbbb", label="raw"
        )
        self.hist_norm = self.ax_hist.stairs(
            np.zeros(40), self.edges0, fill=True, color="#1f77b4", alpha=0.6, label="normalized"
        )
        self.ax_hist.legend(fontsize=7, loc="upper right")
        self.ax_hist.set_xlabel("pixel value", fontsize=8)
        self.ax_hist.tick_params(labelsize=7)
        fig.subplots_adjust(left=0.04, right=0.98, bottom=0.16, top=0.78, wspace=0.45)
        self.view = self._view(fig)
        self.normalization = self._w(
            W.Dropdown(
                options=list(NORMALIZATIONS),
                value="zerocenter",
                description="Normalization",
                style={"description_width": "95px"},
            )
        )
        self.dimension = self._w(
            W.Dropdown(
                options=["auto", "element", "all"],
                value="auto",
                description="Dimension",
                style={"description_width": "70px"},
            )
        )
        self.stats = self._w(W.HTML())
        for control in (self.normalization, self.dimension):
            control.observe(self._guard(self.update), "value")
        self.box = self._w(
            W.VBox([W.HBox([self.normalization, self.dimension]), self.view.widget, self.stats, self.error_area])
        )
        self.update()

    def fit(self) -> Any:
        """The input layer with the chosen options, fitted on the training images."""
        lay = imageInputLayer(
            self.size, Normalization=self.normalization.value, NormalizationDimension=self.dimension.value
        )
        lay.fit_normalization(self.X)
        return lay

    def update(self, change: Any = None) -> None:
        self.layer = lay = self.fit()
        r = record(lay, self.x_show)[lay.label]
        self.raw, self.normalized = r["raw"].numpy(), r["normalized"].numpy()
        y = self.normalized
        show_pixels(self.im_norm, y[0, 0])
        finite = y[np.isfinite(y)]
        lo, hi = min(0.0, float(np.quantile(finite, 0.001))), max(1.0, float(np.quantile(finite, 0.999)))
        m = max(-lo, hi)
        self.im_norm.set_clim(-m, m)
        edges = np.linspace(lo, hi, 41)
        self.hist_norm.set_data(np.histogram(np.clip(finite, lo, hi), edges)[0], edges)
        self.ax_hist.set_xlim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        top = max(np.histogram(self.raw, self.edges0)[0].max(), self.hist_norm.get_data().values.max())
        self.ax_hist.set_ylim(0, 1.05 * top)
        n_nan = int(np.isnan(y).sum())
        self.ax_hist.set_title(
            f"{lay.description()}\nnormalized: mean {finite.mean():+.2f}, std {finite.std():.2f}\n"
            f"range [{finite.min():.2f}, {finite.max():.2f}]" + (f", {n_nan} NaN" if n_nan else ""),
            fontsize=7,
        )
        shapes = {
            k: tuple(getattr(lay, k).shape)
            for k in ("Mean", "StandardDeviation", "Min", "Max")
            if getattr(lay, k) is not None
        }
        self.stats.value = (
            f"<code>{lay.matlab_name}([{' '.join(map(str, self.size))}], "
            f"Normalization='{self.normalization.value}', NormalizationDimension='{self.dimension.value}')</code>"
            " — statistics (MATLAB shapes): "
            + (", ".join(f"{k} {'×'.join(map(str, s))}" for k, s in shapes.items()) or "none")
        )
        self.view.refresh(full=True)
