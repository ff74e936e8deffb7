"""dltk — a Jupyter-native toolkit for teaching deep learning.

Every layer of MATLAB's Deep Learning Toolbox catalog, as PyTorch modules
you can look inside. Two ways to build the same network::

    import dltk
    layers = [
        dltk.sequenceInputLayer(12),
        dltk.lstmLayer(100, OutputMode="last"),
        dltk.fullyConnectedLayer(9),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    rec = dltk.record(layers, X)          # rec["lstm"]["forget_gate"]: (B, T, 100)

and the Pythonic classes in :mod:`dltk.layers` (``dltk.layers.LSTM(100, output_mode="last")``).
"""

from __future__ import annotations

from . import check, layers
from ._config import config
from .env import env_report
from .errors import (
    DataError,
    DltkError,
    LayerInputError,
    NetworkError,
    NonFiniteError,
    OptionError,
    RecordingBudgetError,
)
from .introspect import Recording
from .matlab import *  # noqa: F403  (every MATLAB layer constructor)
from .matlab import __all__ as _matlab_all

__version__ = "0.1.0"

__all__ = [
    "check",
    "env_report",
    "config",
    "layers",
    "record",
    "from_torch",
    "Recording",
    "DltkError",
    "OptionError",
    "LayerInputError",
    "NetworkError",
    "DataError",
    "RecordingBudgetError",
    "NonFiniteError",
    *_matlab_all,
]

# The MATLAB-named network, training, I/O and testing functions (dltk.trainNetwork …),
# listed per subsystem in dltk/_exports.py.
from ._exports import export_subsystems as _export_subsystems  # noqa: E402

_export_subsystems(globals(), __all__)

from .from_torch import from_torch  # noqa: E402  (a PyTorch model as a dltk Network)
from .front import record  # noqa: E402  (above network and introspect: takes layer arrays too)


def __getattr__(name: str) -> object:
    """Lazy subpackages: ``dltk.viz`` and ``dltk.widgets`` load matplotlib/ipywidgets on first use."""
    if name in ("viz", "widgets"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
