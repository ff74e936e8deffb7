"""Layer graphs with MATLAB's functions (``layerGraph``, ``addLayers``, ``connectLayers`` …).

A :class:`LayerGraph` is a set of uniquely named layers plus connections
``("source/port", "destination/port")``. As in MATLAB the functions are
functional: each returns a *new* graph and leaves its argument unchanged
(the layer objects themselves are shared, PyTorch style, and unnamed layers
get their automatic names in place when they join a graph)::

    lgraph = dltk.layerGraph(layers)                 # connected in order
    lgraph = dltk.connectLayers(lgraph, "relu_1", "add/in2")

Port syntax: ``"layerName/portName"``; a bare ``"layerName"`` means the
layer's only output (as a source) or only input (as a destination).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import NetworkError
from ..layers.base import Layer
from .naming import assign_names, is_unnamed

#: MATLAB's graph functions; dltk.network and the top-level ``dltk.<name>`` export these names
GRAPH_FUNCTIONS = ("layerGraph", "addLayers", "connectLayers", "disconnectLayers", "removeLayers", "replaceLayer")

__all__ = ["LayerGraph", *GRAPH_FUNCTIONS, "layers_table"]


def _as_layer_list(where: str, layers: Any) -> list[Layer]:
    if isinstance(layers, Layer):
        return [layers]
    if not isinstance(layers, (list, tuple)) or not all(isinstance(v, Layer) for v in layers):
        got = (
            type(layers).__name__
            if not isinstance(layers, (list, tuple))
            else ", ".join(sorted({type(v).__name__ for v in layers if not isinstance(v, Layer)}))
        )
        raise NetworkError(f"{where}: expected a layer or a list of dltk layers, got {got}.")
    return list(layers)


def layers_table(layers: Sequence[Layer]) -> str:
    """MATLAB's layer-array display: index, 'name', type, description."""
    if not layers:
        return "  0×1 Layer array"
    w_name = max(len(lay.name) for lay in layers) + 2
    w_type = max(len(lay.type_name) for lay in layers)
    w_idx = len(str(len(layers)))
    lines = [f"  {len(layers)}×1 Layer array with layers:", ""]
    for i, lay in enumerate(layers, 1):
        lines.append(
            f"    {i:>{w_idx}}   {repr(lay.name).replace(chr(34), chr(39)):<{w_name}}   "
            f"{lay.type_name:<{w_type}}   {lay.description()}"
        )
    return "\n".join(lines)


