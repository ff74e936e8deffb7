"""One proposal of a two-stage detector at a time: its box, ROI-pooled features, class and deltas (lesson 13)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..viz.style import image_scale
from .base import DltkWidget

__all__ = ["ProposalExplorer"]


class ProposalExplorer(DltkWidget):
    """Pick an image and one of its K proposals; see what the detection head made of it.

    Left: the image with all proposals (grey), the chosen one (dashed yellow) and its refined box
    (green when the head says *object*, red for *background*). Middle: the proposal's ROI-pooled
    features, C channels of b×b bins tiled in rows of 8. Right: the class probabilities and the
    four box deltas ``(t_x, t_y, t_w, t_h)`` of the predicted class. Everything is computed before
    (the widget only shows it), so moving a slider is instant.

    Args:
        X: the images (N, 1, H, W) BCHW [MATLAB H×W×1×N SSCB].
        dets: one dict per image with ``proposals`` (K, 4) boxes ``[x, y, w, h]`` (0-based,
            continuous pixel coordinates), ``objectness`` (K,), ``probs`` (K, classes + 1, background
            last), ``deltas`` (K, 4) and ``refined`` (K, 4).
        feats: ROI-pooled features (N·K, C, b, b), proposal ``r`` of image ``i`` at ``i·K + r``.
        classes: the object class names (background is added).

    Attributes: ``image``, ``proposal`` (sliders), ``sel``, ``ref`` (the two rectangles),
    ``cls_bars``, ``dt_bars``, ``feat`` (the feature image), ``title``, ``view``.
    """

    def __init__(
        self, X: Any, dets: Sequence[dict], feats: Any, classes: Sequence[str], interactive: bool | None = None
    ) -> None:
        super().__init__(interactive)
        self.X, self.dets, self.feats = np.asarray(X), list(dets), feats
        self.classes = [*classes, "background"]
        self.K = len(self.dets[0]["proposals"])
        C, b = int(feats.shape[1]), int(feats.shape[-1])
        self.tiles = (max(1, -(-C // 8)), min(C, 8))  # rows × columns of b×b tiles
        H, Wd = self.X.shape[-2:]
        fig = Figure(figsize=(8.0, 2.9), dpi=100)
        FigureCanvasAgg(fig)
        ax_img, ax_feat, ax_cls, ax_dt = fig.subplots(1, 4, width_ratios=[1.2, 1.6, 0.8, 0.8])
        cmap, norm = image_scale(self.X)  # one scale for every image: diverging around 0 if any is signed
        self.img = ax_img.imshow(self.X[0, 0], cmap=cmap, norm=norm)
        cb_img = fig.colorbar(self.img, ax=ax_img, fraction=0.046, pad=0.02)
        cb_img.ax.tick_params(labelsize=6)
        self.prop_rects = [
            ax_img.add_patch(Rectangle((0, 0), 1, 1, fill=False, ec="#9a9a9a", lw=0.8)) for _ in range(self.K)
        ]
        self.sel = ax_img.add_patch(Rectangle((0, 0), 1, 1, fill=False, ec="#ffd000", lw=2, ls="--"))
        self.ref = ax_img.add_patch(Rectangle((0, 0), 1, 1, fill=False, ec="#20c020", lw=2))
        ax_img.set_xlim(-0.5, Wd - 0.5)
        ax_img.set_ylim(H - 0.5, -0.5)
        ax_img.set_xticks([])
        ax_img.set_yticks([])
        rows, cols = self.tiles
        vmax = float(max(float(feats.max()), 1e-6))
        self.feat = ax_feat.imshow(np.zeros((rows * b, cols * b)), cmap="viridis", vmin=0, vmax=vmax)
        for v in range(1, cols):
            ax_feat.axvline(v * b - 0.5, color="w", lw=0.5)
        for h in range(1, rows):
            ax_feat.axhline(h * b - 0.5, color="w", lw=0.5)
        ax_feat.set_title(f"ROI-pooled features ({C} ch × {b}×{b})", fontsize=8)
        ax_feat.set_xticks([])
        ax_feat.set_yticks([])
        cb = fig.colorbar(self.feat, ax=ax_feat, fraction=0.046, pad=0.02)
        cb.ax.tick_params(labelsize=6)
        n_cls = len(self.classes)
        self.cls_bars = ax_cls.bar(range(n_cls), np.zeros(n_cls), color=["#4c72b0", "#dd8452", "#8c8c8c"][:n_cls])
        ax_cls.set_xticks(range(n_cls), [c[:4] for c in self.classes], fontsize=7)
        ax_cls.set_ylim(0, 1)
        ax_cls.set_title("class prob.", fontsize=8)
        self.dt_bars = ax_dt.bar(range(4), [0, 0, 0, 0], color="#55a868")
        ax_dt.set_xticks(range(4), ["tx", "ty", "tw", "th"], fontsize=7)
        ax_dt.set_ylim(-3, 3)
        ax_dt.axhline(0, color="#999", lw=0.6)
        ax_dt.set_title("box deltas", fontsize=8)
        for ax in (ax_cls, ax_dt):
            ax.tick_params(labelsize=7)
        self.title = fig.suptitle("", fontsize=9)
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.12, top=0.8, wspace=0.4)
        self.view = self._view(fig)
        self.image = self._w(W.IntSlider(0, 0, len(self.dets) - 1, description="image"))
        self.proposal = self._w(W.IntSlider(0, 0, self.K - 1, description="proposal"))
        for s in (self.image, self.proposal):
            s.observe(self._guard(self.update), "value")
        self.box = self._w(W.VBox([W.HBox([self.image, self.proposal]), self.view.widget, self.error_area]))
        self.update()

    def tile(self, f: np.ndarray) -> np.ndarray:
        """(C, b, b) features -> one image of rows × 8 tiles."""
        rows, cols = self.tiles
        C, b = f.shape[0], f.shape[-1]
        full = np.zeros((rows * cols, b, b), f.dtype)
        full[:C] = f
        return full.reshape(rows, cols, b, b).transpose(0, 2, 1, 3).reshape(rows * b, cols * b)

    def update(self, change: Any = None) -> None:
        i, r = self.image.value, self.proposal.value
        d = self.dets[i]
        self.img.set_data(self.X[i, 0])
        for rect, p in zip(self.prop_rects, d["proposals"]):
            rect.set_bounds(p[0] - 0.5, p[1] - 0.5, p[2], p[3])
        p, q = d["proposals"][r], d["refined"][r]
        self.sel.set_bounds(p[0] - 0.5, p[1] - 0.5, p[2], p[3])
        self.ref.set_bounds(q[0] - 0.5, q[1] - 0.5, q[2], q[3])
        c = int(np.argmax(d["probs"][r]))
        self.ref.set_edgecolor("#20c020" if c < len(self.classes) - 1 else "#e03030")
        f = np.asarray(self.feats[i * self.K + r])
        self.feat.set_data(self.tile(f))
        for bar, v in zip(self.cls_bars, d["probs"][r]):
            bar.set_height(float(v))
        for bar, v in zip(self.dt_bars, d["deltas"][r]):
            bar.set_height(float(np.clip(v, -3, 3)))
        self.title.set_text(
            f"image {i}, proposal {r}: objectness {float(d['objectness'][r]):.2f} → {self.classes[c]} "
            f"({float(d['probs'][r][c]):.2f})"
        )
        self.view.refresh(full=True)
