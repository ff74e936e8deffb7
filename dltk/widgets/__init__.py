"""Interactive views for notebooks (ipywidgets built on :mod:`dltk.viz`).

Every widget builds its figures once and updates artists in place; it shows
ipympl canvases under ``%matplotlib widget`` and PNG images otherwise;
callback errors appear inside the widget; ``.close()`` closes its figures and
controls.

* :class:`LSTMStepper` — step an LSTM through time (cell diagram + gate heatmaps);
* :class:`DeepenLSTM` — add LSTM layers one at a time, analyse, train, compare;
* :class:`NetworkExplorer` — pick any layer and see all its signals;
* :class:`TrainingMonitor` — the training-progress figure as a widget;
* :class:`PaddingExplorer` — watch a ``'last'`` output drift as a sequence is padded (lesson 3);
* :class:`LossExplorer` — every loss layer over a probability and an error (lesson 11);
* :class:`ProposalExplorer` — one detector proposal at a time (lesson 13);
* :class:`PoolingExplorer` — pooling windows, output and switches on a digit (lesson 9);
* :class:`ConvExplorer` — stride, padding and dilation of a convolution (lesson 6);
* :class:`NormalizationExplorer` — input normalizations and the pixel histogram (lesson 5);
* :class:`ActivationExplorer` — an activation's curve, derivative and regimes on real data (lesson 7);
* :class:`DropoutExplorer`, :class:`BatchStatisticsExplorer` — dropout masks, batch statistics (lesson 8).
"""

from __future__ import annotations

from .activation_explorer import ActivationExplorer
from .base import DltkWidget, FigureView, callback_errors, debounce, use_ipympl
from .conv_explorer import ConvExplorer
from .deepen_lstm import DeepenLSTM, stacked_lstm_layers
from .dropout_explorer import BatchStatisticsExplorer, DropoutExplorer
from .loss_explorer import LossExplorer
from .lstm_stepper import LSTMStepper
from .network_explorer import NetworkExplorer
from .normalization_explorer import NormalizationExplorer
from .padding_explorer import PaddingExplorer, padding_sweep
from .pooling_explorer import PoolingExplorer
from .proposal_explorer import ProposalExplorer
from .training_monitor import TrainingMonitor

__all__ = [
    "DltkWidget",
    "callback_errors",
    "FigureView",
    "debounce",
    "use_ipympl",
    "LSTMStepper",
    "DeepenLSTM",
    "stacked_lstm_layers",
    "NetworkExplorer",
    "PaddingExplorer",
    "padding_sweep",
    "TrainingMonitor",
    "LossExplorer",
    "ProposalExplorer",
    "PoolingExplorer",
    "ConvExplorer",
    "NormalizationExplorer",
    "ActivationExplorer",
    "DropoutExplorer",
    "BatchStatisticsExplorer",
]
