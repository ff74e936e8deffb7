"""Explore a network: pick a layer (dropdown or click its box) and see all its signals."""

from __future__ import annotations

import html
from collections import OrderedDict
from typing import Any

import ipywidgets as W
import numpy as np

from ..introspect import Recording, record
from ..viz import style
from ..viz import style as S
from ..viz.families import SignalsView
from ..viz.module_tree import ModuleTree, call_order_record, is_plain_module
from ..viz.network_graph import NetworkGraph, _as_network
from .base import DltkWidget, FigureView

__all__ = ["NetworkExplorer"]


class NetworkExplorer(DltkWidget):
    """The network's data-flow graph beside every signal of the chosen layer.

    The network is recorded once (``dltk.record(net, X)``); choosing a layer
    in the dropdown — or clicking its box in the graph under ``%matplotlib
    widget`` — shows its signals for the chosen observation
    (:class:`dltk.viz.SignalsView`). The views of recently shown layers are
    kept (at most ``cache`` of them), so coming back to a layer is instant.

    A plain ``torch.nn.Module`` (a student's own model) is recorded with
    ``dltk.record(model, X)`` and drawn as its module tree in call order
    (:class:`dltk.viz.ModuleTree`): every recorded module, recognised ones
    with the signals of their dltk counterparts (``nn.LSTM``: the gates per
    layer and direction), black boxes with their output.

    Args:
        net: a network, a layer array, or any ``torch.nn.Module``.
        X: input data the network accepts (for a plain module with several
            inputs: a tuple of them), or a :class:`dltk.Recording` of ``net``.
        layer: the layer shown first. Default: the first layer.
        observation: observation index. Default: 0.
        targets: optional targets, to record the output layer's loss signals.
        color_by: colour the graph boxes (``'mean'``, ``'std'``, ``'saturation'``). Default: None.
        cache: how many layer views to keep. Default: 8.
        prerender: draw the views of the first ``cache`` layers when the widget is built (figures
            built once: every later switch among them only shows a ready figure, ~5 ms instead
            of ~85 ms for a first drawing). Default: True.

    Attributes:
        net (the network, or the plain module), rec, graph (:class:`dltk.viz.NetworkGraph`, or
        :class:`dltk.viz.ModuleTree` for a plain module), order (layer names as listed), signals_view (the
        current :class:`dltk.viz.SignalsView`), controls ``layer``,
        ``observation``; ``graph_view``, ``signals_fig_view``; ``readout``
        (``HTML``, CSS class ``dltk-readout``: the layer shown and, per signal
        drawn, its shape and the mean/min/max of the observation, four
        decimals — readable as text by a student or a browser test).

    Example:
        >>> w = dltk.widgets.NetworkExplorer(net, X)
        >>> w.layer.value = "lstm_2"
    """

    def __init__(
        self,
        net: Any,
        X: Any,
        layer: str | None = None,
        *,
        observation: int = 0,
        targets: Any = None,
        color_by: str | None = None,
        cache: int = 8,
        prerender: bool = True,
        interactive: bool | None = None,
    ) -> None:
        super().__init__(interactive)
        if is_plain_module(net):
            self.net = net
            if isinstance(X, Recording):
                self.rec, order = X, list(X)
            else:
                inputs = X if isinstance(X, tuple) else (X,)
                self.rec, order = call_order_record(net, inputs, **({} if targets is None else {"targets": targets}))
            names = [n for n in order if n in self.rec and len(self.rec[n])]
            names += [n for n in self.rec if n not in names and len(self.rec[n])]
            self.graph = ModuleTree(self.rec, names, dpi=75)
        else:
            self.net = _as_network(net)
            self.rec = X if isinstance(X, Recording) else record(self.net, X, targets=targets)
            names = [n for n in self.net.layer_names if n in self.rec]
            self.graph = NetworkGraph(self.net, self.rec, color_by, dpi=75)  # narrow: it sits beside the signals
        self.order = names
        self.graph_view = self._view(self.graph.fig, [self.graph.selection])
        self._cache: OrderedDict[str, tuple[SignalsView, FigureView]] = OrderedDict()
        self._cache_size = max(1, cache)
        first = layer if layer is not None else names[0]
        self.layer = self._w(W.Dropdown(options=names, value=first, description="layer"))
        B = next(iter(self.rec[first].values())).shape[0] if len(self.rec[first]) else 1
        self.observation = self._w(W.BoundedIntText(observation, 0, max(B - 1, 0), description="observation"))
        if prerender:  # build the other views now, the first one last (it stays the most recent)
            for name in [n for n in names if n != first][: self._cache_size - 1]:
                self._layer_view(name)
        self.signals_view, self.signals_fig_view = self._layer_view(first)
        self.graph.select(first)
        self.graph_view.refresh()
        self.signals_box = self._w(W.Box([self.signals_fig_view.widget]))
        self.readout = self._w(W.HTML())
        self.readout.add_class("dltk-readout")
        self._show_readout()
        self.layer.observe(self._guard(self._on_layer), names="value")
        self.observation.observe(self._guard(self._on_observation), names="value")
        # clicks arrive under ipympl; the Agg canvas accepts the same events (tests, custom front ends)
        self.graph.fig.canvas.mpl_connect("button_press_event", self._guard(self._on_click))
        controls = W.HBox([self.layer, self.observation])
        self.box = self._w(
            W.VBox(
                [
                    controls,
                    self.status,
                    self.error_area,
                    self.readout,
                    # side by side where the column is wide enough, else the signals wrap below the graph
                    W.HBox([self.graph_view.widget, self.signals_box], layout=style.wrap_layout()),
                ]
            )
        )

    def _layer_view(self, name: str) -> tuple[SignalsView, FigureView]:
        if name in self._cache:
            self._cache.move_to_end(name)
            sv, fv = self._cache[name]
            if sv.observation != self.observation.value:
                sv.set_observation(self.observation.value)
                fv.refresh(full=True)
            return sv, fv
        sv = SignalsView(self.rec, name, self.observation.value)  # column width, height by panel rows
        fv = self._view(sv.fig)
        self._cache[name] = (sv, fv)
        if len(self._cache) > self._cache_size:
            _, (_, old) = self._cache.popitem(last=False)
            old.widget.layout.display = "none"  # see show_layer: hide its view before it leaves the box
            if hasattr(self, "signals_box"):
                self.signals_box.children = tuple(c for c in self.signals_box.children if c is not old.widget)
            old.close()
            self.views.remove(old)
        return sv, fv

    def show_layer(self, name: str) -> None:
        """Show ``name``'s signals (what choosing it in the dropdown does)."""
        self.signals_view, self.signals_fig_view = self._layer_view(name)
        # every cached view stays a child and only the chosen one is displayed: ipympl's canvas view
        # does not leave the page when removed from a box (ipympl 0.10), so swapping children would
        # pile the figures up side by side in the browser (found by tests/browser)
        current = self.signals_fig_view.widget
        for _, fv in self._cache.values():
            fv.widget.layout.display = None if fv.widget is current else "none"
        kids = tuple(self.signals_box.children)
        self.signals_box.children = kids + ((current,) if current not in kids else ())
        self.graph.select(name)
        self.graph_view.refresh()
        self._show_readout()

    def _show_readout(self) -> None:
        sv = self.signals_view
        rows = []
        for s in sv.names:
            v = sv.values[s]
            a = np.asarray(S.to_numpy(v[sv.observation] if v.ndim and v.shape[0] == sv.B else v), dtype=float)
            fin = a[np.isfinite(a)]
            stats = "".join(
                f"<td data-stat='{k}'>{float(f(fin)):.4f}</td>" if fin.size else f"<td data-stat='{k}'>–</td>"
                for k, f in (("mean", np.mean), ("min", np.min), ("max", np.max))
            )
            shape = html.escape(str(tuple(v.shape)))
            rows.append(f"<tr data-signal='{html.escape(s)}'><td>{html.escape(s)}</td><td>{shape}</td>{stats}</tr>")
        self.readout.value = (
            f"<div data-layer='{html.escape(sv.layer)}' data-observation='{sv.observation}'>"
            f"<b>layer '{html.escape(sv.layer)}'</b>, observation {sv.observation}"
            "<table><tr><th>signal</th><th>shape</th><th>mean</th><th>min</th><th>max</th></tr>"
            f"{''.join(rows)}</table></div>"
        )

    def _on_layer(self, change: dict[str, Any]) -> None:
        self.show_layer(change["new"])

    def _on_observation(self, change: dict[str, Any]) -> None:
        self.signals_view.set_observation(int(change["new"]))
        self.signals_fig_view.refresh(full=True)
        self._show_readout()

    def _on_click(self, event: Any) -> None:
        name = self.graph.layer_at(event)
        if name is not None and name in self.layer.options:
            self.layer.value = name
