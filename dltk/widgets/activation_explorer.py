"""An activation layer's curve, derivative and effect on real data (lesson 7)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np
import torch

from ..introspect import record
from ..matlab import (
    clippedReluLayer,
    eluLayer,
    leakyReluLayer,
    preluLayer,
    reluLayer,
    sigmoidLayer,
    tanhLayer,
)
from ..viz import activation_curve
from .base import DltkWidget

__all__ = ["ActivationExplorer", "ACTIVATIONS"]

#: constructor name -> (constructor of the parameter value, parameter name, slider (min, max, step), start value)
ACTIVATIONS: dict[str, tuple[Any, str, tuple[float, float, float], float]] = {
    "leakyReluLayer": (lambda p: leakyReluLayer(p), "Scale", (0.0, 1.0, 0.1), 0.1),
    "clippedReluLayer": (lambda p: clippedReluLayer(p), "Ceiling", (0.2, 3.0, 0.2), 1.0),
    "eluLayer": (lambda p: eluLayer(p), "Alpha", (0.2, 3.0, 0.2), 1.0),
    "preluLayer": (None, "Alpha (learnable)", (0.0, 1.0, 0.1), 0.3),
    "reluLayer": (lambda p: reluLayer(), "—", (0.0, 1.0, 0.1), 0.0),
    "tanhLayer": (lambda p: tanhLayer(), "—", (0.0, 1.0, 0.1), 0.0),
    "sigmoidLayer": (lambda p: sigmoidLayer(), "—", (0.0, 1.0, 0.1), 0.0),
}


def make_activation(kind: str, p: float, channels: int = 8) -> Any:
    """The activation layer ``kind`` (a MATLAB constructor name) with parameter value ``p``."""
    if kind == "preluLayer":
        layer = preluLayer(channels, "prelu")
        with torch.no_grad():
            layer.Alpha.fill_(p)
        return layer
    return ACTIVATIONS[kind][0](p)


class ActivationExplorer(DltkWidget):
    """Pick an activation and move its parameter; see f, f' and what it does to real pre-activations.

    Left (``dltk.viz.activation_curve``): the layer's function (solid) and derivative (dashed),
    computed by the layer and autograd in float64. Right: the distribution of the real
    pre-activations ``pre`` (grey) and of the layer's outputs (blue), log counts, with the share of
    elements in each regime (the layer's own mask signals) in the title.

    Args:
        pre: real pre-activations (B, C, H, W), e.g. a convolution's outputs on digits.

    Attributes: controls ``kind``, ``param``; ``layer`` (the layer shown), ``shares`` (regime →
    share), ``readout`` (HTML), ``ax_curve``, ``ax_data``, ``view``.
    """

    def __init__(self, pre: Any, interactive: bool | None = None) -> None:
        super().__init__(interactive)
        self.pre = torch.as_tensor(pre, dtype=torch.float32)
        self.channels = int(self.pre.shape[1])
        fig = activation_curve(make_activation("leakyReluLayer", 0.1))  # the dltk.viz figure, built once
        fig.set_size_inches(8.0, 3.2)
        self.ax_curve = fig.axes[0]
        self.ax_curve.set_position([0.07, 0.15, 0.44, 0.7])
        self.ax_curve.tick_params(labelsize=7)
        self.line_f, self.line_g = self.ax_curve.lines[:2]
        self.ax_data = fig.add_axes([0.6, 0.15, 0.37, 0.7])
        self.edges = np.linspace(-2, 2, 61)
        self.counts_in = np.histogram(self.pre.numpy().ravel(), self.edges)[0]
        self.ax_data.stairs(self.counts_in, self.edges, fill=True, color="#cccccc", label="inputs x", baseline=0.5)
        self.hist_out = self.ax_data.stairs(
            np.ones(60), self.edges, fill=True, color="#1f77b4", alpha=0.55, label="outputs f(x)", baseline=0.5
        )
        self.ax_data.set_yscale("log")
        self.ax_data.legend(fontsize=7, loc="upper left")
        self.ax_data.set_xlabel("value", fontsize=8)
        self.ax_data.set_ylabel("count (log scale)", fontsize=8)
        self.ax_data.tick_params(labelsize=7)
        self.view = self._view(fig)
        self.kind = self._w(W.Dropdown(options=list(ACTIVATIONS), value="leakyReluLayer", description="Layer"))
        self.param = self._w(
            W.FloatSlider(value=0.1, min=0.0, max=1.0, step=0.1, description="Scale", readout_format=".1f")
        )
        self.readout = self._w(W.HTML())
        self._rebuilding = False
        self.kind.observe(self._guard(self.new_kind), "value")
        self.param.observe(self._guard(self.update), "value")
        self.box = self._w(W.VBox([W.HBox([self.param, self.kind]), self.view.widget, self.readout, self.error_area]))
        self.update()

    def curve(self, layer: Any) -> tuple[np.ndarray, np.ndarray]:
        """f(x) and f'(x) on [−4, 4], by the layer and autograd (float64)."""
        xg = torch.linspace(-4, 4, 401, dtype=torch.float64).reshape(-1, 1).repeat(1, self.channels)
        xg.requires_grad_(True)
        y = layer.double()(xg)
        (g,) = torch.autograd.grad(y.sum(), xg)
        return y[:, 0].detach().numpy(), g[:, 0].numpy()

    def regimes(self, layer: Any) -> dict[str, float]:
        """Share of the real pre-activations in each regime, from the layer's recorded masks."""
        rec = record(layer.float(), self.pre)
        return {k: float(v.float().mean()) for k, v in rec[layer.label].items() if v.dtype == torch.bool}

    def new_kind(self, change: Any = None) -> None:
        _, name, (lo, hi, step), start = ACTIVATIONS[self.kind.value]
        self._rebuilding = True
        try:
            self.param.min, self.param.max, self.param.step = -1e9, 1e9, step  # no clamping while the range changes
            self.param.min, self.param.max, self.param.value = lo, hi, start
            self.param.description = name[:14]
            self.param.disabled = name == "—"
        finally:
            self._rebuilding = False
        self.update()

    def update(self, change: Any = None) -> None:
        if self._rebuilding:
            return
        self.layer = layer = make_activation(self.kind.value, self.param.value, self.channels)
        f, g = self.curve(layer)
        self.line_f.set_ydata(f)
        self.line_g.set_ydata(g)
        self.ax_curve.relim()
        self.ax_curve.autoscale_view()
        self.ax_curve.set_title(layer.description(), fontsize=9)
        self.shares = self.regimes(layer)
        with torch.no_grad():
            y = layer.float()(self.pre).numpy().ravel()
        counts_out = np.histogram(np.clip(y, -2, 2), self.edges)[0]
        self.hist_out.set_data(np.maximum(counts_out, 0.5))
        self.ax_data.set_ylim(0.5, 2 * max(self.counts_in.max(), counts_out.max()))
        if self.shares:
            text = ", ".join(f"{k} {v:.0%}" for k, v in self.shares.items())
        else:
            text = f"no regime masks; outputs in [{y.min():.2f}, {y.max():.2f}]"
        self.ax_data.set_title("regimes: " + text, fontsize=7)
        self.readout.value = f"<code>{layer.description()}</code> — {text}"
        self.view.refresh(full=True)
