"""The figure rules of dltk, as helpers every view and lesson widget can use.

What a student sees in a notebook must fit and read at a glance:

* **fits the column** — a figure is at most :data:`COLUMN_WIDTH_IN` inches
  wide at :data:`DPI` dots per inch (:data:`COLUMN_WIDTH_PX` = 800 pixels,
  the default JupyterLab notebook column at 100 % zoom); wider content is
  drawn smaller (:func:`fit_column`) or wraps (:func:`wrap_layout` for a row
  of widgets);
* **pixel grids** — an image of pixels has integer ticks at the pixel
  centres (:func:`pixel_axes`) and a visible frame (:func:`frame`), so a
  white image on a white page still shows where it is;
* **colour scales are stated** — signed values use a diverging map centred
  on 0 (:func:`signed_scale`), counts and probabilities a sequential one
  (:func:`seq_scale`); :func:`image_scale` picks one from the data, and
  :func:`colorbar` labels it; layouts are constrained so the colour bar is
  never cut;
* **an all-equal image says so** — :func:`note_if_constant` writes
  "every window's maximum is 1.0" across it instead of leaving a blank square.

:func:`figure_problems` checks a rendered figure against these rules
mechanically (the test suite runs it on every view and widget figure; a
lesson widget's own test can run it too).

Example:
    >>> from dltk.viz import style
    >>> fig = style.column_figure(6.0, 3.0)
    >>> ax = fig.add_subplot()
    >>> cmap, norm = style.image_scale(img)
    >>> im = ax.imshow(img, cmap=cmap, norm=norm)
    >>> style.pixel_axes(ax, *img.shape)
    >>> style.colorbar(fig, im, ax, "activation")
    >>> style.note_if_constant(ax, img, "window's maximum")

It also holds the shared look and plumbing of the dltk figures: every view draws into a
:class:`matplotlib.figure.Figure` that pyplot does not know about (no ``plt.figure``), so nothing
leaks into ``plt.get_fignums()`` and nothing is shown twice. Widgets give such a figure an ipympl
canvas when the ``%matplotlib widget`` backend is active.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure

from ..errors import OptionError
from ..layouts import matlab_format

#: colour of each kind of signal (line plots, legends)
GATE_COLORS = {
    "input_gate": "#1f77b4",
    "forget_gate": "#d62728",
    "cell_candidate": "#2ca02c",
    "output_gate": "#9467bd",
    "cell_state": "#ff7f0e",
    "hidden_state": "#17becf",
    "reset_gate": "#d62728",
    "update_gate": "#1f77b4",
    "candidate_state": "#2ca02c",
}

#: one diverging colormap for activations: −1 (blue) … 0 (white) … +1 (red);
#: sigmoid gates use the upper half, tanh values the whole range
ACTIVATION_CMAP = mpl.colormaps["RdBu_r"]
ACTIVATION_NORM = Normalize(vmin=-1.0, vmax=1.0)
NONFINITE_COLOR = "#e00000"

#: short symbols used in titles and labels
SYMBOLS = {
    "input_gate": "i",
    "forget_gate": "f",
    "cell_candidate": "g",
    "output_gate": "o",
    "cell_state": "c",
    "hidden_state": "h",
    "reset_gate": "r",
    "update_gate": "z",
    "candidate_state": "h̃",
}


def new_figure(figsize: tuple[float, float], dpi: float = 100, **kwargs: Any) -> Figure:
    """A figure unknown to pyplot, with an Agg canvas (draws and saves headless)."""
    fig = Figure(figsize=figsize, dpi=dpi, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def activation_color(value: float, norm: Normalize = ACTIVATION_NORM) -> tuple[float, float, float, float]:
    """Face colour for an activation value (red when not finite)."""
    if not np.isfinite(value):
        return mpl.colors.to_rgba(NONFINITE_COLOR)
    return ACTIVATION_CMAP(norm(value))


def layer_name(layer: Any) -> str:
    """Name of a layer given as text or as a layer object."""
    if isinstance(layer, str):
        return layer
    label = getattr(layer, "label", None)
    if isinstance(label, str):
        return label
    raise OptionError(f"expected a layer name or a dltk layer, got {type(layer).__name__}")


def signal_array(rec: Any, layer: str, signal: str, where: str) -> np.ndarray:
    """``rec[layer][signal]`` as a float numpy array, or a clear error."""
    if layer not in rec:
        raise OptionError(
            f"{where}: the recording has no layer '{layer}'; recorded layers: {', '.join(rec) or 'none'}."
        )
    sigs = rec[layer]
    if signal not in sigs:
        raise OptionError(
            f"{where}: layer '{layer}' has no recorded signal '{signal}'; recorded: {', '.join(sigs) or 'none'}. "
            "Record it with dltk.record(net, X) without restricting signals=."
        )
    v = sigs[signal]
    return v.detach().to(torch.float64).cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, float)


def check_index(where: str, what: str, value: int, size: int, extra: str = "") -> int:
    """Validate a 0-based index (time step, observation, unit)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise OptionError(f"{where}: {what} must be an integer index, got {value!r}.")
    if not 0 <= int(value) < size:
        raise OptionError(
            f"{where}: {what} {value} is out of range; the recording has {size} (valid 0 … {size - 1}){extra}."
        )
    return int(value)


