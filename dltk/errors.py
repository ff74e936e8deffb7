"""Exceptions raised by dltk.

Every error a learner can trigger is a subclass of :class:`DltkError`, and the
ones caused by a bad argument or bad data are also ``ValueError`` so that plain
``except ValueError`` keeps working. Messages always name the layer (or
function), what was expected and what came, in dltk and MATLAB notation.
"""

from __future__ import annotations


class DltkError(Exception):
    """Base class of all dltk errors."""


class OptionError(DltkError, ValueError):
    """An unknown option name or an invalid option value."""


class LayerInputError(DltkError, ValueError):
    """A layer received data of the wrong rank, size or dtype."""


class NetworkError(DltkError, ValueError):
    """A network cannot be assembled, run or trained as given."""


class DataError(DltkError, ValueError):
    """Training or inference data is inconsistent (lengths, labels, NaN …)."""


class RecordingBudgetError(DltkError, MemoryError):
    """A recording would need more memory than its byte budget allows."""


class NonFiniteError(DltkError, FloatingPointError):
    """A NaN or Inf appeared where it must not (loss, signal, data)."""
