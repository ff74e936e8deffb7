"""Graph helpers shared by :class:`Network` and ``analyzeNetwork``: sources,
topological order and shape propagation with example data."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import DltkError, NetworkError
from ..layers.base import Layer
from ..layouts import default_layout, describe


def sources_of(layers: Sequence[Layer], connections: Sequence[tuple[str, str]]) -> dict[str, list[str | None]]:
    """``{layer: [source "name/port" or None, …]}`` in each layer's ``input_names`` order."""
    into = {d: s for s, d in connections}
    return {lay.name: [into.get(f"{lay.name}/{p}") for p in lay.input_names] for lay in layers}


def topological_order(layers: Sequence[Layer], connections: Sequence[tuple[str, str]]) -> tuple[list[Layer], list[str]]:
    """Kahn's algorithm, stable in insertion order; returns ``(order, names left in cycles)``."""
    by_name = {lay.name: lay for lay in layers}
    preds: dict[str, set[str]] = {n: set() for n in by_name}
    for s, d in connections:
        sn, dn = s.split("/")[0], d.split("/")[0]
        if sn in by_name and dn in by_name:
            preds[dn].add(sn)
    done: list[Layer] = []
    placed: set[str] = set()
    progress = True
    while progress:
        progress = False
        for lay in layers:
            if lay.name not in placed and preds[lay.name] <= placed:
                done.append(lay)
                placed.add(lay.name)
                progress = True
    return done, [n for n in by_name if n not in placed]


def _describe(x: Any, layout: str | None) -> str:
    if isinstance(x, torch.Tensor):
        return describe(tuple(x.shape), layout if layout and len(layout) == x.ndim else None)
    return type(x).__name__


def call_layer(layer: Layer, args: list[Any], kwargs: dict[str, Any], layouts: Sequence[str | None] = ()) -> Any:
    """Call ``layer``; a non-dltk exception becomes a NetworkError naming the layer and its inputs."""
    try:
        return layer(*args, **kwargs)
    except DltkError:
        raise
    except Exception as e:  # noqa: BLE001 - turn torch traces into a message about the layer
        shown = "; ".join(_describe(a, lay) for a, lay in zip(args, list(layouts) + [None] * len(args)))
        raise NetworkError(
            f"{layer.matlab_name or type(layer).__name__} '{layer.label}' ({layer.type_name}) failed on its "
            f"input{'s' if len(args) > 1 else ''} {shown}: {type(e).__name__}: {e}"
        ) from None


@dataclass
class Propagation:
    """Example activations per port after :func:`propagate`."""

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # "name/port" -> example shape
    layouts: dict[str, str | None] = field(default_factory=dict)  # "name/port" -> layout
    in_layouts: dict[str, list[str | None]] = field(default_factory=dict)  # layer -> input layouts
    errors: list[tuple[str, str]] = field(default_factory=list)  # (layer, message)
    skipped: list[str] = field(default_factory=list)  # layers not reached


def out_ports(layer: Layer) -> tuple[str, ...]:
    """Output ports; an output layer's value (its input, unchanged) is stored under port ``out``."""
    return layer.output_names or ("out",)


def propagate(
    order: Sequence[Layer], sources: dict[str, list[str | None]], *, batch: int = 2, time: int = 4, stop: bool = True
) -> Propagation:
    """Run example data through ``order`` (eval mode, no grad), calling ``setup`` first.

    With ``stop=False`` errors are collected and the layers downstream of a
    failure are skipped (for ``analyzeNetwork``); with ``stop=True`` the first
    error is raised.
    """
    res = Propagation()
    values: dict[str, Any] = {}
    modes = [(lay, lay.training) for lay in order]
    dtype = next(
        (
            p.dtype
            for lay in order
            for p in lay.parameters()
            if p.is_floating_point() and not isinstance(p, torch.nn.parameter.UninitializedParameter)
        ),
        torch.get_default_dtype(),
    )
    try:
        with torch.no_grad(), _without_stored_states(order):
            for lay in order:
                lay.eval()
                if lay.is_input_layer:
                    args, lays = [None], [getattr(lay, "data_layout", None)]
                else:
                    srcs = sources.get(lay.name, [])
                    if any(s is None or s not in values for s in srcs) or not srcs:
                        res.skipped.append(lay.name)
                        continue
                    args, lays = [values[s] for s in srcs], [res.layouts.get(s) for s in srcs]
                res.in_layouts[lay.name] = lays
                try:
                    if lay.is_input_layer:
                        x = _example(lay, batch, time)
                        args = [x.to(dtype) if x.is_floating_point() else x]
                    lay.setup(args if not lay.is_input_layer else [], lays if not lay.is_input_layer else [])
                    out = call_layer(lay, args, {}, lays)
                    out_lays = _output_layouts(lay, [] if lay.is_input_layer else lays)
                except Exception as e:  # noqa: BLE001
                    if not isinstance(e, DltkError):  # e.g. a torch error inside setup()
                        e = NetworkError(f"{lay.label} ({lay.type_name}): {type(e).__name__}: {e}")
                    if stop:
                        raise e from None
                    res.errors.append((lay.name, str(e)))
                    continue
                outs = out if len(out_ports(lay)) > 1 else (out,)
                for port, o, ol in zip(out_ports(lay), outs, out_lays):
                    key = f"{lay.name}/{port}"
                    values[key] = o
                    if isinstance(o, torch.Tensor):
                        res.shapes[key] = tuple(o.shape)
                        res.layouts[key] = ol if ol is None or len(ol) == o.ndim else default_layout(o.ndim)
    finally:
        for lay, mode in modes:
            lay.train(mode)
    return res


#: the stored initial states of recurrent layers (MATLAB ``HiddenState``/``CellState``)
_STATE_ATTRS = ("hidden_state", "cell_state")


@contextmanager
def _without_stored_states(order: Sequence[Layer]) -> Iterator[None]:
    """Set the layers' stored initial states aside while the example batch runs.

    A state stored per observation, (B, n), fits only a batch of B; the example
    batch has its own size, and sizes and layouts do not depend on the state's
    values, so assembly runs from zero states and restores the stored ones after.
    """
    saved = [
        (lay, attr, getattr(lay, attr))
        for lay in order
        for attr in _STATE_ATTRS
        if isinstance(getattr(lay, attr, None), torch.Tensor)
    ]
    for lay, attr, _ in saved:
        setattr(lay, attr, None)
    try:
        yield
    finally:
        for lay, attr, value in saved:
            setattr(lay, attr, value)


def _example(layer: Layer, batch: int, time: int) -> torch.Tensor:
    make = getattr(layer, "example", None)
    if not callable(make):
        raise NetworkError(
            f"input layer '{layer.label}' ({type(layer).__name__}) has no example(batch, time) "
            "method, so the network cannot propagate sizes (see the input layer contract)."
        )
    return make(batch=batch, time=time)


def _output_layouts(layer: Layer, in_layouts: list[str | None]) -> list[str | None]:
    """Per-output layouts: ``layer.output_layouts`` when defined, else ``output_layout`` for the first."""
    many = getattr(layer, "output_layouts", None)
    if callable(many):
        return list(many(in_layouts))
    first = layer.output_layout(in_layouts)
    return [first] + [None] * (len(out_ports(layer)) - 1)