def check_units(where: str, units: int | Iterable[int], size: int) -> tuple[int, ...]:
    """Validate a unit index or a few of them."""
    units = (units,) if isinstance(units, (int, np.integer)) else tuple(units)
    if not units:
        raise OptionError(f"{where}: units must name at least one hidden unit.")
    return tuple(check_index(where, "unit", u, size, " hidden units") for u in units)


def symbolic_shape(shape: Sequence[int], layout: str | None) -> tuple[str, str]:
    """Activation size in both notations with symbolic batch/time:
    ``(B, T, 100)`` and ``100×B×T``."""
    if layout is None or len(layout) != len(shape):
        dims = ["B", *map(str, shape[1:])] if shape else []
        return "(" + ", ".join(dims) + ")", "×".join(dims)
    named = {a: ("B" if a == "B" else "T" if a == "T" else str(s)) for a, s in zip(layout, shape)}
    dltk_str = "(" + ", ".join(named[a] for a in layout) + ")"
    order = {"BC": "CB", "BTC": "CBT", "BCHW": "HWCB", "BCDHW": "HWDCB", "BTCHW": "HWCBT"}.get(layout, layout)
    return dltk_str, "×".join(named[a] for a in order) + f" {matlab_format(layout)}"


def fmt(v: float) -> str:
    """Compact number for annotations."""
    if not np.isfinite(v):
        return str(v)
    return f"{v:+.3f}" if abs(v) < 100 else f"{v:+.3g}"


def fmt_values(vals: Sequence[float]) -> str:
    return ", ".join(fmt(v) for v in vals)


def recorded_input(net: Any, rec: Any, layer: str, X: Any = None) -> Any:
    """The tensor that entered ``layer``'s first input in a recorded pass.

    Found as the recorded ``output`` of the layer feeding its ``in`` port
    (``net.connections``); for a single layer, ``X``. None when unknown.
    """
    if not hasattr(net, "connections"):
        return X if getattr(net, "label", None) == layer else None
    for src, dst in net.connections:
        d, _, port = dst.partition("/")
        if d == layer and port in ("", "in", "in1"):
            s = src.split("/")[0]
            if s in rec and "output" in rec[s]:
                return rec[s]["output"]
    return None


def to_numpy(v: Any) -> np.ndarray:
    """A tensor or array as float64 numpy (bool masks become 0/1)."""
    if isinstance(v, torch.Tensor):
        return v.detach().to(torch.float64).cpu().numpy()
    return np.asarray(v, dtype=float)


