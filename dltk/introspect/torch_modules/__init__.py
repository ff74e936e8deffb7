"""The PyTorch modules ``dltk.record`` recognises inside any ``torch.nn.Module``.

One small module per family registers a :class:`~.base.Recogniser` for its
module classes (see :mod:`.base` for the contract):

=================  ==========================================================
:mod:`.recurrent`  ``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` and their cells
:mod:`.conv`       ``nn.Linear``, ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d``
:mod:`.norm`       ``nn.BatchNorm1d/2d/3d``, ``nn.LayerNorm``, ``nn.GroupNorm``
:mod:`.pooling`    max (switches), average and adaptive pooling
:mod:`.misc`       dropout, embedding, activations, multi-head attention, losses
=================  ==========================================================

A module none of them knows is recorded as a black box (its output) and
listed in ``Recording.unrecognised``.
"""

from . import conv, misc, norm, pooling, recurrent  # noqa: F401  (each registers its recognisers)
from .base import Probe, Recogniser, recognised_types, recogniser_for, register

__all__ = ["Probe", "Recogniser", "recognised_types", "recogniser_for", "register"]
