"""Training and inference (MATLAB ``trainingOptions``, ``trainNetwork``, ``classify`` …).

* :func:`trainingOptions` → :class:`TrainingOptions` (MATLAB defaults, validated);
* :func:`trainNetwork` → ``(net, info)`` with :class:`TrainingInfo`;
* :func:`classify`, :func:`predict`, :func:`activations`,
  :func:`predictAndUpdateState`, :func:`classifyAndUpdateState`, :func:`resetState`;
* :class:`~dltk.train.monitor.TrainingPlot`, the live training-progress figure.
"""

from .inference import (
    activations,
    classify,
    classifyAndUpdateState,
    predict,
    predictAndUpdateState,
    resetState,
)
from .options import TrainingOptions, trainingOptions
from .trainer import TrainingInfo, trainNetwork

__all__ = [
    "TrainingInfo",
    "TrainingOptions",
    "activations",
    "classify",
    "classifyAndUpdateState",
    "predict",
    "predictAndUpdateState",
    "resetState",
    "trainNetwork",
    "trainingOptions",
]