class LayerGraph:
    """A graph of named layers (MATLAB ``LayerGraph``); build it with :func:`layerGraph`.

    Attributes:
        Layers / layers: the layers, in the order they were added.
        Connections / connections: list of ``("src/port", "dst/port")``.
        InputNames / OutputNames: names of the input layers / output (loss) layers.
    """

    def __init__(self, layers: Sequence[Layer] = (), connections: Iterable[tuple[str, str]] = ()) -> None:
        self._layers = list(layers)
        self._connections = list(connections)

    # ------------------------------------------------------------- queries
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    Layers = layers

    @property
    def connections(self) -> list[tuple[str, str]]:
        return list(self._connections)

    Connections = connections

    @property
    def layer_names(self) -> list[str]:
        return [lay.name for lay in self._layers]

    @property
    def InputNames(self) -> list[str]:  # noqa: N802
        return [lay.name for lay in self._layers if lay.is_input_layer]

    @property
    def OutputNames(self) -> list[str]:  # noqa: N802
        return [lay.name for lay in self._layers if lay.is_output_layer]

    def layer(self, name: str) -> Layer:
        """The layer called ``name`` (error lists the existing names)."""
        for lay in self._layers:
            if lay.name == name:
                return lay
        have = ", ".join(map(repr, self.layer_names)) or "none"
        raise NetworkError(f"no layer named {name!r}; the graph has: {have}.")

    __getitem__ = layer

    def port(self, where: str, spec: str, kind: str) -> str:
        """Resolve ``"name"`` or ``"name/port"`` to a full ``"name/port"``; ``kind`` is ``'out'`` or ``'in'``."""
        if not isinstance(spec, str) or not spec:
            raise NetworkError(f"{where}: a port must be text like 'relu_1' or 'add/in2', got {spec!r}.")
        name, _, port = spec.partition("/")
        try:
            lay = self.layer(name)
        except NetworkError as e:
            raise NetworkError(f"{where}: {e}") from None
        ports = lay.output_names if kind == "out" else lay.input_names
        what = "output" if kind == "out" else "input"
        listing = ", ".join(f"'{name}/{p}'" for p in ports) or "none"
        if not port:
            if len(ports) != 1:
                raise NetworkError(
                    f"{where}: layer {name!r} has {len(ports)} {what}s ({listing}); name one as 'layer/port'."
                )
            port = ports[0]
        elif port not in ports:
            raise NetworkError(f"{where}: layer {name!r} has no {what} port {port!r}; its {what}s: {listing}.")
        return f"{name}/{port}"

    # ------------------------------------------------------------- display
    def __repr__(self) -> str:
        return (
            f"LayerGraph with properties:\n\n         Layers: [{len(self._layers)}×1 Layer]\n"
            f"    Connections: [{len(self._connections)}×2]\n     InputNames: {self.InputNames}\n"
            f"    OutputNames: {self.OutputNames}\n\n{layers_table(self._layers)}\n\n  Connections:\n"
            + "\n".join(f"    {s} -> {d}" for s, d in self._connections)
        )

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{i}</td><td>{escape(lay.name)}</td><td>{escape(lay.type_name)}</td>"
            f"<td>{escape(lay.description())}</td></tr>"
            for i, lay in enumerate(self._layers, 1)
        )
        conns = "<br>".join(f"{escape(s)} → {escape(d)}" for s, d in self._connections)
        return (
            f"<b>LayerGraph</b>: {len(self._layers)} layers, {len(self._connections)} connections"
            "<table><tr><th>#</th><th>Name</th><th>Type</th><th>Description</th></tr>"
            f"{rows}</table><details><summary>Connections</summary>{conns}</details>"
        )


def layerGraph(layers: Any = None) -> LayerGraph:
    """MATLAB ``layerGraph``: a graph of ``layers`` connected in order (empty without).

    Also accepts a :class:`LayerGraph` (copied) or a ``Network`` (its graph).
    Unnamed layers get MATLAB's automatic names.
    """
    if layers is None:
        return LayerGraph()
    if isinstance(layers, LayerGraph):
        return LayerGraph(layers.layers, layers.connections)
    if hasattr(layers, "connections") and hasattr(layers, "layers") and not isinstance(layers, (list, tuple)):
        return LayerGraph(layers.layers, layers.connections)
    return addLayers(LayerGraph(), layers)


def addLayers(lgraph: LayerGraph, layers: Any) -> LayerGraph:
    """MATLAB ``addLayers``: add ``layers`` and connect the added array in order.

    Layer names must be unique and non-empty in a graph: unnamed layers are
    auto-named; a given name already used raises :class:`~dltk.errors.NetworkError`.
    """
    new = _as_layer_list("addLayers", layers)
    have = {id(lay) for lay in lgraph._layers}
    for lay in new:
        if id(lay) in have or sum(lay is other for other in new) > 1:
            raise NetworkError(f"addLayers: the same layer object ({lay.label!r}) is added twice; create a new layer.")
    named = [lay.name for lay in new if not is_unnamed(lay)]
    for n in named:
        if n in lgraph.layer_names or named.count(n) > 1:
            raise NetworkError(
                f"addLayers: layer names must be unique; {n!r} is used twice. Rename one of them "
                "(Name option) or leave it unnamed to get an automatic name."
            )
    assign_names(new, taken=lgraph.layer_names)
    g = LayerGraph(lgraph._layers + new, lgraph._connections)
    for a, b in zip(new, new[1:]):
        if a.output_names and b.input_names:
            g._connections.append((f"{a.name}/{a.output_names[0]}", f"{b.name}/{b.input_names[0]}"))
    return g


