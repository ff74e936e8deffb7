"""Seeing inside: pure matplotlib views of layers, recordings and networks.

Every function returns a :class:`matplotlib.figure.Figure` that pyplot does
not track (nothing leaks, nothing shows twice; it displays as a PNG in a
notebook) and never calls ``plt.show``. The view classes behind them keep
their artists as attributes and update in place (``fig.dltk_view`` is the
view); the widgets in :mod:`dltk.widgets` use them.

* LSTM/GRU: :func:`lstm_cell`, :func:`gate_heatmaps`, :func:`state_trajectories`,
  :func:`gradient_flow`;
* networks: :func:`network_graph`;
* any layer: :func:`signals`; families: :func:`activation_curve`,
  :func:`conv_filters`, :func:`feature_maps`, :func:`batchnorm_distributions`,
  :func:`pooling_switches`, :func:`dropout_mask`, :func:`softmax_breakdown`.

:mod:`dltk.viz.style` holds the shared look (colours, symbols, figure factory)
and plumbing that the views and the widgets share, and the figure rules every
figure follows (fits the 800 px notebook column, integer ticks at pixel
centres, framed images, stated colour scales, all-equal images annotated);
lesson widgets use the same helpers.
"""

from __future__ import annotations

from . import style
from .families import (
    SignalsView,
    activation_curve,
    batchnorm_distributions,
    conv_filters,
    dropout_mask,
    feature_maps,
    pooling_switches,
    signals,
    softmax_breakdown,
)
from .gradient_flow import GradientFlow, gradient_flow, unrolled_lstm
from .heatmaps import GateHeatmaps, StateTrajectories, gate_heatmaps, recurrent_signals, state_trajectories
from .lstm_cell import LSTMCellDiagram, lstm_cell
from .module_tree import ModuleTree
from .network_graph import NetworkGraph, layer_statistics, network_graph

__all__ = [
    "style",
    "LSTMCellDiagram",
    "lstm_cell",
    "GateHeatmaps",
    "gate_heatmaps",
    "StateTrajectories",
    "state_trajectories",
    "recurrent_signals",
    "GradientFlow",
    "gradient_flow",
    "unrolled_lstm",
    "NetworkGraph",
    "ModuleTree",
    "network_graph",
    "layer_statistics",
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
