"""Recurrent layers over time: gate/state heatmaps and state trajectories.

A heatmap shows one signal of one observation as hidden units × time steps;
a vertical cursor marks the current time step (moved in place by widgets).
LSTM panels: i, f, g, o, c, h; GRU: r, z, h̃, h; a bidirectional layer gets
one row per direction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..errors import OptionError
from . import style
from . import style as S

__all__ = [
    "RECURRENT_FAMILIES",
    "recurrent_signals",
    "GateHeatmaps",
    "gate_heatmaps",
    "StateTrajectories",
    "state_trajectories",
]

#: family -> the per-direction signals, in panel order
RECURRENT_FAMILIES = {
    "LSTM": ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state"),
    "GRU": ("reset_gate", "update_gate", "candidate_state", "hidden_state"),
}
_STATES = ("cell_state", "hidden_state")


def recurrent_signals(rec: Any, layer: str) -> tuple[str, list[tuple[str, dict[str, str]]]]:
    """Find a recorded layer's recurrent signals, per direction.

    Returns ``(family, [(direction, {base_signal: recorded_name}), …])``;
    ``direction`` is ``""`` for a one-directional layer, else the prefix or
    suffix naming the direction (``"forward"``/``"backward"`` …).
    """
    names = list(rec[layer])
    for family, bases in RECURRENT_FAMILIES.items():
        if all(b in names for b in bases):
            return family, [("", {b: b for b in bases})]
        dirs: dict[str, dict[str, str]] = {}
        for n in names:
            for b in bases:
                if n != b and n.endswith("_" + b):
                    dirs.setdefault(n[: -len(b) - 1], {})[b] = n
                elif n != b and n.startswith(b + "_"):
                    dirs.setdefault(n[len(b) + 1 :], {})[b] = n
        full = [(d, m) for d, m in dirs.items() if len(m) == len(bases)]
        if full:
            order = {"forward": 0, "fwd": 0, "backward": 1, "bwd": 1}
            return family, sorted(full, key=lambda dm: order.get(dm[0], 2))
    raise OptionError(
        f"dltk.viz: layer '{layer}' has no recorded LSTM or GRU signals; recorded: {', '.join(names) or 'none'}."
    )


def _pick_recurrent(rec: Any, layer: Any, where: str) -> str:
    if layer is not None:
        return S.layer_name(layer)
    for name in rec:
        try:
            recurrent_signals(rec, name)
            return name
        except OptionError:
            continue
    raise OptionError(f"{where}: no recorded layer has LSTM or GRU signals; recorded: {', '.join(rec) or 'none'}.")


class GateHeatmaps:
    """Heatmaps (units × time) of a recurrent layer's gates and states for one observation.

    Args:
        rec: a :class:`dltk.Recording` with the layer's signals.
        layer: the LSTM/GRU/BiLSTM layer (name or object). Default: the first recorded one.
        observation: observation index. Default: 0.
        t: time step of the cursor (0-based), or None for no cursor. Default: None.
        units: hidden units to mark on the vertical axis. Default: none.

    Attributes:
        fig, axes (``{(direction, signal): Axes}``), images (same keys ->
        ``AxesImage``, data ``(H, T)``), cursors (same keys -> ``Line2D``),
        family (``"LSTM"``/``"GRU"``), directions.
    """

    def __init__(
        self,
        rec: Any,
        layer: Any = None,
        observation: int = 0,
        t: int | None = None,
        units: Iterable[int] = (),
        *,
        figsize: tuple[float, float] | None = None,
        dpi: float = 100,
    ) -> None:
        where = "dltk.viz.gate_heatmaps"
        self.layer = _pick_recurrent(rec, layer, where)
        self.family, dirs = recurrent_signals(rec, self.layer)
        self.directions = [d for d, _ in dirs]
        self.data = {(d, b): S.signal_array(rec, self.layer, n, where) for d, m in dirs for b, n in m.items()}
        first = next(iter(self.data.values()))
        self.B, self.T, self.H = first.shape
        bases = RECURRENT_FAMILIES[self.family]
        ncol = 3 if len(bases) == 6 else len(bases)
        per_dir = len(bases) // ncol
        nrow = per_dir * len(dirs)
        self.fig = style.column_figure(*(figsize or (8.0, 1.75 * nrow + 0.75)), dpi=dpi)
        grid = self.fig.subplots(nrow, ncol, squeeze=False, sharex=True, sharey=True)
        self.axes, self.images, self.cursors, self.norms = {}, {}, {}, {}
        self.observation = S.check_index(where, "observation", observation, self.B)
        for dr, d in enumerate(self.directions):
            for j, base in enumerate(bases):
                r, c = dr * per_dir + j // ncol, j % ncol
                ax = grid[r][c]
                key = (d, base)
                vals = self.data[key]
                if base == "cell_state":
                    lim = float(np.nanmax(np.abs(vals[np.isfinite(vals)]))) if np.isfinite(vals).any() else 1.0
                    norm = Normalize(-max(lim, 1e-6), max(lim, 1e-6))
                else:
                    norm = S.ACTIVATION_NORM
                self.norms[key] = norm
                im = ax.imshow(
                    vals[self.observation].T,
                    aspect="auto",
                    origin="lower",
                    cmap=S.ACTIVATION_CMAP,
                    norm=norm,
                    interpolation="nearest",
                    extent=(-0.5, self.T - 0.5, -0.5, self.H - 0.5),
                )
                self.images[key] = im
                self.cursors[key] = ax.axvline(0, color="black", lw=1.2, visible=False)
                label = f"{S.SYMBOLS.get(base, base)} — {base.replace('_', ' ')}"
                if base == "cell_state":
                    label += f" (±{norm.vmax:.2g})"
                ax.set_title(f"{d} {label}".strip(), fontsize=9)
                ax.tick_params(labelsize=7)
                if c == 0:
                    ax.set_ylabel("hidden unit", fontsize=8)
                if r == nrow - 1:
                    ax.set_xlabel("time step t", fontsize=8)
                self.axes[key] = ax
        first = grid[0][0]
        first.xaxis.set_major_locator(MaxNLocator(6, integer=True))  # time steps: whole numbers
        first.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        self.colorbar = style.colorbar(
            self.fig,
            ScalarMappable(S.ACTIVATION_NORM, S.ACTIVATION_CMAP),
            list(grid.ravel()),
            "activation (c: its own ±max)",
            fontsize=8,
            shrink=0.85,
        )
        self.title = self.fig.suptitle("", fontsize=10)
        self.t: int | None = None
        self.units: tuple[int, ...] = ()
        self._where = where
        self.set_units(units)
        self.set_time(t)
        self._set_title()
        style.freeze_layout(self.fig)  # computed once: a time step only moves the cursors

    def _set_title(self) -> None:
        kind = "BiLSTM" if self.family == "LSTM" and len(self.directions) > 1 else self.family
        self.title.set_text(f"{kind} '{self.layer}' — observation {self.observation} (line: current time step)")

    def set_time(self, t: int | None) -> None:
        """Move the cursor to time step ``t`` (None hides it)."""
        if t is not None:
            t = S.check_index(self._where, "time step t", t, self.T, " time steps")
        self.t = t
        for line in self.cursors.values():
            if t is not None:
                line.set_xdata([t, t])
            line.set_visible(t is not None)

    def set_observation(self, observation: int) -> None:
        """Show another observation of the mini-batch."""
        b = S.check_index(self._where, "observation", observation, self.B)
        self.observation = b
        for key, im in self.images.items():
            im.set_data(self.data[key][b].T)
        self._set_title()

    def set_units(self, units: Iterable[int]) -> None:
        """Mark these hidden units with ticks on the vertical axis."""
        units = tuple(units)
        if units:
            units = S.check_units(self._where, units, self.H)
        self.units = units
        first = next(iter(self.axes.values()))
        if units:
            first.set_yticks(list(units))
        else:
            first.set_yticks(np.linspace(0, self.H - 1, min(self.H, 5)).round().astype(int).tolist())


def gate_heatmaps(
    rec: Any, layer: Any = None, observation: int = 0, t: int | None = None, units: Iterable[int] = (), **kwargs: Any
) -> Figure:
    """Heatmaps over time of a recurrent layer's gates and states.

    For an LSTM the panels are the input gate :math:`i_t`, forget gate
    :math:`f_t`, cell candidate :math:`g_t`, output gate :math:`o_t`, cell
    state :math:`c_t` and hidden state :math:`h_t`; for a GRU the reset gate
    :math:`r_t`, update gate :math:`z_t`, candidate :math:`\\tilde h_t` and
    :math:`h_t`; for a BiLSTM one row per direction. Each panel is
    hidden units (rows) × time steps (columns) of one observation, where
    every value is read from the recording ``rec[layer][signal]`` (B, T, H).

    Args:
        rec: a :class:`dltk.Recording` with the layer's signals.
        layer: the LSTM/GRU/BiLSTM layer (name or object). Default: the first recorded one.
        observation: observation index. Default: 0.
        t: time step of the cursor, 0-based, or None. Default: None.
        units: hidden units marked on the vertical axis. Default: none.

    Shape:
        Signals (B, T, H) BTC [MATLAB H×B×T CBT]; each panel shows one
        observation as H×T (units up, time to the right). BiLSTM signals are
        ``forward_…`` and ``backward_…``, each (B, T, H) in original time order.

    Returns:
        The figure (``fig.dltk_view`` is the :class:`GateHeatmaps`).

    Example:
        >>> dltk.viz.gate_heatmaps(dltk.record(layers, X), "lstm", observation=0, t=7)
    """
    view = GateHeatmaps(rec, layer, observation, t, units, **kwargs)
    view.fig.dltk_view = view  # type: ignore[attr-defined]
    return view.fig


class StateTrajectories:
    """Cell- and hidden-state trajectories over time for chosen units (a GRU has no cell).

    Args:
        rec, layer, observation, t: as :class:`GateHeatmaps`.
        units: the hidden units to draw (one line each). Default: ``(0,)``.

    Attributes:
        fig, axes (``{(direction, state): Axes}``), lines (same keys -> list of
        ``Line2D`` per unit), markers (same keys -> ``PathCollection`` at the
        cursor), cursors.
    """

    def __init__(
        self,
        rec: Any,
        layer: Any = None,
        observation: int = 0,
        t: int | None = None,
        units: Iterable[int] = (0,),
        *,
        figsize: tuple[float, float] | None = None,
    ) -> None:
        where = self._where = "dltk.viz.state_trajectories"
        self.layer = _pick_recurrent(rec, layer, where)
        self.family, dirs = recurrent_signals(rec, self.layer)
        self.directions = [d for d, _ in dirs]
        states = [s for s in _STATES if s in RECURRENT_FAMILIES[self.family]]
        self.data = {(d, s): S.signal_array(rec, self.layer, m[s], where) for d, m in dirs for s in states}
        self.B, self.T, self.H = next(iter(self.data.values())).shape
        self.fig = style.column_figure(*(figsize or (3.8 * len(states) + 0.4, 2.3 * len(dirs) + 0.6)))
        grid = self.fig.subplots(len(dirs), len(states), squeeze=False, sharex=True)
        grid[0][0].xaxis.set_major_locator(MaxNLocator(integer=True))
        self.axes = {(d, s): grid[r][c] for r, d in enumerate(self.directions) for c, s in enumerate(states)}
        self.lines: dict[tuple[str, str], list[Any]] = {}
        self.cursors, self.markers = {}, {}
        self.observation = S.check_index(where, "observation", observation, self.B)
        for (d, s), ax in self.axes.items():
            ax.set_title(f"{d} {S.SYMBOLS[s]} — {s.replace('_', ' ')}".strip(), fontsize=9)
            ax.set_xlim(-0.5, self.T - 0.5)
            ax.axhline(0, color="#bbbbbb", lw=0.8)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("time step t", fontsize=8)
            self.cursors[(d, s)] = ax.axvline(0, color="black", lw=1.0, visible=False)
            self.markers[(d, s)] = ax.scatter([], [], s=18, color="black", zorder=5)
        self.title = self.fig.suptitle("", fontsize=10)
        self.units: tuple[int, ...] = ()
        self.t: int | None = None
        self.set_units(units)
        self.set_time(t)

    def _refresh(self) -> None:
        b, u = self.observation, list(self.units)
        for key, lines in self.lines.items():
            vals = self.data[key][b]
            for line, k in zip(lines, u):
                line.set_ydata(vals[:, k])
            fin = vals[:, u][np.isfinite(vals[:, u])]
            lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (-1.0, 1.0)
            pad = 0.05 * max(hi - lo, 1e-3)
            self.axes[key].set_ylim(min(lo, -1e-3) - pad, max(hi, 1e-3) + pad)
        self._place_markers()
        tt = "" if self.t is None else f", t={self.t} (MATLAB {self.t + 1})"
        self.title.set_text(f"{self.family} '{self.layer}' states — observation {b}{tt}")

    def _place_markers(self) -> None:
        for key, m in self.markers.items():
            if self.t is None:
                m.set_offsets(np.empty((0, 2)))
            else:
                v = self.data[key][self.observation, self.t, list(self.units)]
                m.set_offsets(np.column_stack([np.full(len(v), self.t), v]))

    def set_units(self, units: Iterable[int]) -> None:
        """Draw these hidden units (rebuilds the lines)."""
        self.units = S.check_units(self._where, tuple(units), self.H)
        steps = np.arange(self.T)
        for key, ax in self.axes.items():
            for line in self.lines.get(key, []):
                line.remove()
            self.lines[key] = [ax.plot(steps, np.zeros(self.T), lw=1.3, label=f"unit {k}")[0] for k in self.units]
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            if len(self.units) <= 8:
                ax.legend(fontsize=7, loc="upper left")
        self._refresh()

    def set_observation(self, observation: int) -> None:
        self.observation = S.check_index(self._where, "observation", observation, self.B)
        self._refresh()

    def set_time(self, t: int | None) -> None:
        if t is not None:
            t = S.check_index(self._where, "time step t", t, self.T, " time steps")
        self.t = t
        for line in self.cursors.values():
            if t is not None:
                line.set_xdata([t, t])
            line.set_visible(t is not None)
        self._refresh()


def state_trajectories(
    rec: Any, layer: Any = None, observation: int = 0, t: int | None = None, units: Iterable[int] = (0,), **kw: Any
) -> Figure:
    """Cell state :math:`c_t` and hidden state :math:`h_t` over time for chosen units.

    Each line is ``rec[layer][signal][observation, :, unit]``, where the signal
    is ``cell_state`` or ``hidden_state`` (B, T, H). The cell state of an LSTM
    changes slowly (additive update :math:`c_t = f_t c_{t-1} + i_t g_t`), the
    hidden state quickly — compare the two panels.

    Args:
        rec, layer, observation, t: as :func:`gate_heatmaps`.
        units: the hidden units drawn, one line each. Default: ``(0,)``.

    Shape:
        ``cell_state``/``hidden_state`` (B, T, H) BTC [MATLAB H×B×T CBT].

    Returns:
        The figure (``fig.dltk_view`` is the :class:`StateTrajectories`).

    Example:
        >>> dltk.viz.state_trajectories(rec, "lstm", units=(0, 5, 9))
    """
    view = StateTrajectories(rec, layer, observation, t, units, **kw)
    view.fig.dltk_view = view  # type: ignore[attr-defined]
    return view.fig