def connectLayers(lgraph: LayerGraph, s: str, d: str) -> LayerGraph:
    """MATLAB ``connectLayers(lgraph, s, d)``: connect source port ``s`` to destination port ``d``.

    ``d`` must not be connected yet (an input takes one source).
    """
    src, dst = lgraph.port("connectLayers", s, "out"), lgraph.port("connectLayers", d, "in")
    for a, b in lgraph._connections:
        if b == dst:
            raise NetworkError(
                f"connectLayers: {dst!r} is already connected to {a!r}; disconnect it first (disconnectLayers)."
            )
    return LayerGraph(lgraph._layers, lgraph._connections + [(src, dst)])


def disconnectLayers(lgraph: LayerGraph, s: str, d: str) -> LayerGraph:
    """MATLAB ``disconnectLayers(lgraph, s, d)``: remove the connection from ``s`` to ``d``."""
    src, dst = lgraph.port("disconnectLayers", s, "out"), lgraph.port("disconnectLayers", d, "in")
    if (src, dst) not in lgraph._connections:
        raise NetworkError(f"disconnectLayers: {src!r} is not connected to {dst!r}.")
    return LayerGraph(lgraph._layers, [c for c in lgraph._connections if c != (src, dst)])


def removeLayers(lgraph: LayerGraph, layerNames: str | Sequence[str]) -> LayerGraph:
    """MATLAB ``removeLayers``: remove the named layer(s) and all their connections."""
    names = [layerNames] if isinstance(layerNames, str) else list(layerNames)
    for n in names:
        if n not in lgraph.layer_names:
            _missing("removeLayers", lgraph, n)
    gone = set(names)
    keep = [c for c in lgraph._connections if c[0].split("/")[0] not in gone and c[1].split("/")[0] not in gone]
    return LayerGraph([lay for lay in lgraph._layers if lay.name not in gone], keep)


def _missing(where: str, lgraph: LayerGraph, name: str) -> None:
    raise NetworkError(f"{where}: no layer named {name!r}; the graph has: {', '.join(map(repr, lgraph.layer_names))}.")


def replaceLayer(lgraph: LayerGraph, layerName: str, larray: Any, *, ReconnectBy: str = "name") -> LayerGraph:
    """MATLAB ``replaceLayer(lgraph, layerName, larray)``: swap a layer for a layer array.

    The array is connected in order; connections into the old layer go to the
    first new layer, connections out of it leave from the last one, matching
    ports by name (``ReconnectBy='name'``, default; falls back to order when a
    port name does not exist) or by position (``'order'``).
    """
    if layerName not in lgraph.layer_names:
        _missing("replaceLayer", lgraph, layerName)
    old = lgraph.layer(layerName)
    new = _as_layer_list("replaceLayer", larray)
    base = removeLayers(lgraph, layerName)
    g = addLayers(base, new)
    first, last = new[0], new[-1]

    def match(port: str, old_ports: tuple[str, ...], new_ports: tuple[str, ...]) -> str:
        if ReconnectBy.lower() == "name" and port in new_ports:
            return port
        i = old_ports.index(port)
        if i >= len(new_ports):
            raise NetworkError(
                f"replaceLayer: the new layers have no port for {layerName}/{port} "
                f"(ports: {', '.join(new_ports) or 'none'})."
            )
        return new_ports[i]

    for s, d in lgraph._connections:
        (sn, sp), (dn, dp) = s.split("/"), d.split("/")
        if dn == layerName and sn != layerName:
            g._connections.append((s, f"{first.name}/{match(dp, old.input_names, first.input_names)}"))
        elif sn == layerName and dn != layerName:
            g._connections.append((f"{last.name}/{match(sp, old.output_names, last.output_names)}", d))
    return g
