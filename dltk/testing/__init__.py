"""Test helpers shared by dltk's own tests and by students' custom layers."""

from .case import LayerCase

__all__ = ["LayerCase"]