def montage(x: np.ndarray, max_tiles: int = 16) -> tuple[np.ndarray, int]:
    """Tile (C, H, W) channels into one image (NaN gaps); returns (image, channels shown)."""
    c = min(x.shape[0], max_tiles)
    cols = int(np.ceil(np.sqrt(c)))
    rows = int(np.ceil(c / cols))
    h, w = x.shape[1:]
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for k in range(c):
        r, q = divmod(k, cols)
        out[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = x[k]
    return out, c


def describe_shape(shape: Sequence[int], layout: str | None) -> str:
    """``(4, 20, 12) BTC [MATLAB 12×4×20 CBT]`` when the layout is known, else ``(4, 20, 12)``."""
    from ..layouts import describe, shape_str

    if layout is not None and len(layout) == len(shape):
        return describe(tuple(shape), layout)
    return shape_str(tuple(shape))


__all__ = [
    "COLUMN_WIDTH_IN",
    "COLUMN_WIDTH_PX",
    "DPI",
    "FRAME_COLOR",
    "CONSTANT_NOTE_GID",
    "GATE_COLORS",
    "SYMBOLS",
    "NONFINITE_COLOR",
    "ACTIVATION_CMAP",
    "ACTIVATION_NORM",
    "signed_cmap",
    "seq_cmap",
    "DIVERGING_CMAPS",
    "new_figure",
    "column_figure",
    "fit_column",
    "freeze_layout",
    "to_numpy",
    "check_index",
    "recorded_input",
    "pixel_axes",
    "frame",
    "signed_scale",
    "seq_scale",
    "image_scale",
    "colorbar",
    "note_if_constant",
    "wrap_layout",
    "figure_problems",
]

#: widest figure that fits the default JupyterLab notebook column (inches at :data:`DPI`)
COLUMN_WIDTH_IN = 8.0
#: figure resolution of every dltk view (dots per inch)
DPI = 100
#: the same width in screen pixels. How a figure reaches the page: an ipympl canvas
#: (``%matplotlib widget``) is laid out at width × dpi CSS pixels (it renders at
#: dpi × devicePixelRatio and scales back); the widgets' PNG fallback (an ``Image``
#: widget) is laid out at width × dpi pixels; an inline PNG (``%matplotlib inline``)
#: is saved at the figure's dpi and JupyterLab shrinks a wider one to the column —
#: only the first two scroll sideways, so the rule is on width × dpi
COLUMN_WIDTH_PX = int(COLUMN_WIDTH_IN * DPI)
#: colour of image frames
FRAME_COLOR = "#555555"
#: gid of the text :func:`note_if_constant` writes (how :func:`figure_problems` finds it)
CONSTANT_NOTE_GID = "dltk-constant-note"

#: diverging colour map for signed values: negative blue, 0 white, positive red
signed_cmap: Colormap = ACTIVATION_CMAP
#: sequential colour map for counts, probabilities and other non-negative values
seq_cmap: Colormap = mpl.colormaps["viridis"]
#: names of colour maps that are diverging (must be centred on 0)
DIVERGING_CMAPS = frozenset(
    {"RdBu", "RdBu_r", "coolwarm", "bwr", "seismic", "PuOr", "PuOr_r", "PiYG", "PRGn", "BrBG", "RdYlBu", "RdGy"}
)


# ------------------------------------------------------------------ sizes
def column_figure(width: float, height: float, *, dpi: float = DPI, layout: str | None = "constrained") -> Figure:
    """A new figure no wider than the notebook column.

    ``width`` above :data:`COLUMN_WIDTH_IN` is reduced to it and ``height``
    scaled by the same factor. The default constrained layout keeps titles,
    tick labels and colour bars inside the figure.
    """
    scale = min(1.0, COLUMN_WIDTH_IN * DPI / (width * dpi))
    return new_figure((width * scale, height * scale), dpi=dpi, layout=layout)


def fit_column(fig: Figure, max_px: int = COLUMN_WIDTH_PX) -> Figure:
    """Draw ``fig`` smaller (lower dpi, same layout) when it is wider than ``max_px`` pixels.

    Fonts and lines shrink with the figure, so nothing is cut and nothing
    re-flows; use it for figures whose width grows with their content
    (a wide network graph). Returns ``fig``.
    """
    w_px = fig.get_figwidth() * fig.dpi
    if w_px > max_px:
        fig.set_dpi(fig.dpi * max_px / w_px)
    return fig


def freeze_layout(fig: Figure) -> Figure:
    """Run the figure's layout engine once and keep the result (later draws skip it).

    Constrained layout places titles and colour bars so nothing is cut, but
    costs time on every draw; a view that updates in place (same panels,
    new numbers) freezes it after building. Returns ``fig``.
    """
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)  # measures the texts with the canvas's renderer; draws nothing
        fig.set_layout_engine("none")
    return fig


# ------------------------------------------------------------ pixel images
def frame(ax: Axes, color: str = FRAME_COLOR, lw: float = 1.0) -> Axes:
    """Give an image axes a visible frame (all four spines), even without ticks."""
    ax.set_axis_on()
    ax.set_frame_on(True)
    for sp in ax.spines.values():
        sp.set_visible(True)
        sp.set_color(color)
        sp.set_linewidth(lw)
    return ax


