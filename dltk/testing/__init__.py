"""Test helpers shared by dltk's own tests and by students' custom layers.

* :class:`LayerCase` — one declarative test case per layer configuration;
  :class:`Bench` — the benchmark entry a case carries for its layer;
* :mod:`dltk.testing.battery` — the shared checks run over every case;
* :func:`checkLayer` — MATLAB's ``checkLayer`` for your own layer.
"""

from . import battery
from .case import Bench, LayerCase
from .checklayer import CheckLayerResult, checkLayer

__all__ = ["Bench", "LayerCase", "battery", "checkLayer", "CheckLayerResult"]
