"""Step an LSTM through time: the cell diagram and the gate heatmaps move together."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np
import torch
from torch import nn

from ..errors import OptionError
from ..front import record
from ..introspect import Recording
from ..viz import style
from ..viz import style as S
from ..viz.heatmaps import GateHeatmaps
from ..viz.lstm_cell import LSTM_SIGNALS, LSTMCellDiagram
from ..viz.module_tree import is_plain_module
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

    A student's own PyTorch model works too: ``LSTMStepper(model, X,
    layer="encoder.lstm")`` records ``model`` (``dltk.record``) and steps
    through its ``nn.LSTM`` (``batch_first`` either way; the signals are in
    the documented (B, T, H) layout). A multi-layer or bidirectional
    ``nn.LSTM`` records the signals ``forget_gate_l1_reverse`` …; choose which
    one with ``lstm_layer`` and ``direction``. The reverse direction runs from
    the last input step to the first, so its slider counts the direction's
    own steps: step ``t`` reads input time ``T − 1 − t`` (the diagram's
    previous state is then the state of input time ``T − t``; the readout
    names both).

    Args:
        net_or_layer: a network, a layer array, a single LSTM layer, any
            ``torch.nn.Module`` holding an ``nn.LSTM``, or a
            :class:`dltk.Recording` already made (then ``X`` may be None).
        X: input data (B, T, C) or what the network accepts (a tuple: several
            inputs of a plain module's forward).
        layer: the LSTM layer to show (name; in a plain module its qualified
            name, ``"encoder.lstm"``). Default: the first LSTM.
        lstm_layer: which stacked layer of a multi-layer ``nn.LSTM`` (0-based,
            PyTorch's ``l0``, ``l1`` …). Default: 0.
        direction: ``"forward"`` or ``"reverse"`` (``"backward"`` is accepted)
            of a bidirectional ``nn.LSTM``. Default: ``"forward"``.
        observation: initial observation. Default: 0.
        units: initial hidden units (a few). Default: ``(0,)``.
        interactive: ipympl canvases, else PNG images. Default: ipympl when
            ``%matplotlib widget`` is active.

    Attributes:
        rec (the whole recording), layer, lstm_layer, direction,
        signal_names (``{"forget_gate": "forget_gate_l1_reverse", …}``: the
        recorded signal behind each one shown), input_time (step -> input
        time index), diagram, heatmaps, controls: ``time``, ``play``,
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
        lstm_layer: int = 0,
        direction: str = "forward",
        interactive: bool | None = None,
    ) -> None:
        super().__init__(interactive)
        direction = _direction(direction)
        plain = is_plain_module(net_or_layer)
        x = h0 = c0 = None
        if isinstance(net_or_layer, Recording):
            self.rec = net_or_layer
        elif plain:
            self.rec, x, h0, c0 = _record_plain(net_or_layer, X, layer, lstm_layer, direction)
        else:
            self.rec = record(net_or_layer, X, signals=[*LSTM_SIGNALS, "output"])
        self.layer = layer if layer is not None else _first_torch_lstm(self.rec)
        self.lstm_layer, self.direction = lstm_layer, direction
        view, self.signal_names, self.input_time = _select(self.rec, self.layer, lstm_layer, direction)
        if x is not None and direction == "reverse":
            x = x.flip(1)
        self.diagram = LSTMCellDiagram(view, self.layer, 0, observation, units, h0=h0, c0=c0)
        if not isinstance(net_or_layer, Recording) and not plain:
            x = recorded_input(net_or_layer, self.rec, self.layer, X)
        if x is not None and np.ndim(x) == 3:
            self.diagram.x = S.to_numpy(x)
            self.diagram.update()
        d = self.diagram
        self.heatmaps = GateHeatmaps(view, self.layer, observation, 0, units, dpi=80)
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
        head = "".join(
            f"<th data-recorded='{html.escape(self.signal_names[sig])}'>{k}<sub>t</sub></th>" for k, sig in self.READOUT
        )
        rows = "".join(
            f"<tr data-unit='{u}'><td>{u}</td>"
            + "".join(f"<td data-signal='{sig}'>{float(d.values[k][j]):.4f}</td>" for k, sig in self.READOUT)
            + "</tr>"
            for j, u in enumerate(d.units)
        )
        which = ""
        if self.signal_names["forget_gate"] != "forget_gate":
            which = f" (layer {self.lstm_layer}, {self.direction})"
        when = f"time step t = {d.t} (MATLAB {d.t + 1} of {d.T})"
        if self.direction == "reverse":
            ti = self.input_time[d.t]
            when = f"step {d.t} of the reverse direction = input time {ti} (MATLAB {ti + 1} of {d.T})"
        self.readout.value = (
            f"<div data-t='{d.t}' data-input-time='{self.input_time[d.t]}' data-observation='{d.observation}'>"
            f"<b>{html.escape(self.layer)}</b>{which}, observation {d.observation}, {when}"
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


def _direction(direction: str) -> str:
    d = str(direction).lower()
    if d in ("forward", "fwd"):
        return "forward"
    if d in ("reverse", "backward", "bwd"):
        return "reverse"
    raise OptionError(f"LSTMStepper: direction must be 'forward' or 'reverse' ('backward'), got {direction!r}.")


def _suffix(lstm_layer: int, direction: str) -> str:
    return f"_l{lstm_layer}" + ("_reverse" if direction == "reverse" else "")


def _first_torch_lstm(rec: Recording) -> str:
    """The first recorded layer with the LSTM signals, plain (``forget_gate``) or per layer (``forget_gate_l0``)."""
    for name in rec:
        sigs = rec[name]
        if all(s in sigs for s in LSTM_SIGNALS) or all(s + "_l0" in sigs for s in LSTM_SIGNALS):
            return name
    raise OptionError(
        f"LSTMStepper: no recorded layer has the LSTM signals ({', '.join(LSTM_SIGNALS)}); "
        f"recorded layers: {', '.join(rec) or 'none'}."
    )


def _select(rec: Recording, layer: str, lstm_layer: int, direction: str) -> tuple[Recording, dict[str, str], list[int]]:
    """The recording the diagram and the heat maps show: one layer and direction under the plain signal names.

    Returns ``(view, {shown signal: recorded signal}, input time of each step)``. For the reverse
    direction the time axis is flipped, so step ``t`` is the direction's ``t``-th step.
    """
    if layer not in rec:
        raise OptionError(f"LSTMStepper: no recorded layer {layer!r}; recorded layers: {', '.join(rec) or 'none'}.")
    sigs = rec[layer]
    suffix = _suffix(lstm_layer, direction)
    if lstm_layer == 0 and direction == "forward" and all(s in sigs._data for s in LSTM_SIGNALS):
        names = {s: s for s in LSTM_SIGNALS}
    elif all(s + suffix in sigs for s in LSTM_SIGNALS):
        names = {s: s + suffix for s in LSTM_SIGNALS}
    else:
        have = sorted({n.removeprefix("forget_gate") for n in sigs if n.startswith("forget_gate")})
        choices = ", ".join(_describe(h) for h in have) or "none"
        raise OptionError(
            f"LSTMStepper: layer '{layer}' has no recorded LSTM signals for layer {lstm_layer}, {direction} "
            f"(looked for forget_gate{suffix}); recorded: {choices}."
        )
    T = sigs.shape(names["hidden_state"])[1]
    if sigs.shape(names["hidden_state"]) != sigs.shape(names["forget_gate"]):
        raise OptionError(
            f"LSTMStepper: layer '{layer}' has a projection (proj_size): its hidden state has "
            f"{sigs.shape(names['hidden_state'])[-1]} values and its gates {sigs.shape(names['forget_gate'])[-1]}, "
            "so the cell diagram does not apply; use dltk.viz.gate_heatmaps(rec, layer) instead."
        )
    rev = direction == "reverse"
    view = Recording(rec.budget)
    for s, n in names.items():
        v = sigs[n]
        view._put(layer, s, v.flip(1) if rev else v, "BTC", 0)
    times = list(range(T - 1, -1, -1)) if rev else list(range(T))
    return view, names, times


def _describe(suffix: str) -> str:
    if not suffix:
        return "lstm_layer=0, direction='forward'"
    parts = suffix.strip("_").split("_")
    return f"lstm_layer={parts[0][1:]}, direction='{'reverse' if len(parts) > 1 else 'forward'}'"


def _record_plain(model: nn.Module, X: Any, layer: str | None, lstm_layer: int, direction: str) -> tuple:
    """Record a plain module; return ``(rec, input of the chosen stacked layer (B, T, C) or None, h0, c0)``.

    The input and the initial states are caught by a forward pre-hook on the chosen ``nn.LSTM``
    that exists only during the recording.
    """
    inputs = X if isinstance(X, tuple) else (X,)
    mods = dict(model.named_modules())
    if layer is not None and layer not in mods:
        known = ", ".join(m for m in mods if m)
        raise OptionError(f"LSTMStepper: the model has no module {layer!r}; modules: {known}.")
    if layer is None:
        layer = next((q for q, m in mods.items() if isinstance(m, nn.LSTM)), None)
    seen: dict[str, Any] = {}
    target = mods.get(layer) if layer is not None else None
    handle = None
    if isinstance(target, nn.LSTM):
        handle = target.register_forward_pre_hook(lambda mod, args: seen.setdefault("args", args))
    try:
        rec = record(model, *inputs, layers=None if layer is None else [layer])
    finally:
        if handle is not None:
            handle.remove()
    x = h0 = c0 = None
    args = seen.get("args")
    if isinstance(target, nn.LSTM) and args:
        ndir = 2 if target.bidirectional else 1
        k = lstm_layer * ndir + (1 if direction == "reverse" else 0)
        first = args[0]
        if lstm_layer == 0 and isinstance(first, torch.Tensor) and first.ndim == 3:
            x = first if target.batch_first else first.transpose(0, 1)
        elif lstm_layer > 0 and layer in rec:
            below = [rec[layer][f"hidden_state{_suffix(lstm_layer - 1, d)}"] for d in ("forward", "reverse")[:ndir]]
            x = torch.cat(below, -1)
        hx = args[1] if len(args) > 1 else None
        if isinstance(hx, tuple) and len(hx) == 2 and hx[0].ndim == 3 and target.proj_size == 0:
            h0, c0 = hx[0][k].T, hx[1][k].T  # H×B, MATLAB's layout of an initial state (unambiguous when B = H)
    return rec, x, h0, c0
