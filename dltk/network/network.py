"""``Network``: a runnable layer array or layer graph (MATLAB SeriesNetwork/DAGNetwork)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DataError, DltkError, NetworkError
from ..layers.base import Layer
from ..sequences import as_sequence_list, pad_sequences
from .graph import LayerGraph, addLayers, layerGraph, layers_table
from .naming import make_unique
from .propagation import call_layer, out_ports, propagate, sources_of, topological_order
from .structure import structural_issues

__all__ = ["Network", "assembleNetwork"]


def _key(name: str) -> str:
    return name.replace(".", "·")  # ModuleDict keys cannot hold '.'


class Network(nn.Module):
    """A network assembled from a layer array or a :class:`LayerGraph`.

    MATLAB: what ``trainNetwork``/``assembleNetwork`` return (``SeriesNetwork``
    for a chain, ``DAGNetwork`` otherwise). Assembling names unnamed layers
    (MATLAB's automatic names, see :mod:`dltk.network.naming`; repeated given
    names in a layer array are renamed with a warning), orders the layers
    topologically, and propagates example data from the input layers through
    every layer's ``setup`` so that ``'auto'`` sizes are fixed and layouts known.
    The layers are shared with the array/graph, not copied (PyTorch style).

    Args:
        layers: a list of layers (connected in order) or a :class:`LayerGraph`.

    Raises:
        NetworkError: the graph is invalid (the message lists the problems, as
            ``analyzeNetwork`` does) or a layer rejects the example data.

    Calling ``net(X, lengths=None)``: ``X`` is a tensor/array in the input
    layer's layout (e.g. (B, T, C) [MATLAB C×B×T]), a list of (T_i, C)
    sequences (padded on the right, lengths derived), or a dict
    ``{input_layer_name: X}``; returns the prediction — the input of the
    output layer (e.g. softmax probabilities), or, without an output layer,
    the output of the last layer (a tuple for several unconnected outputs).

    Example:
        >>> net = dltk.Network([dltk.featureInputLayer(4), dltk.fullyConnectedLayer(3)])
        >>> net(torch.randn(5, 4)).shape
        torch.Size([5, 3])
    """

    def __init__(self, layers: Sequence[Layer] | LayerGraph | Network) -> None:
        super().__init__()
        graph = self._as_graph(layers)
        problems = [i for i in structural_issues(graph.layers, graph.connections) if i.severity == "error"]
        if problems:
            raise NetworkError("cannot assemble the network:\n" + "\n".join(f"  - {p}" for p in problems))
        order, _ = topological_order(graph.layers, graph.connections)
        self._order_names = [lay.name for lay in order]
        self.nodes = nn.ModuleDict({_key(lay.name): lay for lay in order})
        self._connections = graph.connections
        self._sources = sources_of(order, self._connections)
        used = {s for s, _ in self._connections}
        self._sinks = [f"{lay.name}/{p}" for lay in order for p in lay.output_names if f"{lay.name}/{p}" not in used]
        try:
            prop = propagate(order, self._sources)
        except DltkError as e:
            raise NetworkError(f"cannot assemble the network: {e}") from None
        self._port_layouts = prop.layouts
        self._example_shapes = prop.shapes
        self._in_layouts = prop.in_layouts

    @staticmethod
    def _as_graph(layers: Any) -> LayerGraph:
        if isinstance(layers, Network):
            return LayerGraph(layers.layers, layers.connections)
        if isinstance(layers, LayerGraph):
            return layers
        if isinstance(layers, Layer):
            layers = [layers]
        if not isinstance(layers, (list, tuple)):
            raise NetworkError(f"Network: expected a list of layers or a LayerGraph, got {type(layers).__name__}.")
        renamed = make_unique([lay for lay in layers if isinstance(lay, Layer)])
        for old, new in renamed:
            warnings.warn(
                f"Network: layer name {old!r} is used more than once; renamed a copy to {new!r}.",
                UserWarning,
                stacklevel=3,
            )
        return addLayers(layerGraph(), list(layers))

    # ------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        """The layers in topological (execution) order."""
        return list(self.nodes.values())

    Layers = layers

    @property
    def layer_names(self) -> list[str]:
        return list(self._order_names)

    def layer(self, name: str) -> Layer:
        if name not in self._order_names:
            raise KeyError(f"no layer named {name!r}; layers: {', '.join(self._order_names)}")
        return self.nodes[_key(name)]

    def __getitem__(self, name: str) -> Layer:
        return self.layer(name)

    @property
    def connections(self) -> list[tuple[str, str]]:
        """``[("src/port", "dst/port"), …]``."""
        return list(self._connections)

    Connections = connections

    @property
    def input_layers(self) -> list[Layer]:
        return [lay for lay in self.layers if lay.is_input_layer]

    @property
    def output_layer(self) -> Layer | None:
        return next((lay for lay in self.layers if lay.is_output_layer), None)

    @property
    def InputNames(self) -> list[str]:  # noqa: N802
        return [lay.name for lay in self.input_layers]

    @property
    def OutputNames(self) -> list[str]:  # noqa: N802
        out = self.output_layer
        return [out.name] if out is not None else [s.split("/")[0] for s in self._sinks]

    @property
    def task(self) -> str | None:
        """``"classification"``, ``"regression"`` (from the output layer) or None."""
        out = self.output_layer
        return getattr(out, "task", None) if out is not None else None

    @property
    def classes(self) -> list[str] | None:
        """Class names of a classification output layer (None while ``'auto'``)."""
        out = self.output_layer
        c = getattr(out, "classes", None) if out is not None else None
        return None if c is None or isinstance(c, str) else list(c)

    @property
    def activation_layouts(self) -> dict[str, str | None]:
        """``{layer name: layout of its (first) output}``; output layers: their (unchanged) input."""
        return {n: self._port_layouts.get(f"{n}/{out_ports(self.layer(n))[0]}") for n in self._order_names}

    @property
    def is_series(self) -> bool:
        """True for a chain (MATLAB ``SeriesNetwork``), False for a DAG."""
        names = self._order_names
        chain = {(f"{a}/", f"{b}/") for a, b in zip(names, names[1:])}
        return len(self._connections) == len(names) - 1 and all(
            (s[: s.index("/") + 1], d[: d.index("/") + 1]) in chain for s, d in self._connections
        )

    # --------------------------------------------------------------- running
    def _param_dtype_device(self) -> tuple[torch.dtype, torch.device | None]:
        for p in self.parameters():
            if p.is_floating_point() and not isinstance(p, nn.parameter.UninitializedParameter):
                return p.dtype, p.device
        for b in self.buffers():
            if b.is_floating_point():
                return b.dtype, b.device
        return torch.get_default_dtype(), None

    def _tensor(self, x: Any) -> Any:
        dtype, device = self._param_dtype_device()
        if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
            x = torch.from_numpy(np.ascontiguousarray(x))
        if isinstance(x, torch.Tensor) and not x.is_complex() and x.dtype != torch.bool:
            return x.to(dtype=dtype, device=device)
        return x

    def _prepare(self, X: Any, lengths: Any) -> tuple[dict[str, Any], torch.Tensor | None]:
        inputs = self.input_layers
        if isinstance(X, dict):
            missing = [lay.name for lay in inputs if lay.name not in X]
            if missing:
                raise DataError(
                    f"Network: the input dict lacks {', '.join(map(repr, missing))}; "
                    f"inputs: {', '.join(map(repr, self.InputNames))}."
                )
            data = {lay.name: X[lay.name] for lay in inputs}
        elif len(inputs) == 1:
            data = {inputs[0].name: X}
        else:
            raise DataError(
                f"Network: this network has {len(inputs)} inputs ({', '.join(map(repr, self.InputNames))});"
                " give X as a dict {input_layer_name: data}."
            )
        for name, x in data.items():
            if isinstance(x, (list, tuple)):
                x, lens = self._pad(name, x)
                lengths = lens if lengths is None else lengths
            data[name] = self._tensor(x)
        if lengths is not None:
            lengths = torch.as_tensor(lengths, dtype=torch.long)
        return data, lengths

    def _pad(self, name: str, seqs: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        if not seqs:
            raise DataError(f"Network: input {name!r} got an empty list of sequences.")
        if all(np.ndim(s) <= 2 for s in seqs):
            return pad_sequences(as_sequence_list(list(seqs), f"Network input {name!r}"))
        ts = [torch.as_tensor(np.asarray(s), dtype=torch.get_default_dtype()) for s in seqs]
        lens = torch.tensor([t.shape[0] for t in ts])
        return torch.nn.utils.rnn.pad_sequence(ts, batch_first=True), lens

    def _run(self, X: Any, lengths: Any) -> tuple[Any, torch.Tensor | None]:
        data, lengths = self._prepare(X, lengths)
        values: dict[str, Any] = {}
        result = None
        for name, layer in zip(self._order_names, self.nodes.values()):
            lays = self._in_layouts.get(name, [])
            if layer.is_input_layer:
                args = [data[name]]
            else:
                args = [values[s] for s in self._sources[name]]
            has_t = bool(lays) and lays[0] is not None and "T" in lays[0]
            kwargs = {"lengths": lengths} if lengths is not None and layer.accepts_lengths and has_t else {}
            out = call_layer(layer, args, kwargs, lays)
            if layer.is_output_layer:
                result = out
                continue
            outs = out if len(layer.output_names) > 1 else (out,)
            for port, o in zip(layer.output_names, outs):
                values[f"{name}/{port}"] = o
        if result is None:
            sinks = [values[s] for s in self._sinks]
            result = sinks[0] if len(sinks) == 1 else tuple(sinks)
        return result, lengths

    def forward(self, X: Any, *, lengths: Any = None) -> Any:
        """The prediction for ``X`` (see the class docstring for the accepted forms)."""
        return self._run(X, lengths)[0]

    def loss(self, X: Any, targets: Any, *, lengths: Any = None) -> torch.Tensor:
        """The output layer's loss (scalar) for data ``X`` and ``targets``.

        Targets: class indices (B,) or (B, T) int64 for classification, a
        tensor shaped like the prediction for regression.
        """
        out = self.output_layer
        if out is None:
            raise NetworkError(
                "Network.loss: this network has no output layer (classificationLayer, "
                "regressionLayer …); add one to compute a loss."
            )
        y, lengths = self._run(X, lengths)
        if isinstance(targets, np.ndarray):
            targets = torch.from_numpy(np.ascontiguousarray(targets))
        if isinstance(targets, torch.Tensor) and targets.is_floating_point():
            targets = targets.to(dtype=y.dtype, device=y.device)
        lays = self._in_layouts.get(out.name, [None])
        has_t = lays[0] is not None and "T" in lays[0]
        return out.loss(y, targets, lengths=lengths if has_t else None)

    def reset_state(self) -> Network:
        """Reset the state of recurrent layers (MATLAB ``resetState``)."""
        for lay in self.layers:
            fn = getattr(lay, "reset_state", None) or getattr(lay, "resetState", None)
            if lay.is_recurrent and callable(fn):
                fn()
        return self

    def to_torch(self) -> nn.Module:
        """A plain PyTorch module (``torch.fx.GraphModule``) with the same outputs.

        See :mod:`dltk.network.torch_export`.
        """
        from .torch_export import to_torch

        return to_torch(self)

    # --------------------------------------------------------------- display
    def __repr__(self) -> str:
        kind = "SeriesNetwork" if self.is_series else "DAGNetwork"
        return (
            f"Network ({kind}) with properties:\n\n         Layers: [{len(self.layers)}×1 Layer]\n"
            f"    Connections: [{len(self._connections)}×2]\n     InputNames: {self.InputNames}\n"
            f"    OutputNames: {self.OutputNames}\n\n{layers_table(self.layers)}"
        )

    def _repr_html_(self) -> str:
        from html import escape

        from ..layouts import describe

        rows = []
        for i, lay in enumerate(self.layers, 1):
            key = f"{lay.name}/{out_ports(lay)[0]}"
            shape = self._example_shapes.get(key)
            act = describe(("B",) + shape[1:], self._port_layouts.get(key)) if shape else ""
            n = sum(p.numel() for p in lay.parameters())
            rows.append(
                f"<tr><td>{i}</td><td><b>{escape(lay.name)}</b></td><td>{escape(lay.type_name)}</td>"
                f"<td>{escape(lay.description())}</td><td>{escape(act)}</td><td>{n:,}</td></tr>"
            )
        kind = "SeriesNetwork" if self.is_series else "DAGNetwork"
        total = sum(p.numel() for p in self.parameters())
        return (
            f"<b>Network</b> ({kind}): {len(self.layers)} layers, {total:,} learnables"
            "<table class='dltk-network'><tr><th>#</th><th>Name</th><th>Type</th><th>Description</th>"
            "<th>Activations</th><th>Learnables</th></tr>" + "".join(rows) + "</table>"
        )


def assembleNetwork(layers: Sequence[Layer] | LayerGraph) -> Network:
    """MATLAB ``assembleNetwork``: a network from layers that already hold their weights (no training).

    Unlike :class:`Network`, the layers are deep-copied (MATLAB returns a new
    network object); every learnable must be set, as in MATLAB: a layer whose
    weights are still lazy (``'auto'`` input size, no ``Weights``) raises
    :class:`~dltk.errors.NetworkError`.
    """
    import copy

    if isinstance(layers, LayerGraph):
        pairs = {id(lay): copy.deepcopy(lay) for lay in layers.layers}
        graph = LayerGraph([pairs[id(lay)] for lay in layers.layers], layers.connections)
    else:
        graph = copy.deepcopy(list(layers))
    lays = graph.layers if isinstance(graph, LayerGraph) else graph
    missing = [f"{lay.label}.{pname}" for lay in lays for pname, p in lay._parameters.items() if p is None]
    if missing:
        raise NetworkError(
            f"assembleNetwork: learnables not set (as in MATLAB, give them, e.g. Weights=… and "
            f"InputSize=…, or train with trainNetwork): {', '.join(missing)}."
        )
    return Network(graph)
