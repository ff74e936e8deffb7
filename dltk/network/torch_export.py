"""``Network.to_torch()``: the network as plain PyTorch code (a ``torch.fx.GraphModule``).

The result has no recording, no checks and no dltk control flow: one
``torch.fx`` node per layer, in execution order, so ``print(m.code)`` shows
the forward pass as ordinary PyTorch. Call it with the input tensors in the
order of ``net.input_layers`` (and ``lengths=`` when the network has layers
that use sequence lengths); it returns what ``net(X)`` returns.

Layer conversion:

* input layers become their normalization arithmetic (statistics as buffers,
  a normalization function as a one-line ``FunctionModule``);
* ``fullyConnectedLayer`` becomes ``torch.nn.Linear`` (images are flattened
  in MATLAB's order first, ``x.transpose(-1, -2).flatten(1)``);
* a layer with a ``to_torch()`` method contributes the plain module it
  returns (same call signature, ``lengths=`` included when it uses lengths);
* any other layer is deep-copied as is (it is an ``nn.Module`` already);
* output layers are dropped (their forward is the identity).

The weights are copied: changing the exported module leaves the network alone.
"""

from __future__ import annotations

import copy
import keyword
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import fx, nn

from ..layers.base import Layer
from .propagation import out_ports

if TYPE_CHECKING:
    from .network import Network

__all__ = ["to_torch"]


def _ident(name: str, used: set[str]) -> str:
    base = re.sub(r"\W", "_", name) or "layer"
    if base[0].isdigit() or keyword.iskeyword(base):
        base = "_" + base
    out, k = base, 1
    while out in used:
        k += 1
        out = f"{base}_{k}"
    used.add(out)
    return out


class FunctionModule(nn.Module):
    """``fn(x)`` as a module (a user's normalization function)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _linear(layer: Layer) -> nn.Linear:
    w = layer.weight
    lin = nn.Linear(w.shape[1], w.shape[0], dtype=w.dtype, device=w.device)
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(layer.bias)
    return lin


def _input(g: fx.Graph, layer: Layer, x: fx.Node, key: str, attrs: dict, dtype: torch.dtype) -> fx.Node:
    norm = getattr(layer, "normalization", "none")
    if callable(norm):  # a user function (may be a lambda, which fx cannot name): wrap it in a module
        attrs[f"{key}_normalization"] = FunctionModule(norm)
        return g.call_module(f"{key}_normalization", (x,))
    if norm == "none" or norm is None:
        return x

    def stat(name: str, value: torch.Tensor | None) -> fx.Node | None:
        if value is None:
            return None
        attrs[f"{key}_{name}"] = value.detach().to(dtype).clone()  # in the network's dtype, as forward casts
        return g.get_attr(f"{key}_{name}")

    if norm in ("zerocenter", "zscore"):
        mu = stat("mean", layer.mean)
        y = x if mu is None else g.call_function(operator.sub, (x, mu))
        sd = stat("std", layer.std) if norm == "zscore" else None
        return y if sd is None else g.call_function(operator.truediv, (y, sd))
    lo = stat("min", layer.min)
    span = None
    if layer.max is not None:
        span = stat("span", layer.max - (0 if layer.min is None else layer.min))
    y = x if lo is None else g.call_function(operator.sub, (x, lo))
    y = y if span is None else g.call_function(operator.truediv, (y, span))
    if norm == "rescale-symmetric":
        y = g.call_function(operator.sub, (g.call_function(operator.mul, (y, 2.0)), 1.0))
    return y


def to_torch(net: Network) -> fx.GraphModule:
    """Export ``net`` as a ``torch.fx.GraphModule`` (see the module docstring)."""
    g = fx.Graph()
    used: set[str] = {"lengths"}
    attrs: dict[str, object] = {}
    values: dict[str, fx.Node] = {}
    inputs = {lay.name: g.placeholder(_ident(lay.name, used)) for lay in net.input_layers}
    needs_lengths = any(
        lay.accepts_lengths and not lay.is_input_layer and "T" in ((net._in_layouts.get(lay.name) or [None])[0] or "")
        for lay in net.layers
    )
    lengths = g.placeholder("lengths", default_value=None) if needs_lengths else None
    result = None
    for lay in net.layers:
        if lay.is_input_layer:
            node = inputs[lay.name]
            values[f"{lay.name}/out"] = _input(g, lay, node, node.name, attrs, net._param_dtype_device()[0])
            continue
        key = _ident(lay.name, used)
        args = tuple(values[s] for s in net._sources[lay.name])
        if lay.is_output_layer:
            result = args[0]
            continue
        in_layout = (net._in_layouts.get(lay.name) or [None])[0] or ""
        kwargs = {"lengths": lengths} if lengths is not None and lay.accepts_lengths and "T" in in_layout else {}
        if getattr(lay, "matlab_name", "") == "fullyConnectedLayer":
            x = args[0]
            if in_layout in ("BCHW", "BCDHW"):
                x = g.call_method("flatten", (g.call_method("transpose", (x, -1, -2)), 1))
            attrs[key] = _linear(lay)
            out = g.call_module(key, (x,))
        else:
            conv = getattr(lay, "to_torch", None)
            attrs[key] = conv() if callable(conv) else copy.deepcopy(lay)
            out = g.call_module(key, args, kwargs)
        ports = out_ports(lay)
        for i, port in enumerate(ports):
            values[f"{lay.name}/{port}"] = out if len(ports) == 1 else g.call_function(operator.getitem, (out, i))
    if result is None:
        sinks = [values[s] for s in net._sinks]
        result = sinks[0] if len(sinks) == 1 else tuple(sinks)
    g.output(result)
    gm = fx.GraphModule(attrs, g, class_name="ExportedNetwork")
    return gm.train(net.training)