def _int_ticks(n: int, max_ticks: int) -> list[int]:
    if n <= max_ticks:
        return list(range(n))
    step = int(np.ceil((n - 1) / (max_ticks - 1)))
    for nice in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if nice >= step:
            step = nice
            break
    return list(range(0, n, step))


def pixel_axes(ax: Axes, h: int, w: int, *, max_ticks: int = 8, labels: bool = True, fontsize: float = 7) -> Axes:
    """Integer ticks at the pixel centres of an ``h × w`` image drawn by ``imshow``, and a frame.

    Pixel (row r, column c) covers r−½ … r+½, so tick k sits on the centre
    of row/column k (0-based, as PyTorch indexes; MATLAB's index is k+1).
    At most ``max_ticks`` ticks per axis (steps of 1, 2, 5, 10 …).
    ``labels=False`` keeps the frame and drops the ticks (tiled channels).
    """
    if labels:
        ax.set_xticks(_int_ticks(int(w), max_ticks))
        ax.set_yticks(_int_ticks(int(h), max_ticks))
        ax.tick_params(labelsize=fontsize, length=2, pad=1)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    return frame(ax)


# ------------------------------------------------------------ colour scales
def _finite(values: Any) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a[np.isfinite(a)]


def signed_scale(values: Any = None, limit: float | None = None) -> tuple[Colormap, Normalize]:
    """Diverging map and a norm centred on 0: ``−m … 0 … +m`` with ``m = max |values|`` (or ``limit``)."""
    if limit is None:
        fin = _finite(values) if values is not None else np.empty(0)
        limit = float(np.abs(fin).max()) if fin.size else 1.0
    limit = max(float(limit), 1e-12)
    return signed_cmap, Normalize(-limit, limit)


def seq_scale(values: Any = None, low: float = 0.0, high: float | None = None) -> tuple[Colormap, Normalize]:
    """Sequential map for counts/probabilities: ``low … high`` (default 0 … max of the values)."""
    if high is None:
        fin = _finite(values) if values is not None else np.empty(0)
        high = float(fin.max()) if fin.size else 1.0
    if not high > low:
        high = low + 1.0  # all equal: a valid scale (note_if_constant says what the value is)
    return seq_cmap, Normalize(low, high)


def image_scale(values: Any) -> tuple[Colormap, Normalize]:
    """The scale the rules ask for: diverging around 0 if any value is negative, else sequential from 0."""
    fin = _finite(values)
    if fin.size and fin.min() < 0:
        return signed_scale(fin)
    return seq_scale(fin)


def colorbar(fig: Figure, mappable: Any, ax: Any, label: str, *, fontsize: float = 7, **kw: Any) -> Any:
    """A labelled colour bar beside ``ax``, exactly as tall as it.

    For one axes the bar is an inset on its right (it follows an image's
    aspect ratio, and constrained layout makes room for it); for a list of
    axes sharing one scale, matplotlib's own colour bar beside them all.
    """
    if isinstance(ax, Axes) and not kw:
        cax = ax.inset_axes((1.04, 0.0, 0.06, 1.0))
        cb = fig.colorbar(mappable, cax=cax)
    else:
        cb = fig.colorbar(mappable, ax=ax, shrink=kw.pop("shrink", 0.9), pad=kw.pop("pad", 0.02), **kw)
    cb.set_label(label, fontsize=fontsize)
    cb.ax.tick_params(labelsize=fontsize)
    return cb


def _value_text(v: float) -> str:
    if float(v).is_integer():
        return f"{v:.1f}"
    return f"{v:.4g}"


def note_if_constant(ax: Axes, img: Any, what: str, *, fontsize: float = 8) -> Any:
    """If every finite value of ``img`` is the same, say so across ``ax``.

    Writes e.g. "every window's maximum is 1.0" (``what`` = "window's
    maximum") centred on the axes, and returns the text (None when the
    values differ). A view that updates in place calls it again and removes
    the previous note itself (its gid is :data:`CONSTANT_NOTE_GID`).
    """
    for t in list(ax.texts):
        if t.get_gid() == CONSTANT_NOTE_GID:
            t.remove()
    fin = _finite(img)
    if fin.size == 0 or fin.min() != fin.max():
        return None
    text = ax.text(
        0.5,
        0.5,
        f"every {what} is {_value_text(float(fin[0]))}",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=fontsize,
        wrap=True,
        bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": FRAME_COLOR, "alpha": 0.92},
        zorder=10,
    )
    text.set_gid(CONSTANT_NOTE_GID)
    return text


