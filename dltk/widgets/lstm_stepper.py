"""Step an LSTM through time: the cell diagram and the gate heatmaps move together."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np

from ..front import record
from ..introspect import Recording
from ..viz import style
from ..viz import style as S
from ..viz.heatmaps import GateHeatmaps
from ..viz.lstm_cell import LSTM_SIGNALS, LSTMCellDiagram
from ..viz.style import recorded_input
from .base import DltkWidget

__all__ = ["LSTMStepper"]


class LSTMStepper(DltkWidget):
    """Move through the time steps of an LSTM layer and watch its gates.

    A time slider (with play/pause: an ``ipywidgets.Play`` linked to it in the
    browser), an observation picker and a unit picker drive the LSTM cell
    diagram (:class:`dltk.viz.LSTMCellDiagram`) and the gate heatmaps'
    time cursors (:class:`dltk.viz.GateHeatmaps`). The values shown are those
    of ``dltk.record(net_or_layer, X)``.

    Args:
        net_or_layer: a network, a layer array, a single LSTM layer, or a
            :class:`dltk.Recording` already made (then ``X`` may be None).
        X: input data (B, T, C) or what the network accepts.
        layer: the LSTM layer to show (name). Default: the first LSTM.
        observation: initial observation. Default: 0.
        units: initial hidden units (a few). Default: ``(0,)``.
        interactive: ipympl canvases, else PNG images. Default: ipympl when
            ``%matplotlib widget`` is active.

    Attributes:
        rec, layer, diagram, heatmaps, controls: ``time``, ``play``,
        ``observation``, ``units``; ``views`` (the two figure views);
        ``readout`` (``HTML``, CSS class ``dltk-readout``: a table of the
        values shown, one row per unit, ``data-signal`` on each cell, four
        decimals — what a student, or a browser test, can read as text).

    Example:
        >>> w = dltk.widgets.LSTMStepper(layers, X)
        >>> w.time.value = 7     # the diagram shows rec['lstm'][...][0, 7]
    """

    def __init__(
        self,
        net_or_layer: Any,
        X: Any = None,
        layer: str | None = None,
        *,
        observation: int = 0,
        units: tuple[int, ...] = (0,),
        interactive: bool | None = None,
    ) -> None:
        super().__init__(interactive)
        if isinstance(net_or_layer, Recording):
            self.rec, x = net_or_layer, None
        else:
            self.rec = record(net_or_layer, X, signals=[*LSTM_SIGNALS, "output"])
        self.diagram = LSTMCellDiagram(self.rec, layer, 0, observation, units)
        self.layer = self.diagram.layer
        if not isinstance(net_or_layer, Recording):
            x = recorded_input(net_or_layer, self.rec, self.layer, X)
            if x is not None and np.ndim(x) == 3:
                self.diagram.x = S.to_numpy(x)
                self.diagram.update()
        d = self.diagram
        self.heatmaps = GateHeatmaps(self.rec, self.layer, observation, 0, units, dpi=80)
        self.time = self._w(W.IntSlider(0, 0, d.T - 1, description="time step t", continuous_update=True))
        self.play = self._w(W.Play(value=0, min=0, max=d.T - 1, interval=400, description="play"))
        self._link = self._w(W.jslink((self.play, "value"), (self.time, "value")))
        self.observation = self._w(W.BoundedIntText(observation, 0, d.B - 1, description="observation"))
        self.units = self._w(
            W.SelectMultiple(options=list(range(d.H)), value=tuple(d.units), rows=4, description="units")
        )
        self.cell_view = self._view(d.fig, self._cell_artists())
        self.heat_view = self._view(self.heatmaps.fig, self._heat_artists())
        self.readout = self._w(W.HTML())
        self.readout.add_class("dltk-readout")
        self._show_readout()
        self.time.observe(self._guard(self._on_time), names="value")
        self.observation.observe(self._guard(self._on_observation), names="value")
        self.units.observe(self._guard(self._on_units), names="value")
        controls = W.HBox([self.play, self.time, self.observation, self.units], layout=style.wrap_layout())
        self.box = self._w(
            W.VBox([controls, self.status, self.error_area, self.readout, self.cell_view.widget, self.heat_view.widget])
        )

    def _cell_artists(self) -> list[Any]:
        return self.diagram.changing_artists()

    def _heat_artists(self) -> list[Any]:
        return list(self.heatmaps.cursors.values())

    def _on_time(self, change: dict[str, Any]) -> None:
        self.step(int(change["new"]))

    def step(self, t: int) -> None:
        """Show time step ``t`` (what moving the slider does)."""
        self.diagram.update(t=t)
        self.heatmaps.set_time(t)
        self.cell_view.refresh()
        self.heat_view.refresh()
        self._show_readout()

    #: (diagram value key, recorded signal) in the readout's column order
    READOUT = (
        ("i", "input_gate"),
        ("f", "forget_gate"),
        ("g", "cell_candidate"),
        ("o", "output_gate"),
        ("c", "cell_state"),
        ("h", "hidden_state"),
    )

    def _show_readout(self) -> None:
        d = self.diagram
        head = "".join(f"<th>{k}<sub>t</sub></th>" for k, _ in self.READOUT)
        rows = "".join(
            f"<tr data-unit='{u}'><td>{u}</td>"
            + "".join(f"<td data-signal='{sig}'>{float(d.values[k][j]):.4f}</td>" for k, sig in self.READOUT)
            + "</tr>"
            for j, u in enumerate(d.units)
        )
        self.readout.value = (
            f"<div data-t='{d.t}' data-observation='{d.observation}'>"
            f"<b>{html.escape(self.layer)}</b>, observation {d.observation}, time step t = {d.t}"
            f" (MATLAB {d.t + 1} of {d.T})"
            f"<table><tr><th>unit</th>{head}</tr>{rows}</table></div>"
        )

    def _on_observation(self, change: dict[str, Any]) -> None:
        b = int(change["new"])
        self.diagram.update(observation=b)
        self.heatmaps.set_observation(b)
        self.cell_view.refresh(full=True)
        self.heat_view.refresh(full=True)
        self._show_readout()

    def _on_units(self, change: dict[str, Any]) -> None:
        units = tuple(change["new"])
        if not units:
            return
        self.diagram.update(units=units)
        self.heatmaps.set_units(units)
        self.cell_view.set_animated(self._cell_artists())
        self.heat_view.refresh(full=True)
        self._show_readout()
