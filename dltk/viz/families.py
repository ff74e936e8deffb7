"""Views of one layer: any layer's signals, and one view per layer family.

:class:`SignalsView` shows every recorded signal of any layer sensibly —
images as images (channels tiled), sequences as channels × time heatmaps,
vectors as bars, per-observation scalars as bars over the batch with the
chosen observation highlighted — so the network explorer works for every
layer. The family views add what a family needs to be understood: the
activation curve with the layer's parameters, convolution filters and
feature maps, batch-normalization distributions before and after, max-pooling
switches, dropout masks, and the softmax/loss breakdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..errors import LayerInputError, OptionError
from . import style
from . import style as S

__all__ = [
    "SignalsView",
    "signals",
    "activation_curve",
    "conv_filters",
    "feature_maps",
    "batchnorm_distributions",
    "pooling_switches",
    "dropout_mask",
    "softmax_breakdown",
]

_SLOTS = 6  # panels of the generic view (more signals: the first ones, 'output' first)
_MAX_BARS = 32  # longer vectors are drawn as stems (one artist)


def _panel(t: Any, layout: str | None, B: int, b: int) -> tuple[str, np.ndarray, str]:
    """(kind, data for observation b, caption) of one signal (only observation b is converted)."""
    per_obs = t.ndim >= 1 and t.shape[0] == B
    v = S.to_numpy(t[b : b + 1] if per_obs and t.ndim > 1 else t)
    b = 0 if per_obs and t.ndim > 1 else b
    if layout is None or len(layout) != v.ndim:
        layout = None
    if layout in ("BCHW", "BTCHW", "BCDHW") and per_obs:
        x = v[b]
        if layout == "BTCHW":
            x = x[-1]
        if layout == "BCDHW":
            x = x[:, x.shape[1] // 2]
        img, c = S.montage(x)
        return "image", img, f"{c} of {x.shape[0]} channels" + (" (last step)" if layout == "BTCHW" else "")
    if layout == "BTC" and per_obs:
        return "heat", v[b].T, "channels × time"
    if (layout == "BC" or v.ndim == 2) and per_obs and v.ndim == 2:
        return "bars", v[b], f"{v.shape[1]} values"
    if v.ndim == 1 and per_obs and B > 1:
        return "batch", v, "one value per observation"
    if v.ndim == 3 and per_obs:
        return "heat2", v[b], "H × W" if layout is None else layout
    if v.ndim == 1:
        return "bars", v, f"{v.shape[0]} values (whole batch)"
    if v.ndim == 0:
        return "bars", v.reshape(1), "scalar"
    flat = v[b] if per_obs else v
    return "heat2", flat.reshape(flat.shape[0], -1), "flattened"


class SignalsView:
    """All recorded signals of one layer for one observation.

    Args:
        rec: a :class:`dltk.Recording`.
        layer: the layer (name or object).
        observation: observation index. Default: 0.
        signals: which signals, in order. Default: ``output`` first, then the
            layer's own signals (at most six panels).

    Attributes:
        fig, axes (``{signal: Axes}``), artists (``{signal: AxesImage,
        BarContainer or LineCollection}``), kinds (``{signal:
        "image"/"heat"/"bars"/"stems"/"batch"/"heat2"}``),
        data (``{signal: ndarray}`` as shown), layer, observation.
    """

    def __init__(
        self,
        rec: Any,
        layer: Any,
        observation: int = 0,
        signals: Sequence[str] | None = None,
        *,
        fig: Figure | None = None,
        figsize: tuple[float, float] | None = None,
    ) -> None:
        self.rec = rec
        self._auto_height = fig is None and figsize is None  # height follows the rows of panels
        self.fig = (
            fig if fig is not None else style.column_figure(*(figsize or (style.COLUMN_WIDTH_IN, 5.0)), layout=None)
        )
        self.title = self.fig.suptitle("", fontsize=10)
        self.axes: dict[str, Any] = {}
        self.show(layer, observation, signals)

    def show(self, layer: Any, observation: int = 0, signals: Sequence[str] | None = None) -> None:
        """(Re)build the panels for ``layer`` (the figure is reused)."""
        where = "dltk.viz.signals"
        name = S.layer_name(layer)
        if name not in self.rec:
            raise OptionError(f"{where}: the recording has no layer '{name}'; recorded: {', '.join(self.rec)}.")
        sigs = self.rec[name]
        names = (
            list(signals)
            if signals is not None
            else (["output"] * ("output" in sigs) + [s for s in sigs if s != "output"])[:_SLOTS]
        )
        for s in names:
            S.signal_array(self.rec, name, s, where)  # clear error for a missing one
        self.layer, self.names = name, names
        self.values = {s: sigs[s] for s in names}  # tensors; panels convert one observation
        self.layouts = {s: sigs.layouts.get(s) for s in names}
        first = self.values.get("output", next(iter(self.values.values())))
        self.B = first.shape[0] if first.ndim else 1
        self.observation = S.check_index(where, "observation", observation, self.B)
        for ax in list(self.fig.axes):
            ax.remove()
        self.notes: dict[str, Any] = {}
        n = max(len(names), 1)
        cols = min(3, n)
        rows = int(np.ceil(n / cols))
        if self._auto_height:
            self.fig.set_size_inches(style.COLUMN_WIDTH_IN, 0.75 + 2.45 * rows)
        self.axes, self.artists, self.kinds, self.data = {}, {}, {}, {}
        for k, s in enumerate(names):
            ax = self.fig.add_subplot(rows, cols, k + 1)
            self.axes[s] = ax
            self._draw(s)
        self._set_title()
        # fixed margins (a layout engine costs more than the drawing): room for the two-line
        # titles above and the colour bars in the gaps between panels
        # (one column: the panel is as wide as the figure, and so is its inset colour bar's offset)
        h = self.fig.get_figheight()
        self.fig.subplots_adjust(
            left=0.06,
            right=0.9 if cols > 1 else 0.8,
            bottom=0.45 / h,
            top=1 - 0.95 / h,
            hspace=1.05 / 2.45 * 2,
            wspace=0.55,
        )

    def _set_title(self) -> None:
        self.title.set_text(f"layer '{self.layer}' — observation {self.observation} of {self.B}")

    def _draw(self, s: str) -> None:
        ax = self.axes[s]
        kind, d, cap = _panel(self.values[s], self.layouts[s], self.B, self.observation)
        self.kinds[s], self.data[s] = kind, d
        shape = S.describe_shape(self.values[s].shape, self.layouts[s]).replace(" [MATLAB ", "\nMATLAB ").rstrip("]")
        ax.set_title(f"{s} — {cap}\n{shape}", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.locator_params(nbins=4)  # few ticks: drawing ticks is most of a panel's cost
        if kind in ("image", "heat", "heat2"):
            cmap, norm = style.image_scale(d)
            self.artists[s] = ax.imshow(
                d,
                aspect="auto" if kind == "heat" else "equal",
                cmap=cmap,
                norm=norm,
                interpolation="nearest",
                origin="lower" if kind == "heat" else "upper",
            )
            signed = cmap is style.signed_cmap
            cb = style.colorbar(self.fig, self.artists[s], ax, "0 = white" if signed else "", fontsize=6)
            cb.locator = MaxNLocator(4)  # few ticks: they are most of a colour bar's drawing cost
            cb.update_ticks()
            if kind == "heat":
                ax.set_xlabel("time step", fontsize=7)
                ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
                ax.set_yticks([])  # channels: no ticks (they cost most of the drawing)
                style.frame(ax)
            else:  # one channel: ticks at the pixel centres; tiled channels: a frame only
                style.pixel_axes(ax, *d.shape, max_ticks=5, labels=kind == "heat2" or cap.startswith("1 of"))
            self.notes[s] = style.note_if_constant(ax, d, f"{s} value", fontsize=7)
        elif kind == "bars" and len(d) > _MAX_BARS:  # many values: one LineCollection, not hundreds of patches
            self.kinds[s] = "stems"
            self.artists[s] = ax.vlines(np.arange(len(d)), 0, np.where(np.isfinite(d), d, 0), lw=1.5)
            ax.set_xlim(-1, len(d))
            ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
            self._rescale(s, d)
            ax.axhline(0, color="#888888", lw=0.6)
        else:
            colors = ["#1f77b4"] * len(d)
            if kind == "batch":
                colors[self.observation] = "#d62728"
                ax.set_xlabel("observation (red: shown)", fontsize=7)
            bad = ~np.isfinite(d)
            self.artists[s] = ax.bar(np.arange(len(d)), np.where(bad, 0, d), color=colors, width=0.8)
            ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))  # element / observation indices
            for k in np.flatnonzero(bad):
                self.artists[s][k].set_color(S.NONFINITE_COLOR)
            ax.axhline(0, color="#888888", lw=0.6)

    def set_observation(self, observation: int) -> None:
        """Show another observation (artists updated in place)."""
        b = S.check_index("SignalsView.set_observation", "observation", observation, self.B)
        self.observation = b
        for s in self.names:
            kind, d, _ = _panel(self.values[s], self.layouts[s], self.B, b)
            self.data[s] = d
            art = self.artists[s]
            if kind in ("image", "heat", "heat2"):
                art.set_data(d)
                self.notes[s] = style.note_if_constant(self.axes[s], d, f"{s} value", fontsize=7)
            elif self.kinds[s] == "stems":
                x = np.arange(len(d))
                art.set_segments(np.stack([np.column_stack([x, 0 * x]), np.column_stack([x, d])], 1))
                self._rescale(s, d)
            elif kind == "batch":
                for k, bar in enumerate(art):
                    bar.set_color("#d62728" if k == b else "#1f77b4")
            else:
                for bar, h in zip(art, d):
                    bar.set_height(h if np.isfinite(h) else 0.0)
                self._rescale(s, d)
        self._set_title()

    def _rescale(self, s: str, d: np.ndarray) -> None:
        fin = d[np.isfinite(d)]
        if fin.size:
            lo, hi = min(0.0, fin.min()), max(0.0, fin.max())
            pad = 0.05 * max(hi - lo, 1e-9)
            self.axes[s].set_ylim(lo - pad, hi + pad)


def signals(rec: Any, layer: Any, observation: int = 0, signals: Sequence[str] | None = None, **kw: Any) -> Figure:
    """Every recorded signal of one layer, drawn according to its layout.

    ``rec[layer][signal]`` is shown for observation ``observation``: images
    (B, C, H, W) as tiled channels, sequences (B, T, C) as channels × time,
    vectors (B, C) as bars, per-observation values (B,) as bars over the batch.

    Args:
        rec: a :class:`dltk.Recording`.
        layer: the layer (name or object).
        observation: observation index. Default: 0.
        signals: the signals to show, in order. Default: ``output`` and the
            layer's own signals (six panels at most).

    Shape:
        BCHW (B, C, H, W) [MATLAB H×W×C×B SSCB]: C channel images tiled;
        BTC (B, T, C) [MATLAB C×B×T CBT]: a C×T heatmap; BC (B, C) [MATLAB
        C×B CB]: C bars; (B,): one bar per observation; anything else is
        flattened to a heatmap.

    MATLAB: ``activations(net, X, layer)`` shows the output only; here every
    internal signal is drawn.

    Returns:
        The figure (``fig.dltk_view`` is the :class:`SignalsView`).

    Example:
        >>> dltk.viz.signals(dltk.record(net, X), "conv_1", observation=2)
    """
    view = SignalsView(rec, layer, observation, signals, **kw)
    view.fig.dltk_view = view  # type: ignore[attr-defined]
    return view.fig


# ------------------------------------------------------------ family views
def activation_curve(layer: Any, rec: Any = None, x_range: tuple[float, float] = (-4.0, 4.0)) -> Figure:
    """The activation function :math:`y = f(x)` of a layer and its derivative.

    The curve is computed by the layer itself on a float64 grid of
    :math:`x` (so it shows the layer's parameters: Scale, Ceiling, Alpha, the
    learned PReLU slope …), the derivative :math:`f'(x)` by autograd.
    With a recording, the distribution of the layer's recorded outputs is
    drawn below the curve.

    Args:
        layer: an activation layer (ReLU, leaky/clipped ReLU, ELU, tanh,
            sigmoid, PReLU …) taking any layout.
        rec: optional recording of a network containing the layer.
        x_range: the x interval. Default: (−4, 4).

    Example:
        >>> dltk.viz.activation_curve(dltk.clippedReluLayer(2))
    """
    import copy

    x = torch.linspace(*x_range, 401, dtype=torch.float64)
    lay = copy.deepcopy(layer).double().eval()
    channels = getattr(lay, "num_channels", None)
    probe = x.view(-1, 1)
    try:
        xin = probe.clone().requires_grad_(True)
        y = lay(xin)
    except LayerInputError:  # layers with per-channel parameters (PReLU): feed (N, C), every channel = x
        if not isinstance(channels, int):
            raise OptionError(f"dltk.viz.activation_curve: cannot evaluate {layer.label!r} on a 1-D grid.") from None
        xin = x.view(-1, 1).repeat(1, channels).requires_grad_(True)
        y = lay(xin)
    per_channel = y.ndim == 2 and y.shape[1] > 1  # e.g. PReLU: one learned slope per channel
    (g,) = torch.autograd.grad(y.sum(), xin)
    fig = style.column_figure(6.0, 4.2 if rec is None else 5.6)
    axes = fig.subplots(2 if rec is not None else 1, 1, squeeze=False, height_ratios=[3, 1.4][: 2 if rec else 1])
    ax = axes[0][0]
    for k in range(min(y.shape[1], 8) if per_channel else 1):
        yk = y[:, k] if y.ndim == 2 else y.reshape(-1)
        gk = g[:, k] if g.ndim == 2 else g.reshape(-1)
        suffix = f" channel {k}" if per_channel else ""
        ax.plot(x.numpy(), yk.detach().numpy(), lw=2 if k == 0 else 1, label=f"f(x){suffix}")
        ax.plot(x.numpy(), gk.detach().numpy(), lw=1 if k == 0 else 0.6, ls="--", label=f"f'(x){suffix}")
    ax.axhline(0, color="#999999", lw=0.6)
    ax.axvline(0, color="#999999", lw=0.6)
    ax.legend(fontsize=7, ncol=2 if per_channel else 1)
    ax.set_xlabel("x (layer input)", fontsize=8)
    ax.set_title(f"{layer.label}: {layer.description()}", fontsize=10)
    if rec is not None:
        out = S.signal_array(rec, layer.label, "output", "dltk.viz.activation_curve").ravel()
        axes[1][0].hist(out[np.isfinite(out)], bins=60, color="#888888")
        axes[1][0].set_xlabel("recorded outputs y", fontsize=8)
    return fig


def _weights_nchw(layer: Any) -> np.ndarray:
    w = getattr(layer, "weight", None)
    if w is None:
        raise OptionError(
            f"dltk.viz.conv_filters: layer '{layer.label}' has no weights yet (InputSize 'auto'); "
            "assemble the network or run it once first."
        )
    w = S.to_numpy(w)
    return w.reshape(w.shape[0], w.shape[1], *w.shape[-2:]) if w.ndim == 4 else w[:, :, w.shape[2] // 2]


def conv_filters(layer: Any, channel: int = 0, max_filters: int = 16) -> Figure:
    """The filters of a convolution layer as images (one input channel).

    Each tile is ``W[n, channel]`` (PyTorch (N, C, h, w); MATLAB ``Weights``
    h×w×c×n holds the same numbers as ``Weights(:, :, channel+1, n)``).
    3-D filters show their middle depth slice.

    Example:
        >>> dltk.viz.conv_filters(net["conv_1"])
    """
    w = _weights_nchw(layer)
    channel = S.check_index("dltk.viz.conv_filters", "channel", channel, w.shape[1], " input channels")
    img, n = S.montage(w[:, channel], max_filters)
    fig = style.column_figure(5.0, 4.6)
    ax = fig.add_subplot(1, 1, 1)
    cmap, norm = style.signed_scale(img)
    im = ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest")
    style.colorbar(fig, im, ax, "weight (0 = white)", fontsize=8)
    style.pixel_axes(ax, *img.shape, labels=n == 1)
    style.note_if_constant(ax, img, "weight")
    ax.set_title(
        f"{layer.label}: {n} of {w.shape[0]} filters, input channel {channel}\n"
        f"filter size {w.shape[-2]}×{w.shape[-1]} (h×w)",
        fontsize=9,
    )
    return fig


def feature_maps(rec: Any, layer: Any, observation: int = 0, signal: str = "output", max_channels: int = 16) -> Figure:
    """The feature maps a layer produced for one observation (channels tiled).

    Example:
        >>> dltk.viz.feature_maps(rec, "conv_1", observation=0)
    """
    return signals(rec, layer, observation, [signal])


def batchnorm_distributions(rec: Any, layer: Any, channel: int = 0, net: Any = None, x: Any = None) -> Figure:
    """Distribution of one channel before and after batch normalization.

    .. math::
        \\hat x = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}}, \\qquad y = \\gamma \\hat x + \\beta

    where :math:`\\mu, \\sigma^2` are the mini-batch statistics (training) or
    the trained ones, :math:`\\gamma` Scale and :math:`\\beta` Offset.
    Three histograms: the input :math:`x` (from ``net``'s recording or ``x``),
    :math:`\\hat x` (signal ``normalized``) and the output :math:`y`.

    Example:
        >>> dltk.viz.batchnorm_distributions(dltk.record(net, X), "batchnorm", channel=0, net=net)
    """
    name = S.layer_name(layer)
    where = "dltk.viz.batchnorm_distributions"
    xhat = S.signal_array(rec, name, "normalized", where)
    y = S.signal_array(rec, name, "output", where)
    if x is None and net is not None:
        x = S.recorded_input(net, rec, name)
    C = xhat.shape[1] if xhat.ndim > 2 or rec[name].layouts.get("normalized") != "BTC" else xhat.shape[-1]
    channel = S.check_index(where, "channel", channel, C, " channels")

    def chan(a: np.ndarray) -> np.ndarray:
        a = S.to_numpy(a)
        return (a[..., channel] if a.ndim == 3 else a[:, channel]).ravel()

    panels = [("input x", x), ("normalized x̂", xhat), ("output y = γx̂ + β", y)]
    panels = [(t, chan(a)) for t, a in panels if a is not None]
    fig = style.column_figure(2.6 * len(panels), 2.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, v) in zip(axes, panels):
        v = v[np.isfinite(v)]
        ax.hist(v, bins=40, color="#4c72b0")
        ax.set_title(f"{title}\nmean {v.mean():+.3f}, std {v.std():.3f}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{name}: channel {channel}", fontsize=10)
    return fig


def pooling_switches(rec: Any, layer: Any, observation: int = 0, channel: int = 0, net: Any = None) -> Figure:
    """Max pooling: which input elements won their window (the *switches*).

    Left: the input channel (when ``net`` is given) with the winners outlined;
    middle: ``switch_mask`` (how many windows each input element wins);
    right: the pooled output ``window_max``.

    Example:
        >>> dltk.viz.pooling_switches(dltk.record(net, X), "maxpool", net=net)
    """
    name = S.layer_name(layer)
    where = "dltk.viz.pooling_switches"
    mask = S.signal_array(rec, name, "switch_mask", where)
    out = S.signal_array(rec, name, "output", where)
    b = S.check_index(where, "observation", observation, mask.shape[0])
    c = S.check_index(where, "channel", channel, mask.shape[1], " channels")
    x = S.recorded_input(net, rec, name) if net is not None else None
    panels = ([("input", S.to_numpy(x)[b, c])] if x is not None else []) + [
        ("switch_mask (windows won)", mask[b, c]),
        ("output (window max)", out[b, c]),
    ]
    fig = style.column_figure(2.6 * len(panels), 2.9)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    notes = {
        "input": "input value",
        "switch_mask": "input element's count of windows won",
        "output": "window's maximum",
    }
    for ax, (title, img) in zip(axes, panels):
        key = title.split(" ")[0]
        if key == "switch_mask":  # a count: sequential, integer colour-bar ticks
            cmap, norm = style.seq_scale(img, high=max(float(np.nanmax(img)), 1.0))
        else:
            cmap, norm = style.image_scale(img)
        im = ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest")
        cb = style.colorbar(fig, im, ax, "windows won" if key == "switch_mask" else "value")
        if key == "switch_mask":
            cb.locator = MaxNLocator(integer=True)
            cb.update_ticks()
        ax.set_title(title, fontsize=8)
        style.pixel_axes(ax, *img.shape, max_ticks=6)
        style.note_if_constant(ax, img, notes[key], fontsize=7)
        if title == "input":
            ys, xs = np.nonzero(mask[b, c])
            ax.scatter(xs, ys, s=40, facecolors="none", edgecolors="red", linewidths=1.2)
    fig.suptitle(f"{name}: observation {b}, channel {c}  (row × column, 0-based)", fontsize=9)
    return fig


def dropout_mask(rec: Any, layer: Any, observation: int = 0) -> Figure:
    """The dropout mask of one observation (1 = kept, scaled by 1/(1−p); 0 = dropped).

    Recorded only in training mode (``net.train()``), as dropout is the
    identity at prediction time.
    """
    name = S.layer_name(layer)
    mask = S.signal_array(rec, name, "mask", "dltk.viz.dropout_mask")
    fig = signals(rec, name, observation, ["mask"], figsize=(5.0, 4.0))
    fig.suptitle(f"{name}: kept {mask.mean():.1%} (yellow = kept, dark = dropped)", fontsize=9)
    return fig


def softmax_breakdown(
    rec: Any, softmax: Any, output: Any = None, observation: int = 0, classes: Sequence[str] | None = None
) -> Figure:
    """Softmax scores and probabilities for one observation, and the loss per observation.

    .. math::
        y_k = \\frac{e^{a_k}}{\\sum_j e^{a_j}}, \\qquad \\text{loss} = -\\ln y_{\\text{true}}

    where :math:`a` are the scores (signal ``logits``) and :math:`y` the
    probabilities. For sequences, the last time step is shown. With the
    classification layer ``output``, its per-observation ``loss`` and
    ``true_class_probability`` are drawn, the chosen observation in red.
    """
    where = "dltk.viz.softmax_breakdown"
    sm = S.layer_name(softmax)
    logits = S.signal_array(rec, sm, "logits", where)
    probs = S.signal_array(rec, sm, "probabilities", where)
    b = S.check_index(where, "observation", observation, logits.shape[0])
    a, p = (logits[b, -1], probs[b, -1]) if logits.ndim == 3 else (logits[b], probs[b])
    labels = list(classes) if classes is not None else [str(k) for k in range(len(a))]
    n = 3 if output is not None else 2
    fig = style.column_figure(2.6 * n, 3.0)
    axes = fig.subplots(1, n, squeeze=False)[0]
    axes[0].bar(labels, a, color="#4c72b0")
    axes[0].set_title("scores a (logits)", fontsize=9)
    axes[1].bar(labels, p, color="#55a868")
    axes[1].set_ylim(0, 1)
    axes[1].set_title(f"probabilities (sum {p.sum():.3f})", fontsize=9)
    if output is not None:
        on = S.layer_name(output)
        loss = S.signal_array(rec, on, "loss", where)
        colors = ["#d62728" if k == b else "#8c8c8c" for k in range(len(loss))]
        axes[2].bar(np.arange(len(loss)), loss, color=colors)
        axes[2].set_title(f"loss per observation (mean {loss.mean():.3f})", fontsize=9)
        axes[2].set_xlabel("observation", fontsize=8)
    for ax in axes:
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{sm}: observation {b}", fontsize=10)
    return fig
