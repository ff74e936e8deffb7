"""The LSTM cell diagram, annotated with the recorded values at one time step.

The picture MATLAB's LSTM article describes: :math:`x_t`, :math:`h_{t-1}` and
:math:`c_{t-1}` enter; the four gate boxes σ σ tanh σ (forget, input, cell
candidate, output) act on them; ⊙ and + nodes combine them; :math:`c_t` and
:math:`h_t` leave. Each gate box is split into one strip per chosen hidden
unit, coloured by the unit's activation; the values are printed beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse, FancyBboxPatch, Rectangle
from matplotlib.text import Text

from ..errors import OptionError
from . import style as S

__all__ = ["LSTMCellDiagram", "lstm_cell", "LSTM_SIGNALS"]

#: the recorded LSTM signals the diagram needs, each (B, T, H)
LSTM_SIGNALS = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state")

_GATES = {  # key -> (signal, symbol, letter, box centre)
    "f": ("forget_gate", "σ", "f", (3.0, 2.6)),
    "i": ("input_gate", "σ", "i", (4.5, 2.6)),
    "g": ("cell_candidate", "tanh", "g", (5.8, 2.6)),
    "o": ("output_gate", "σ", "o", (7.4, 2.6)),
}
_BOX_W, _BOX_H = 0.9, 0.8
_C_Y, _H_Y = 5.4, 1.4  # heights of the cell-state and hidden-state lines


def _softsign(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.abs(x))


class LSTMCellDiagram:
    """The LSTM cell at one time step, with artists that update in place.

    Args:
        rec: a :class:`dltk.Recording` holding the layer's LSTM signals
            (``input_gate`` … ``hidden_state``, each (B, T, H)).
        layer: the LSTM layer (name or layer object). Default: the first
            recorded layer that has the LSTM signals.
        t: time step, 0-based (the title also shows MATLAB's 1-based step). Default: 0.
        observation: observation index b in the mini-batch. Default: 0.
        units: one hidden unit or a few (0-based). Default: ``(0,)``.
        x: the layer input (B, T, D), to annotate :math:`x_t`. Default: none.
        h0, c0: initial states (H,) or (B, H) used for :math:`t = 0`. Default: the
            layer object's ``HiddenState``/``CellState`` when given, else zeros
            (MATLAB's default).

    Attributes:
        fig: the figure. ``value_texts``: ``{"x", "h_prev", "c_prev", "f", "i",
        "g", "o", "c", "tanh_c", "h"} -> Text``. ``value_patches``: the same
        keys (except ``"x"``) -> list of per-unit rectangles coloured by value.
        ``values``: the numbers shown, ``{key: ndarray (len(units),)}``.
        ``title`` (layer, observation, units), ``time_text`` (the time step).
        ``gate_boxes``/``gate_labels``: outline and symbol (above the box) of
        each gate. :meth:`changing_artists` lists, in drawing order, what
        :meth:`update` changes (for blitting).
    """

    def __init__(
        self,
        rec: Any,
        layer: Any = None,
        t: int = 0,
        observation: int = 0,
        units: int | Iterable[int] = (0,),
        *,
        x: Any = None,
        h0: Any = None,
        c0: Any = None,
        figsize: tuple[float, float] = (8.0, 4.6),
    ) -> None:
        where = "dltk.viz.lstm_cell"
        self.layer = S.layer_name(layer) if layer is not None else _first_lstm(rec, where)
        self.data = {s: S.signal_array(rec, self.layer, s, where) for s in LSTM_SIGNALS}
        self.B, self.T, self.H = self.data["hidden_state"].shape
        self.x = None if x is None else np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float)
        obj = layer if not isinstance(layer, str) else None
        self.h0 = _initial(h0, obj, "HiddenState", self.B, self.H)
        self.c0 = _initial(c0, obj, "CellState", self.B, self.H)
        act = str(getattr(obj, "StateActivationFunction", "tanh")).lower()
        self.state_fn = _softsign if act == "softsign" else np.tanh
        self.state_symbol = "softsign" if act == "softsign" else "tanh"
        gate_act = str(getattr(obj, "GateActivationFunction", "sigmoid")).lower()
        self.gate_symbol = "hσ" if gate_act == "hard-sigmoid" else "σ"
        self.t, self.observation, self.units = 0, 0, (0,)
        self.value_texts: dict[str, Text] = {}
        self.value_patches: dict[str, list[Rectangle]] = {}
        self.values: dict[str, np.ndarray] = {}
        self.fig = S.new_figure(figsize)
        self._draw_static()
        self.update(t, observation, units)

    # ------------------------------------------------------------ drawing
    def _draw_static(self) -> None:
        """Everything that does not change with the time step: wiring, gate boxes, labels, colour bar."""
        ax = self.ax = self.fig.add_axes((0.0, 0.02, 0.87, 0.86))
        ax.set_xlim(0, 12)
        ax.set_ylim(0, 6.6)
        ax.set_axis_off()
        ax.add_patch(FancyBboxPatch((1.6, 0.8), 8.4, 5.3, boxstyle="round,pad=0.1", fc="#f4f4f4", ec="#999999"))
        self._draw_wiring(ax)
        self._draw_gates(ax)
        self._draw_labels(ax)
        self._draw_value_texts(ax)
        self._draw_titles_and_colorbar()

    def _draw_wiring(self, ax: Any) -> None:
        """The cell-state highway, the h/x bus, the arrows between gates and the ⊙/+/tanh nodes."""
        line = {"color": "#333333", "lw": 1.6, "zorder": 1}
        arrow = {"arrowstyle": "-|>", "color": "#333333", "lw": 1.6, "shrinkA": 0, "shrinkB": 0}

        def arr(a: tuple[float, float], b: tuple[float, float]) -> None:
            ax.annotate("", xy=b, xytext=a, arrowprops=arrow, zorder=1)

        # cell-state highway: c_{t-1} -> ⊙ f -> + -> c_t
        ax.plot([0.9, 11.0], [_C_Y, _C_Y], **line)
        arr((10.6, _C_Y), (11.4, _C_Y))
        # hidden/input bus under the gates: h_{t-1} and x_t concatenated
        ax.plot([0.9, 7.4], [_H_Y, _H_Y], **line)
        arr((2.2, 0.15), (2.2, _H_Y))
        for _key, (_s, _sym, _l, (gx, gy)) in _GATES.items():
            arr((gx, _H_Y), (gx, gy - _BOX_H / 2))
        # gate outputs
        arr((3.0, 3.0), (3.0, _C_Y - 0.22))  # f -> ⊙ on the highway
        ax.plot([4.5, 4.5, 4.95], [3.0, 4.2, 4.2], **line)  # i -> ⊙
        ax.plot([5.8, 5.8, 5.25], [3.0, 4.2, 4.2], **line)  # g -> ⊙
        arr((5.1, 4.42), (5.1, _C_Y - 0.22))  # i⊙g -> +
        # output branch: c_t -> tanh -> ⊙ o -> h_t
        ax.plot([8.7, 8.7], [_C_Y, 4.65], **line)
        arr((8.7, 3.95), (8.7, 2.82))
        arr((7.4 + _BOX_W / 2, 2.6), (8.48, 2.6))
        ax.plot([8.7, 8.7, 10.6], [2.38, _H_Y, _H_Y], **line)
        arr((10.6, _H_Y), (11.4, _H_Y))
        for cx, cy, sym in ((3.0, _C_Y, "⊙"), (5.1, 4.2, "⊙"), (5.1, _C_Y, "+"), (8.7, 2.6, "⊙")):
            ax.add_patch(Circle((cx, cy), 0.22, fc="white", ec="#333333", lw=1.4, zorder=3))
            ax.text(cx, cy, sym, ha="center", va="center", fontsize=12, zorder=4)
        ax.add_patch(Ellipse((8.7, 4.3), 1.0, 0.7, fc="white", ec="#333333", lw=1.4, zorder=2))
        ax.text(8.7, 4.3, self.state_symbol, ha="center", va="center", fontsize=9, zorder=4)

    def _draw_gates(self, ax: Any) -> None:
        """One box per gate with its activation symbol and letter (coloured by :meth:`update`)."""
        self.gate_boxes: dict[str, Rectangle] = {}
        self.gate_labels: dict[str, Text] = {}
        for key, (_sig, sym, letter, (gx, gy)) in _GATES.items():
            sym = self.gate_symbol if sym == "σ" else self.state_symbol
            self.gate_boxes[key] = Rectangle(
                (gx - _BOX_W / 2, gy - _BOX_H / 2), _BOX_W, _BOX_H, fill=False, lw=1.6, zorder=4
            )
            ax.add_patch(self.gate_boxes[key])
            self.gate_labels[key] = ax.text(
                gx, gy + _BOX_H / 2 + 0.04, f"{sym} {letter}", ha="center", va="bottom", fontsize=10, zorder=5
            )

    def _draw_labels(self, ax: Any) -> None:
        """Labels of what enters and leaves, and the gates' names."""
        small = {"fontsize": 9, "zorder": 5}
        ax.text(0.15, _C_Y + 0.55, "$c_{t-1}$ cell state", **small)
        ax.text(0.15, _H_Y + 0.55, "$h_{t-1}$ hidden state", **small)
        ax.text(2.05, 0.15, "input $x_t$", ha="right", **small)
        ax.text(10.3, _C_Y + 0.55, "$c_t$", **small)
        ax.text(10.3, _H_Y + 0.55, "$h_t$ (output)", **small)
        names = {"f": "forget", "i": "input", "g": "candidate", "o": "output"}
        for key, (_s, _sym, _l, (gx, gy)) in _GATES.items():
            ax.text(
                gx,
                gy - _BOX_H / 2 - 0.05,
                names[key],
                ha="center",
                va="top",
                fontsize=7,
                color="#555555",
                bbox={"boxstyle": "square,pad=0.05", "fc": "#f4f4f4", "ec": "none"},
                zorder=5,
            )

    def _draw_value_texts(self, ax: Any) -> None:
        """Empty value texts and the anchors of the per-unit strips (filled by :meth:`update`)."""
        anchors = {  # key -> (text xy, ha, strip centre or None)
            "c_prev": ((0.15, _C_Y - 0.3), "left", (0.55, _C_Y)),
            "h_prev": ((0.15, _H_Y - 0.3), "left", (0.55, _H_Y)),
            "x": ((2.35, 0.75), "left", None),
            "f": ((2.8, 4.25), "right", None),
            "i": ((4.3, 3.35), "right", None),
            "g": ((6.0, 3.35), "left", None),
            "o": ((7.4, 3.35), "center", None),
            "tanh_c": ((9.3, 4.3), "left", None),
            "c": ((11.1, _C_Y - 0.3), "left", (11.55, _C_Y)),
            "h": ((11.1, _H_Y - 0.3), "left", (11.55, _H_Y)),
        }
        for key, ((tx, ty), ha, _c) in anchors.items():
            va = "bottom" if key in ("i", "g", "o") else "top"
            self.value_texts[key] = ax.text(tx, ty, "", ha=ha, va=va, fontsize=8, family="monospace", zorder=6)
        self._strip_anchors = {k: c for k, (_xy, _ha, c) in anchors.items() if c is not None}
        self._strip_anchors.update({k: g[3] for k, g in _GATES.items()})
        self._strip_anchors["tanh_c"] = (8.7, 4.3)

    def _draw_titles_and_colorbar(self) -> None:
        fig = self.fig
        self.title = fig.text(0.01, 0.97, "", fontsize=11, va="top", weight="bold")
        self.time_text = fig.text(0.01, 0.91, "", fontsize=11, va="top", color="#0050a0")
        cax = fig.add_axes((0.875, 0.12, 0.018, 0.7))
        cb = fig.colorbar(ScalarMappable(S.ACTIVATION_NORM, S.ACTIVATION_CMAP), cax=cax)
        cb.set_label("activation (σ gates in 0…1, tanh in −1…1; c clipped)", fontsize=8)
        self.colorbar = cb

    def _strips(self, key: str, n: int) -> list[Rectangle]:
        """(Re)create ``n`` per-unit strips for ``key``."""
        for p in self.value_patches.get(key, []):
            p.remove()
        cx, cy = self._strip_anchors[key]
        w, h = (_BOX_W, _BOX_H) if key in _GATES else (0.5, 0.36)
        if key == "tanh_c":
            w, h = 0.5, 0.18
            cy -= 0.26
        ps = []
        for k in range(n):
            r = Rectangle((cx - w / 2 + k * w / n, cy - h / 2), w / n, h, lw=0, zorder=3 if key in _GATES else 2)
            self.ax.add_patch(r)
            ps.append(r)
        self.value_patches[key] = ps
        return ps

    # ------------------------------------------------------------- update
    def update(self, t: int | None = None, observation: int | None = None, units: Any = None) -> None:
        """Show time step ``t`` (0-based) for ``observation`` and ``units``; unchanged when None."""
        where = "LSTMCellDiagram.update"
        t = self.t if t is None else S.check_index(where, "time step t", t, self.T, " time steps")
        b = self.observation if observation is None else S.check_index(where, "observation", observation, self.B)
        new_units = self.units if units is None else S.check_units(where, units, self.H)
        if new_units != self.units or not self.value_patches:
            for key in self._strip_anchors:
                self._strips(key, len(new_units))
        self.t, self.observation, self.units = t, b, new_units
        u = list(new_units)
        d = self.data
        vals = {k: d[sig][b, t, u] for k, (sig, *_rest) in _GATES.items()}
        vals["c"] = d["cell_state"][b, t, u]
        vals["h"] = d["hidden_state"][b, t, u]
        vals["c_prev"] = d["cell_state"][b, t - 1, u] if t > 0 else self.c0[b, u]
        vals["h_prev"] = d["hidden_state"][b, t - 1, u] if t > 0 else self.h0[b, u]
        vals["tanh_c"] = self.state_fn(vals["c"])
        self.values = vals
        for key, v in vals.items():
            self.value_texts[key].set_text("\n".join(S.fmt(float(a)) for a in v))
            for patch, a in zip(self.value_patches[key], v):
                patch.set_facecolor(S.activation_color(float(a)))
        if self.x is not None:
            xt = self.x[b, t]
            self.values["x"] = xt
            head = S.fmt_values(xt[:3]) + (" …" if xt.size > 3 else "")
            self.value_texts["x"].set_text(f"{xt.size} values, ‖x‖={np.linalg.norm(xt):.3f}\n[{head}]")
        ulabel = ", ".join(str(k) for k in u)
        self.title.set_text(f"LSTM cell '{self.layer}' — observation {b}, unit{'s' if len(u) > 1 else ''} {ulabel}")
        self.time_text.set_text(f"time step t = {t}  (MATLAB {t + 1} of {self.T})")

    def changing_artists(self) -> list[Any]:
        """Artists a time step changes, in drawing order (strips below the gate outlines).

        A change of observation or units also changes :attr:`title` and, for
        units, recreates the strips.
        """
        return [
            *(p for ps in self.value_patches.values() for p in ps),
            *self.gate_boxes.values(),
            *self.value_texts.values(),
            self.time_text,
        ]

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.fig.savefig(buf, format="png")
        return buf.getvalue()


def _first_lstm(rec: Any, where: str) -> str:
    for name in rec:
        if all(s in rec[name] for s in LSTM_SIGNALS):
            return name
    raise OptionError(
        f"{where}: no recorded layer has the LSTM signals ({', '.join(LSTM_SIGNALS)}); "
        f"recorded layers: {', '.join(rec) or 'none'}."
    )


def _initial(value: Any, layer: Any, prop: str, B: int, H: int) -> np.ndarray:
    """Initial state as (B, H): given, the layer's MATLAB ``HiddenState``/``CellState`` (H×1 or H×B), or zeros."""
    if value is None and layer is not None:
        value = getattr(layer, prop, None)
    if value is None:
        return np.zeros((B, H))
    arr = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=float)
    if arr.size == 0:
        return np.zeros((B, H))
    if arr.size == H:
        return np.broadcast_to(arr.reshape(1, H), (B, H))
    if arr.shape == (H, B):
        return arr.T
    if arr.shape == (B, H):
        return arr
    raise OptionError(f"dltk.viz.lstm_cell: initial {prop} has shape {arr.shape}, expected {H}×1 or {H}×{B} (H×B).")


def lstm_cell(
    rec: Any,
    layer: Any = None,
    t: int = 0,
    observation: int = 0,
    units: int | Iterable[int] = (0,),
    **kwargs: Any,
) -> Figure:
    """Draw the LSTM cell at time step ``t`` with the recorded values.

    The diagram shows, for one observation and one or a few hidden units,

    .. math::
        c_t = f_t \\odot c_{t-1} + i_t \\odot g_t, \\qquad h_t = o_t \\odot \\tanh(c_t)

    where :math:`f_t, i_t, o_t` are the forget, input and output gates
    (sigmoid), :math:`g_t` the cell candidate (tanh), :math:`c` the cell state
    and :math:`h` the hidden state. Gate boxes are coloured by activation.

    Args:
        rec: a :class:`dltk.Recording` with the layer's LSTM signals.
        layer: the LSTM layer, name or object. Default: the first recorded LSTM.
        t: time step, 0-based (MATLAB's step t+1). Default: 0.
        observation: observation in the mini-batch. Default: 0.
        units: hidden unit(s) to annotate. Default: ``(0,)``.
        **kwargs: ``x`` (layer input, to annotate :math:`x_t`), ``h0``/``c0``
            (initial states; default the layer's MATLAB ``HiddenState``/``CellState``,
            else zeros), ``figsize``.

    Shape:
        Each recorded signal ``input_gate``, ``forget_gate``, ``cell_candidate``,
        ``output_gate``, ``cell_state``, ``hidden_state`` is (B, T, H) BTC
        [MATLAB H×B×T CBT]; ``x`` is (B, T, D) [MATLAB D×B×T].
        B observations, T time steps, H = NumHiddenUnits, D = InputSize.

    MATLAB: the LSTM-unit diagram of the ``lstmLayer`` documentation, with the
    numbers MATLAB does not show.

    Returns:
        The figure; ``fig.dltk_view`` is the :class:`LSTMCellDiagram` (call
        ``.update(t=…)`` to move it).

    Example:
        >>> rec = dltk.record(layers, X)
        >>> dltk.viz.lstm_cell(rec, "lstm", t=7, units=(0, 1))
    """
    view = LSTMCellDiagram(rec, layer, t, observation, units, **kwargs)
    view.fig.dltk_view = view  # type: ignore[attr-defined]
    return view.fig
