"""MATLAB's automatic layer names.

When layers are assembled (``layerGraph``, ``addLayers``, a network), every
unnamed layer gets a name from its type's prefix (``Layer.name_prefix``):

* a prefix used by exactly one unnamed layer gives the bare prefix (``fc``,
  ``softmax``, ``classoutput``), unless a named layer already has it;
* otherwise the unnamed layers of that type are numbered in order,
  ``lstm_1``, ``lstm_2`` …, skipping numbers whose name is already taken
  (a layer the user named ``lstm_2`` pushes the next unnamed one to ``lstm_3``).

MATLAB's documented behaviour is the bare/numbered rule; how it numbers
around names the user gave is our reading (unconfirmed on a real MATLAB).

Given names that repeat are made unique like MATLAB's
``matlab.lang.makeUniqueStrings``: the first keeps its name, later ones get
``_1``, ``_2`` … (the network warns about it).

Names given automatically are remembered (``layer._auto_name``), so a layer
reused in a new array is renamed as if unnamed (unless the user renamed it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..layers.base import Layer


def is_unnamed(layer: Layer) -> bool:
    """True for a layer without a name, or with a name given automatically."""
    return not layer.name or layer.name == getattr(layer, "_auto_name", None)


def _numbered(prefix: str, taken: set[str], start: int = 1) -> str:
    k = start
    while f"{prefix}_{k}" in taken:
        k += 1
    return f"{prefix}_{k}"


def make_unique(layers: Sequence[Layer], taken: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Rename repeated given names (first kept); returns ``[(old, new), …]``."""
    used = set(taken)
    renamed = []
    for layer in layers:
        if is_unnamed(layer):
            continue
        if layer.name in used:
            new = _numbered(layer.name, used | {lay.name for lay in layers if not is_unnamed(lay)})
            renamed.append((layer.name, new))
            layer.name = new
        used.add(layer.name)
    return renamed


def assign_names(layers: Sequence[Layer], taken: Iterable[str] = ()) -> None:
    """Name the unnamed ``layers`` in place, avoiding ``taken`` and the given names."""
    unnamed = [lay for lay in layers if is_unnamed(lay)]
    used = set(taken) | {lay.name for lay in layers if not is_unnamed(lay)}
    counts: dict[str, int] = {}
    for lay in unnamed:
        counts[lay.name_prefix] = counts.get(lay.name_prefix, 0) + 1
    for lay in unnamed:
        prefix = lay.name_prefix
        if counts[prefix] == 1 and prefix not in used:
            name = prefix
        else:
            name = _numbered(prefix, used)
        lay.name = name
        lay._auto_name = name
        used.add(name)
