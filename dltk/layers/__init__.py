"""The dltk layer catalog: one module per MATLAB family.

Every public class here is a :class:`Layer` (a ``torch.nn.Module``); its
``matlab_name`` is the MATLAB constructor that ``dltk.<matlabName>`` builds.
Family modules are discovered automatically, so adding a layer means adding a
class to the right family file (see ``CONTRIBUTING`` in the README).
"""

from __future__ import annotations

import importlib
import pkgutil

from ._recurrent import GATE_FUNCTIONS, STATE_FUNCTIONS
from .base import Layer, matlab_property

#: GATE_FUNCTIONS / STATE_FUNCTIONS: the recurrent layers' activation functions by MATLAB option value
__all__ = ["Layer", "matlab_property", "all_layer_classes", "GATE_FUNCTIONS", "STATE_FUNCTIONS"]

_SKIP = {"base", "initializers"}

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _mod in _SKIP or _mod.startswith("_"):
        continue
    _m = importlib.import_module(f"{__name__}.{_mod}")
    for _name in getattr(_m, "__all__", ()):
        globals()[_name] = getattr(_m, _name)
        __all__.append(_name)


def all_layer_classes() -> list[type[Layer]]:
    """Every catalog layer class (those with a MATLAB constructor name), sorted by it."""
    seen: dict[str, type[Layer]] = {}
    for name in __all__:
        obj = globals().get(name)
        if isinstance(obj, type) and issubclass(obj, Layer) and obj.matlab_name:
            seen.setdefault(obj.matlab_name, obj)
    return [seen[k] for k in sorted(seen, key=str.lower)]