# ------------------------------------------------------------------ widgets
def wrap_layout(**kw: Any) -> Any:
    """An ``ipywidgets.Layout`` for a row that wraps onto the next line when the column is too narrow."""
    import ipywidgets as W

    return W.Layout(flex_flow="row wrap", align_items="flex-start", **kw)


# ------------------------------------------------------------------ checks
def _is_colorbar_axes(ax: Axes) -> bool:
    return getattr(ax, "_colorbar", None) is not None


def _colorbar_cmaps(fig: Figure) -> set[str]:
    axes = [*fig.axes, *(c for ax in fig.axes for c in ax.child_axes)]  # inset colour bars are child axes
    return {ax._colorbar.cmap.name for ax in axes if _is_colorbar_axes(ax)}  # type: ignore[attr-defined]


def figure_problems(fig: Figure, name: str = "figure", max_px: int = COLUMN_WIDTH_PX) -> list[str]:
    """What breaks the figure rules (module docstring); empty when none.

    The figure is drawn first. Checked: width in pixels ≤ ``max_px``;
    everything drawn lies inside the figure (no cut panel, title or colour
    bar); every axes showing an image (``imshow``) has a visible frame,
    integer tick positions and a colour bar in the figure for its colour
    map; a diverging map is centred on 0 and signed data uses one; an image
    whose values are all equal carries a :func:`note_if_constant` note.
    """
    out: list[str] = []
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    w_px = fig.get_figwidth() * fig.dpi
    if w_px > max_px + 0.5:
        out.append(f"{name}: {w_px:.0f} px wide (> {max_px} px, the notebook column)")
    bb = fig.get_tightbbox(r)  # inches
    W_in, H_in = fig.get_size_inches()
    tol = 1.5 / fig.dpi
    if bb is not None and (bb.x0 < -tol or bb.y0 < -tol or bb.x1 > W_in + tol or bb.y1 > H_in + tol):
        out.append(
            f"{name}: drawn content reaches outside the figure "
            f"(extent {bb.x0:.2f}…{bb.x1:.2f} × {bb.y0:.2f}…{bb.y1:.2f} in, figure {W_in:.2f} × {H_in:.2f} in)"
        )
    cb_cmaps = _colorbar_cmaps(fig)
    for k, ax in enumerate(fig.axes):
        if _is_colorbar_axes(ax) or not ax.get_visible():
            continue
        for im in ax.images:
            if not im.get_visible():
                continue
            where = f"{name}: axes {k} ({ax.get_title()!r})"
            data = np.ma.filled(np.ma.asarray(im.get_array(), dtype=float), np.nan)
            if data.ndim == 3:  # RGB(A) images carry no colour scale
                continue
            if not ax.axison or not ax.get_frame_on() or not all(s.get_visible() for s in ax.spines.values()):
                out.append(f"{where}: the image has no visible frame (use style.frame / style.pixel_axes)")
            for axis, lim in (("x", ax.get_xlim()), ("y", ax.get_ylim())):
                lo, hi = sorted(lim)
                ticks = [t for t in getattr(ax, f"get_{axis}ticks")() if lo - 1e-9 <= t <= hi + 1e-9]
                if ax.axison and any(abs(t - round(t)) > 1e-9 for t in ticks):
                    out.append(f"{where}: fractional {axis} ticks {[float(t) for t in ticks]} on a pixel grid")
            cmap, norm = im.get_cmap(), im.norm
            if cmap.name not in cb_cmaps:
                out.append(f"{where}: colour map {cmap.name!r} has no colour bar in the figure")
            fin = data[np.isfinite(data)]
            if cmap.name in DIVERGING_CMAPS and norm.vmin is not None and norm.vmax is not None:
                if abs(norm.vmin + norm.vmax) > 1e-6 * max(abs(norm.vmax), 1e-12):
                    out.append(f"{where}: diverging map not centred on 0 ({norm.vmin:g} … {norm.vmax:g})")
            if fin.size and fin.min() < 0 and cmap.name not in DIVERGING_CMAPS:
                out.append(f"{where}: signed values drawn with the sequential map {cmap.name!r}")
            if fin.size and fin.min() == fin.max():
                if not any(t.get_gid() == CONSTANT_NOTE_GID and t.get_visible() for t in ax.texts):
                    out.append(f"{where}: every value is {fin[0]:g} but nothing says so (style.note_if_constant)")
    return out
