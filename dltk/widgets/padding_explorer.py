"""Watch an LSTM's ``'last'`` output drift as one sequence is padded (MATLAB's padding trap)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..errors import OptionError
from ..options import positive_int
from ..viz import style as S
from .base import DltkWidget

__all__ = ["PaddingExplorer", "padding_sweep"]

DIRECTIONS = ("right", "left")


def padding_sweep(net: Any, x: Any, true_class: Any, max_pad: int, layer: str | None = None) -> dict[str, Any]:
    """Run ``net`` on one sequence padded with 0 … ``max_pad`` zero steps, right and left, the MATLAB way.

    MATLAB's raw behaviour: the padded steps go through the recurrent layer like
    data (no lengths passed). For each direction and amount of padding ``k`` the
    sweep keeps the padded input, the recurrent layer's hidden states and the
    probability of the true class that ``OutputMode='last'`` gives; and once the
    length-aware probability (dltk, ``lengths=``), which padding cannot change.

    Args:
        net: a trained sequence-to-label :class:`dltk.Network` with a recurrent layer.
        x: one sequence, (T, C) — MATLAB C×T.
        true_class: the sequence's class (one of ``net.classes``).
        max_pad: the largest number of padded steps.
        layer: the recurrent layer whose hidden states are kept. Default: the first
            layer that records ``hidden_state``.

    Returns:
        ``{"T", "max_pad", "layer", "right": {...}, "left": {...}, "masked"}``; each
        direction holds ``inputs`` (list of (T + k, C) arrays), ``states`` (list of
        (T + k, H) arrays) and ``probs`` ((max_pad + 1,) array).
    """
    import dltk

    where = "padding_sweep"
    max_pad = positive_int(where, "max_pad", max_pad)
    classes = list(net.classes)
    if true_class not in classes:
        raise OptionError(f"{where}: true_class {true_class!r} is not one of the network's classes {classes}.")
    k_true = classes.index(true_class)
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if x.ndim != 2:
        raise OptionError(f"{where}: x must be one sequence (T, C) [MATLAB C×T], got shape {tuple(x.shape)}.")
    if layer is None:
        layer = next((la.name for la in net.layers if "hidden_state" in getattr(la, "signals", ())), None)
        if layer is None:
            raise OptionError(f"{where}: the network has no recurrent layer that records 'hidden_state'.")
    T, C = x.shape
    out: dict[str, Any] = {"T": int(T), "max_pad": max_pad, "layer": layer}
    for direction in DIRECTIONS:
        inputs, states, probs = [], [], []
        for k in range(max_pad + 1):
            pad = torch.zeros(k, C)
            xk = torch.cat([x, pad] if direction == "right" else [pad, x])[None]  # (1, T + k, C)
            rec = dltk.record(net, xk, layers=[layer], signals="hidden_state")  # no lengths: MATLAB raw
            inputs.append(xk[0].numpy())
            states.append(S.to_numpy(rec[layer]["hidden_state"][0]))
            probs.append(float(rec.output[0, k_true]))
        out[direction] = {"inputs": inputs, "states": states, "probs": np.array(probs)}
    with torch.no_grad():
        out["masked"] = float(net(x[None], lengths=torch.tensor([T]))[0, k_true])
    return out


class PaddingExplorer(DltkWidget):
    """A slider over the amount of padding and a drop-down for its direction; one figure updated in place.

    Left panel: the padded input (grey band = padding) with the step MATLAB's
    ``'last'`` reads (red) and the step dltk's length-aware ``'last'`` reads
    (green). Middle: the most active hidden units $h_t$, run the MATLAB way
    over the padding. Right: P(true class) from ``'last'`` for every amount of
    padding — raw right padding, raw left padding and length-aware (flat); a
    dot follows the slider. All numbers come from :func:`padding_sweep`, so
    moving a control only redraws.

    Args:
        sweep: the result of :func:`padding_sweep`.
        units: how many hidden units to draw. Default: 4.
        channel: the input channel drawn. Default: 0.

    Attributes:
        padding (``IntSlider``), direction (``Dropdown``), fig, view, units
        (indices of the units drawn), lines_h, raw_marks, dltk_marks, dot.

    Example:
        >>> sweep = dltk.widgets.padding_sweep(net, XTest[0], YTest[0], max_pad=60)
        >>> dltk.widgets.PaddingExplorer(sweep)
    """

    def __init__(self, sweep: dict[str, Any], units: int = 4, channel: int = 0, *, interactive: bool | None = None):
        super().__init__(interactive)
        self.sweep = sweep
        T, P = sweep["T"], sweep["max_pad"]
        H = sweep["right"]["states"][0]
        self.units = [int(u) for u in np.argsort(-H.std(axis=0))[: positive_int("PaddingExplorer", "units", units)]]
        self.channel = S.check_index("PaddingExplorer", "channel", channel, sweep["right"]["inputs"][0].shape[1])
        self.fig = S.new_figure((8.0, 2.9))  # 800 px wide at 100 dpi
        self.ax_x, self.ax_h, self.ax_p = self.fig.subplots(1, 3, width_ratios=[1.15, 1.15, 1])
        for ax in (self.ax_x, self.ax_h):
            ax.set_xlim(-0.5, T + P - 0.5)
            ax.set_xlabel("time step", fontsize=8)
        for ax in (self.ax_x, self.ax_h, self.ax_p):
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        xs = np.concatenate([a[:, self.channel] for a in sweep["right"]["inputs"][:1]])
        lim = max(1.0, float(np.abs(xs).max()) * 1.1)
        self.ax_x.set_ylim(-lim, lim)
        self.ax_h.set_ylim(-1.05, 1.05)
        self.ax_x.set_title("padded input", fontsize=9)
        self.ax_h.set_title("hidden units h_t (MATLAB raw)", fontsize=9)
        self.pads = [
            ax.add_patch(Rectangle((0, 0), 0, 1, transform=ax.get_xaxis_transform(), color="0.85"))
            for ax in (self.ax_x, self.ax_h)
        ]
        (self.line_x,) = self.ax_x.plot([], [], color="0.3", lw=1)
        self.lines_h = [self.ax_h.plot([], [], lw=1.2)[0] for _ in self.units]
        self.raw_marks = [ax.axvline(0, color="#c44e52", ls="--", lw=1.5) for ax in (self.ax_x, self.ax_h)]
        self.dltk_marks = [ax.axvline(0, color="#55a868", ls=":", lw=2) for ax in (self.ax_x, self.ax_h)]
        self.ax_x.legend(
            [self.raw_marks[0], self.dltk_marks[0]],
            ["MATLAB 'last' reads", "dltk 'last' reads"],
            fontsize=6,
            loc="lower left",
        )
        ks = np.arange(P + 1)
        self.ax_p.plot(ks, np.full(P + 1, sweep["masked"]), color="#55a868", lw=3, alpha=0.6, label="dltk length-aware")
        self.ax_p.plot(ks, sweep["right"]["probs"], color="#c44e52", label="MATLAB raw, right")
        self.ax_p.plot(ks, sweep["left"]["probs"], color="#dd8452", label="MATLAB raw, left")
        (self.dot,) = self.ax_p.plot([], [], "o", color="k", ms=6)
        self.ax_p.set_ylim(-0.02, 1.02)
        self.ax_p.set_xlabel("padded steps", fontsize=8)
        self.ax_p.legend(fontsize=6, loc="lower left")
        self.fig.subplots_adjust(left=0.06, right=0.97, bottom=0.17, top=0.87, wspace=0.28)
        self.view = self._view(self.fig)
        self.padding = self._w(W.IntSlider(value=0, min=0, max=P, description="padding"))
        self.direction = self._w(W.Dropdown(options=list(DIRECTIONS), value="right", description="direction"))
        self.padding.observe(self._guard(lambda _c: self.update()), names="value")
        self.direction.observe(self._guard(lambda _c: self.update()), names="value")
        self.box = self._w(W.VBox([W.HBox([self.padding, self.direction]), self.error_area, self.view.widget]))
        self.update()

    def update(self) -> None:
        """Redraw for the current slider and drop-down values."""
        k, d, T = self.padding.value, self.direction.value, self.sweep["T"]
        s = self.sweep[d]
        xs, hs = s["inputs"][k][:, self.channel], s["states"][k]
        t = np.arange(len(xs))
        start = T if d == "right" else 0
        for patch in self.pads:
            patch.set_x(start - 0.5)
            patch.set_width(k)
        self.line_x.set_data(t, xs)
        for line, u in zip(self.lines_h, self.units):
            line.set_data(t, hs[:, u])
        real_last = T - 1 if d == "right" else T + k - 1
        for m in self.raw_marks:
            m.set_xdata([T + k - 1])
        for m in self.dltk_marks:
            m.set_xdata([real_last])
        self.dot.set_data([k], [s["probs"][k]])
        self.ax_p.set_title(f"P(true class): MATLAB {s['probs'][k]:.2f} | dltk {self.sweep['masked']:.2f}", fontsize=8)
        self.view.refresh(full=True)
