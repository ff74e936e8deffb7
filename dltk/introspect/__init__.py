"""Introspection: recording the signals inside layers (``dltk.record``)."""

from .recording import NonFinite, Recorder, Recording, record

__all__ = ["NonFinite", "Recorder", "Recording", "record"]
