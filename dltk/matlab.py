"""The MATLAB-named front: ``dltk.lstmLayer(100, OutputMode="last")`` and friends.

For every catalog layer class (``Layer.matlab_name`` set) this module defines a
function of that MATLAB name which takes MATLAB's positional arguments and
name-value options — as keywords or as string pairs — and returns an instance
of the Pythonic class. Network-level MATLAB functions (``trainNetwork``,
``analyzeNetwork`` …) live with their subsystems and are exported by
``dltk/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .layers import Layer, all_layer_classes

__all__: list[str] = []


def _camel(name: str) -> str:
    """``num_hidden_units`` -> ``numHiddenUnits`` (MATLAB's argument spelling in docs)."""
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


def _make_front(cls: type[Layer]) -> Callable[..., Layer]:
    def front(*args: Any, **kwargs: Any) -> Layer:
        return cls.from_matlab(*args, **kwargs)

    pos = ", ".join(_camel(a) for a in cls.matlab_positional)
    opts = ", ".join(["Name", *cls.matlab_options])
    front.__name__ = front.__qualname__ = cls.matlab_name
    signature = f"{cls.matlab_name}({pos}{', ' if pos else ''}Name=Value)"
    front.__doc__ = (
        f"MATLAB ``{signature}`` -> :class:`dltk.layers.{cls.__name__}`.\n\n"
        f"Options (keywords or ``'Name', value`` pairs, case-insensitive): {opts}.\n\n"
        f"See :class:`dltk.layers.{cls.__name__}` for the math, shapes and signals:\n\n" + (cls.__doc__ or "")
    )
    front.layer_class = cls  # type: ignore[attr-defined]
    return front


for _cls in all_layer_classes():
    globals()[_cls.matlab_name] = _make_front(_cls)
    __all__.append(_cls.matlab_name)
