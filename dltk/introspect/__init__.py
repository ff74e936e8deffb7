"""Introspection: recording the signals inside layers and modules (``dltk.record``), ``dltk.diagnose``."""

from .diagnose import Diagnosis, diagnose
from .recording import NonFinite, Recorder, Recording, record

__all__ = ["Diagnosis", "NonFinite", "Recorder", "Recording", "diagnose", "record"]
