"""The layer-case registry: every ``tests/cases/<family>.py`` contributes a list ``CASES``.

``all_cases()`` imports each module of this package and returns their cases in
file order; the shared battery (``tests/test_layer_battery.py``), the bad-input
property test and the layer benchmark all iterate over it. A family file that
fails to import makes the collection fail loudly (never silently drops cases).
"""

from __future__ import annotations

import importlib
import pkgutil

from dltk.testing import LayerCase

__all__ = ["all_cases", "case_modules"]


def case_modules() -> list[str]:
    """Names of the case modules (one per layer family), sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def all_cases() -> list[LayerCase]:
    """Every ``LayerCase`` of every case module; ids must be unique."""
    cases: list[LayerCase] = []
    for name in case_modules():
        mod = importlib.import_module(f"{__name__}.{name}")
        found = getattr(mod, "CASES", None)
        if not isinstance(found, list) or not all(isinstance(c, LayerCase) for c in found):
            raise TypeError(f"tests/cases/{name}.py must define CASES, a list of LayerCase")
        cases.extend(found)
    ids = [c.id for c in cases]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"duplicate LayerCase ids: {dup}")
    return cases
