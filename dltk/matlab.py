"""The MATLAB-named front: ``dltk.lstmLayer(100, OutputMode="last")`` and friends.

For every catalog layer class (``Layer.matlab_name`` set) this module defines a
function of that MATLAB name which takes MATLAB's positional arguments and
name-value options — as keywords or as string pairs — and returns an instance
of the Pythonic class. Network-level MATLAB functions (``trainNetwork``,
``analyzeNetwork`` …) live with their subsystems and are exported by
``dltk/__init__.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .layers import Layer, all_layer_classes

__all__: list[str] = []


def _camel(name: str) -> str:
    """``num_hidden_units`` -> ``numHiddenUnits`` (MATLAB's argument spelling in docs)."""
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


def signature(cls: type[Layer]) -> str:
    """MATLAB's call, e.g. ``lstmLayer(numHiddenUnits, Name=Value)``: each class docstring's last line says it."""
    pos = ", ".join(_camel(a) for a in cls.matlab_positional)
    return f"{cls.matlab_name}({pos}{', ' if pos else ''}Name=Value)"


def front_doc(cls: type[Layer]) -> str:
    """The docstring of ``dltk.<matlabName>``: the call, its options, then the class docstring (math,
    shapes, signals, example) — the one generator of the MATLAB constructors' docs."""
    opts = ", ".join(["Name", *cls.matlab_options])
    return (
        f"MATLAB ``{signature(cls)}`` -> :class:`dltk.layers.{cls.__name__}`.\n\n"
        f"Options (keywords or ``'Name', value`` pairs, case-insensitive): {opts}.\n\n"
        f"{inspect.cleandoc(cls.__doc__ or '')}\n"
    )


def _make_front(cls: type[Layer]) -> Callable[..., Layer]:
    def front(*args: Any, **kwargs: Any) -> Layer:
        return cls.from_matlab(*args, **kwargs)

    front.__name__ = front.__qualname__ = cls.matlab_name
    front.__doc__ = front_doc(cls)
    front.layer_class = cls  # type: ignore[attr-defined]
    return front


for _cls in all_layer_classes():
    globals()[_cls.matlab_name] = _make_front(_cls)
    __all__.append(_cls.matlab_name)
