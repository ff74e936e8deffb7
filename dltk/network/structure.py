"""Structural checks of a layer graph, shared by :class:`Network` (which refuses a
broken graph) and ``analyzeNetwork`` (which reports it): input/output layer
counts, names, connection ports, unconnected inputs/outputs and cycles.

Each check returns :class:`Issue` sentences a student can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..layers.base import Layer
from .propagation import topological_order

__all__ = ["Issue", "structural_issues"]

Connection = tuple[str, str]


@dataclass(frozen=True)
class Issue:
    """One problem found by ``analyzeNetwork`` (or by ``Network`` at assembly)."""

    severity: str  # 'error' or 'warning'
    layers: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        where = f" [{', '.join(self.layers)}]" if self.layers else ""
        return f"{self.severity.upper()}{where}: {self.message}"


def error(layers: Sequence[str], msg: str) -> Issue:
    return Issue("error", tuple(layers), msg)


def warning(layers: Sequence[str], msg: str) -> Issue:
    return Issue("warning", tuple(layers), msg)


def structural_issues(layers: Sequence[Layer], connections: Sequence[Connection]) -> list[Issue]:
    """Graph problems: input/output layer counts, names, ports, unconnected inputs/outputs, cycles."""
    if not layers:
        return [error([], "The network has no layers.")]
    out = _end_layer_issues(layers) + _name_issues(layers)
    connected, issues = _connection_issues(layers, connections)
    out += issues
    out += _unconnected_issues(layers, connections, connected)
    out += _cycle_issues(layers, connections)
    return out


def _end_layer_issues(layers: Sequence[Layer]) -> list[Issue]:
    """Exactly one input layer at least, at most one output layer."""
    out = []
    if not any(lay.is_input_layer for lay in layers):
        out.append(
            error(
                [],
                "The network has no input layer. Start it with one, e.g. sequenceInputLayer(12) for "
                "sequences of 12 features or imageInputLayer([28 28 1]) for 28×28 grayscale images.",
            )
        )
    outs = [lay.name for lay in layers if lay.is_output_layer]
    if len(outs) > 1:
        out.append(error(outs, f"The network has {len(outs)} output layers ({', '.join(outs)}); keep one."))
    return out


def _name_issues(layers: Sequence[Layer]) -> list[Issue]:
    """Names must be unique and non-empty."""
    names = [lay.name for lay in layers]
    return [
        error(
            [n],
            f"The layer name {n!r} is {'used more than once' if n else 'empty'}; names in a "
            "graph must be unique and non-empty, or connections are ambiguous.",
        )
        for n in dict.fromkeys(x for x in names if names.count(x) > 1 or not x)
    ]


def _endpoint_issue(layer: Layer | None, name: str, port: str, kind: str, conn: Connection) -> Issue | None:
    """The problem with one end of a connection (missing layer or port), or None."""
    s, d = conn
    if layer is None:
        return error([name], f"The connection {s} -> {d} refers to a layer {name!r} that does not exist.")
    ports = layer.output_names if kind == "out" else layer.input_names
    if port in ports:
        return None
    what = "output" if kind == "out" else "input"
    return error(
        [name],
        f"The connection {s} -> {d} uses {what} port {port!r}, which layer {name!r} "
        f"does not have; its {what}s: {', '.join(ports) or 'none'}.",
    )


def _connection_issues(
    layers: Sequence[Layer], connections: Sequence[Connection]
) -> tuple[dict[str, str], list[Issue]]:
    """Every connection joins existing ports, each input at most once; returns ``({input: source}, issues)``."""
    by_name = {lay.name: lay for lay in layers}
    out: list[Issue] = []
    seen: dict[str, str] = {}
    for s, d in connections:
        bad = False
        for spec, kind in ((s, "out"), (d, "in")):
            name, _, port = spec.partition("/")
            issue = _endpoint_issue(by_name.get(name), name, port, kind, (s, d))
            if issue is not None:
                out.append(issue)
                bad = True
        if not bad and d in seen:
            out.append(
                error(
                    [d.split("/")[0]],
                    f"Input {d} is connected twice (from {seen[d]} and {s}); an input takes one source.",
                )
            )
        seen.setdefault(d, s)
    return seen, out


def _unconnected_issues(
    layers: Sequence[Layer], connections: Sequence[Connection], connected: dict[str, str]
) -> list[Issue]:
    """Every input connected; with an output layer, every output used."""
    out = []
    used = {s for s, _ in connections}
    has_output = any(lay.is_output_layer for lay in layers)
    for lay in layers:
        for p in lay.input_names:
            if f"{lay.name}/{p}" not in connected:
                out.append(
                    error(
                        [lay.name],
                        f"Input '{lay.name}/{p}' is not connected. Each layer input must be "
                        "connected to the output of another layer (connectLayers).",
                    )
                )
        for p in lay.output_names:
            if has_output and f"{lay.name}/{p}" not in used:
                out.append(
                    error(
                        [lay.name],
                        f"Output '{lay.name}/{p}' is not used. Each layer output must be "
                        "connected to the input of another layer, leading to the output layer.",
                    )
                )
    return out


def _cycle_issues(layers: Sequence[Layer], connections: Sequence[Connection]) -> list[Issue]:
    _, cyc = topological_order(layers, connections)
    if not cyc:
        return []
    return [
        error(
            cyc,
            f"The connections form a cycle through {', '.join(map(repr, cyc))}; a network must "
            "flow one way, from the input layer to the output.",
        )
    ]
