"""Move a probability and an error and watch every loss layer respond (lesson 11)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..introspect import record
from ..matlab import (
    classificationLayer,
    focalLossLayer,
    maeRegressionLayer,
    rcnnBoxRegressionLayer,
    regressionLayer,
    sseClassificationLayer,
    weightedClassificationLayer,
)
from .base import DltkWidget

__all__ = ["LossExplorer", "probs_for", "loss_curve", "regression_curves"]


def probs_for(p: Any) -> torch.Tensor:
    """(G, 3) float64 probability rows whose true class 0 gets ``p``, the two others ``(1 - p) / 2`` each."""
    p = torch.as_tensor(p, dtype=torch.float64).reshape(-1, 1)
    return torch.cat([p, (1 - p) / 2, (1 - p) / 2], 1)


def loss_curve(layer: Any, ps: Any) -> np.ndarray:
    """The per-observation ``loss`` signal of a classification output layer, one value per ``p``."""
    Yg = probs_for(ps)
    return record(layer, Yg, targets=torch.zeros(len(Yg), dtype=torch.long))[layer.label]["loss"].numpy()


def regression_curves(errors: Any) -> dict[str, np.ndarray]:
    """Half MSE, MAE and smooth L1 (``rcnnBoxRegressionLayer``) for one-response errors ``Y − T``."""
    e = torch.as_tensor(errors, dtype=torch.float64).reshape(-1, 1)
    zero = torch.zeros_like(e)
    out = {}
    for label, layer, y, t in (
        ("half MSE (regressionLayer)", regressionLayer(), e, zero),
        ("MAE (maeRegressionLayer)", maeRegressionLayer(), e, zero),
        (
            "smooth L1 (rcnnBoxRegressionLayer)",
            rcnnBoxRegressionLayer(),
            torch.cat([e, zero, zero, zero], 1),
            torch.zeros(len(e), 4, dtype=torch.float64),
        ),
    ):
        out[label] = record(layer, y, targets=t)[layer.label]["loss"].numpy()
    return out


class LossExplorer(DltkWidget):
    """Classification losses over the true-class probability ``p``, focal-loss terms, regression losses.

    Left: cross-entropy, weighted cross-entropy (W = 2 for the true class), SSE and focal loss
    (α = 1) as functions of ``p`` — each computed by the layer itself (its per-observation
    ``loss`` signal) — with a dot at the slider's ``p``. Middle: the focal loss's terms
    ``−ln p``, ``(1 − p)^γ`` and their product. Right: half MSE, MAE and smooth L1 over the error.

    Attributes: ``p``, ``gamma``, ``error`` (sliders), ``layers`` (name → layer), ``curves``,
    ``dots``, ``bars``, ``rdots`` (the artists), ``view``.
    """

    def __init__(self, interactive: bool | None = None) -> None:
        super().__init__(interactive)
        self.ps = np.linspace(0.01, 0.99, 99)
        self.errs = np.linspace(-3, 3, 121)
        self.layers = {
            "cross-entropy": classificationLayer(),
            "weighted CE (W=2)": weightedClassificationLayer([2.0, 1.0, 1.0]),
            "SSE": sseClassificationLayer(),
            "focal (alpha=1)": focalLossLayer(Alpha=1, Gamma=2),
        }
        fig = Figure(figsize=(8.0, 3.0), dpi=100)
        FigureCanvasAgg(fig)
        ax_c, ax_f, ax_r = fig.subplots(1, 3, width_ratios=[1.3, 0.8, 1.2])
        self.curves, self.dots = {}, {}
        for name, layer in self.layers.items():
            (self.curves[name],) = ax_c.plot(self.ps, loss_curve(layer, self.ps), lw=1.6, label=name)
            (self.dots[name],) = ax_c.plot([0.5], [0], "o", color=self.curves[name].get_color())
        ax_c.set_ylim(0, 5)
        ax_c.set_xlabel("p = probability of the true class", fontsize=8)
        ax_c.set_title("classification losses", fontsize=9)
        ax_c.legend(fontsize=6)
        self.bars = ax_f.bar(range(3), [0, 0, 0], color=["#dd8452", "#8172b3", "#4c72b0"])
        ax_f.set_xticks(range(3), ["-ln p", "(1-p)^γ", "focal"], fontsize=7)
        ax_f.set_ylim(0, 5)
        self.ftitle = ax_f.set_title("", fontsize=8)
        self.rdots = []
        for name, vals in regression_curves(self.errs).items():
            (line,) = ax_r.plot(self.errs, vals, lw=1.6, label=name)
            self.rdots.append(ax_r.plot([0], [0], "o", color=line.get_color())[0])
        ax_r.set_ylim(0, 4.5)
        ax_r.set_xlabel("error Y − T", fontsize=8)
        ax_r.legend(fontsize=6, loc="upper center")
        self.rtitle = ax_r.set_title("", fontsize=7)
        for ax in (ax_c, ax_f, ax_r):
            ax.tick_params(labelsize=7)
        fig.subplots_adjust(left=0.05, right=0.97, bottom=0.16, top=0.9, wspace=0.3)
        self.view = self._view(fig)
        self.p = self._w(W.FloatSlider(value=0.5, min=0.01, max=0.99, step=0.01, description="p"))
        self.gamma = self._w(W.FloatSlider(value=2.0, min=0.0, max=5.0, step=0.5, description="gamma"))
        self.error = self._w(W.FloatSlider(value=0.5, min=-3, max=3, step=0.1, description="Y − T"))
        self.p.observe(self._guard(self.update_p), "value")
        self.error.observe(self._guard(self.update_error), "value")
        self.gamma.observe(self._guard(self.set_gamma), "value")
        self.box = self._w(
            W.VBox([W.HBox([self.p, self.gamma]), W.HBox([self.error]), self.view.widget, self.error_area])
        )
        self.update_p(refresh=False)
        self.update_error()

    def set_gamma(self, change: Any = None) -> None:
        focal = self.layers["focal (alpha=1)"]
        focal.Gamma = self.gamma.value
        self.curves["focal (alpha=1)"].set_ydata(loss_curve(focal, self.ps))
        self.update_p()

    def focal_terms(self, p: float) -> list[float]:
        """``[−ln p, (1 − p)^γ, focal loss]`` at ``p`` from the focal layer's signals."""
        focal = self.layers["focal (alpha=1)"]
        sig = record(focal, probs_for([p]), targets=torch.zeros(1, dtype=torch.long))[focal.label]
        return [float(sig["cross_entropy"][0]), float(sig["modulating_factor"][0]), float(sig["loss"][0])]

    def update_p(self, change: Any = None, refresh: bool = True) -> None:
        p = self.p.value
        for name, layer in self.layers.items():
            self.dots[name].set_data([p], loss_curve(layer, [p]))
        for bar, v in zip(self.bars, self.focal_terms(p)):
            bar.set_height(v)
        self.ftitle.set_text(f"focal terms at p={p:.2f}, γ={self.gamma.value:g}")
        if refresh:
            self.view.refresh(full=True)

    def update_error(self, change: Any = None) -> None:
        e = self.error.value
        vals = [float(v[0]) for v in regression_curves([e]).values()]
        for dot, v in zip(self.rdots, vals):
            dot.set_data([e], [v])
        self.rtitle.set_text(f"Y−T = {e:.1f}: ½MSE {vals[0]:.2f} · MAE {vals[1]:.2f} · smooth L1 {vals[2]:.2f}")
        self.view.refresh(full=True)
