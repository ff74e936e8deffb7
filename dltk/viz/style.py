"""Shared look and plumbing of the dltk figures.

Every view draws into a :class:`matplotlib.figure.Figure` that pyplot does not
know about (no ``plt.figure``), so nothing leaks into ``plt.get_fignums()``
and nothing is shown twice. Widgets give such a figure an ipympl canvas when
the ``%matplotlib widget`` backend is active.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
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
