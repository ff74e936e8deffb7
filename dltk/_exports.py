"""Top-level names contributed by the subsystems above the layers.

Each entry: module path -> names exported as ``dltk.<name>``. Keeping the list
here (not in ``__init__``) lets each subsystem add its MATLAB-named functions
in one place.
"""

from __future__ import annotations

import importlib
from typing import Any

from .network import TOP_LEVEL as _NETWORK_NAMES

SUBSYSTEMS: dict[str, tuple[str, ...]] = {
    "dltk.network": _NETWORK_NAMES,
    "dltk.train": (
        "trainingOptions",
        "trainNetwork",
        "classify",
        "predict",
        "activations",
        "predictAndUpdateState",
        "classifyAndUpdateState",
        "resetState",
        "TrainingInfo",
    ),
    "dltk.io": ("save", "load"),
    "dltk.data": ("seed_everything",),
    "dltk.testing": ("checkLayer",),
    "dltk.catalog": ("catalog",),
    "dltk.introspect": ("diagnose", "Diagnosis"),
}


def export_subsystems(namespace: dict[str, Any], all_names: list[str]) -> None:
    """Put each subsystem's listed names into ``namespace`` (the ``dltk`` package) and ``__all__``."""
    for mod_name, names in SUBSYSTEMS.items():
        mod = importlib.import_module(mod_name)
        for n in names:
            namespace[n] = getattr(mod, n)
            all_names.append(n)
