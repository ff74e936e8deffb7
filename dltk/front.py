"""``dltk.record``: the front that takes layer arrays too.

:func:`dltk.introspect.record` records any module; this front adds what needs
the network package, so that ``introspect`` never imports ``network`` (the
arrows point one way: widgets → viz → train/network/introspect → layers, and
this module sits above network and introspect):

* a layer array (a list of dltk layers, with or without an output layer) is
  assembled into a :class:`~dltk.network.Network` (MATLAB's automatic names)
  and recorded in **prediction mode** (``net.eval()``: dropout off, batch
  normalization with its trained statistics) — the mode ``predict`` uses; a
  network or a module is recorded in the mode it is in;
* the assembly is cached on the array's layers, keyed by the layers'
  identities, their configuration and the input shapes, so recording the same
  array again costs what recording the assembled network costs. The cache
  lives on the first layer (it goes when the layers go: no global table that
  could keep them alive); a changed layer, a different layer or another
  input shape assembles afresh.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .introspect import Recording
from .introspect import record as _record_module
from .layers.base import Layer
from .network import Network

__all__ = ["record"]

_SIMPLE = (int, float, str, bool, type(None))


def _config(layer: nn.Module) -> tuple:
    """What assembly depends on in a layer: its simple attributes and parameter shapes."""
    attrs = tuple(
        (k, v)
        for k, v in vars(layer).items()
        if k != "training"
        and (isinstance(v, _SIMPLE) or (isinstance(v, tuple) and all(isinstance(e, _SIMPLE) for e in v)))
    )
    shapes = tuple(None if p is None else tuple(p.shape) for p in layer._parameters.values())
    return attrs, shapes


def _shapes(inputs: tuple) -> tuple:
    out = []
    for x in inputs:
        if isinstance(x, torch.Tensor) or hasattr(x, "shape"):
            out.append((type(x).__name__, tuple(x.shape), str(getattr(x, "dtype", ""))))
        elif isinstance(x, (list, tuple)):
            out.append((type(x).__name__, len(x)))
        else:
            out.append(type(x).__name__)
    return tuple(out)


def _empty() -> None:
    return None


class _Assembly:
    """The cached network of a layer array, kept on its first layer (``_dltk_assembly``)."""

    __slots__ = ("layers", "configs", "shapes", "net")

    def __init__(self, layers: list[nn.Module], shapes: tuple, net: Network) -> None:
        self.layers = layers
        self.shapes = shapes
        self.net = net
        self.configs = tuple(_config(lay) for lay in layers)

    def matches(self, layers: list[nn.Module], shapes: tuple) -> bool:
        return (
            len(layers) == len(self.layers)
            and all(a is b for a, b in zip(layers, self.layers))
            and shapes == self.shapes
            and all(_config(lay) == c for lay, c in zip(layers, self.configs))
        )

    # a copied or pickled layer does not carry the cache
    def __deepcopy__(self, memo: dict) -> None:
        return None

    def __reduce__(self) -> tuple:
        return (_empty, ())


def assembled(layers: list[nn.Module], inputs: tuple) -> Network:
    """The network of a layer array, from the cache when the layers and input shapes are unchanged."""
    shapes = _shapes(inputs)
    first = layers[0]
    hit = first.__dict__.get("_dltk_assembly")
    if hit is not None and hit.matches(layers, shapes):
        return hit.net
    net = Network(list(layers))
    first.__dict__["_dltk_assembly"] = _Assembly(list(layers), shapes, net)
    return net


def record(net: Any, *inputs: Any, **kwargs: Any) -> Recording:
    """Run one forward pass and record the signals inside (see :func:`dltk.introspect.record`).

    ``net`` may be a :class:`~dltk.network.Network`, a single layer, any
    ``torch.nn.Module`` — or a layer array (a list of layers, with or without
    an output layer), which is assembled like MATLAB does (cached between
    calls) and recorded in prediction mode.

    Example:
        >>> rec = dltk.record(layers, X)                      # a layer array
        >>> rec["lstm"]["forget_gate"].shape                  # (B, T, H)
        >>> rec = dltk.record(model, x)                       # a student's nn.Module
        >>> rec["encoder.lstm"]["forget_gate_l1_reverse"]     # PyTorch's naming
    """
    if isinstance(net, (list, tuple)) and net and all(isinstance(m, Layer) for m in net):
        network = assembled(list(net), inputs)
        modes = [(m, m.training) for m in network.modules()]
        network.eval()
        try:
            return _record_module(network, *inputs, **kwargs)
        finally:
            for m, mode in modes:
                m.training = mode
    if isinstance(net, (list, tuple)):
        raise TypeError(
            "dltk.record: a layer array must hold dltk layers only; got "
            + ", ".join(sorted({type(m).__name__ for m in net if not isinstance(m, Layer)}) or ["an empty list"])
        )
    return _record_module(net, *inputs, **kwargs)
