"""``analyzeNetwork``: check a layer array, graph or network and describe every layer.

The report (:class:`NetworkAnalysis`) lists per layer its name, type,
description, activation size — in dltk notation ``(B, T, 100)`` and MATLAB
notation ``100(C)×B(B)×T(T)`` (size then format letter per dimension, in
MATLAB's S…, C, B, T order; ``B`` and ``T`` stand for the batch size and
the number of time steps) — its learnables with MATLAB sizes
(``InputWeights 400×12``) and their count, the total, and the *issues*:
sentences a student can act on, each with a severity (``'error'`` or
``'warning'``) and the layers involved.

Sequence-to-label vs sequence-to-sequence. Both are legal, so the rule needs
the task: ``task='sequence-to-label'`` / ``'sequence-to-sequence'``, or the
targets ``Y`` (one label per observation → sequence-to-label; one per time
step → sequence-to-sequence). With neither (``task='auto'``), a
classification network on sequence input whose output still has a time axis
is reported as a *warning*: MATLAB's rule is that for sequence-to-label
classification the last recurrent layer uses ``OutputMode 'last'``. A
declared task turns the mismatch into an error.

``analyzeNetwork`` never raises on a broken network: it works on copies of
the layers of an array or graph and reports what it finds.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..layers.base import Layer
from ..layouts import matlab_format
from ..options import choice
from .graph import LayerGraph
from .naming import assign_names, make_unique
from .network import Network
from .propagation import Propagation, out_ports, propagate, sources_of, topological_order
from .structure import Issue, error, structural_issues, warning

__all__ = ["Issue", "LayerInfo", "NetworkAnalysis", "analyzeNetwork", "structural_issues"]

TASKS = ("auto", "sequence-to-label", "sequence-to-sequence")


@dataclass
class LayerInfo:
    """One row of the analysis table."""

    index: int
    name: str
    type: str
    description: str
    activation: str = ""  # dltk notation, e.g. "(B, T, 100)"
    activation_matlab: str = ""  # MATLAB notation, e.g. "100(C)×B(B)×T(T)"
    layout: str | None = None
    learnables: dict[str, str] = field(default_factory=dict)  # MATLAB name -> "400×12"
    num_learnables: int = 0


# ---------------------------------------------------------------------- helpers
def _symbolic(shape: tuple[int, ...], layout: str | None) -> tuple[list[Any], str | None]:
    if layout is None or len(layout) != len(shape):
        return ["B", *shape[1:]], None
    return [a if a in "BT" else s for s, a in zip(shape, layout)], layout


def _activation_strings(shape: tuple[int, ...] | None, layout: str | None) -> tuple[str, str]:
    if shape is None:
        return "", ""
    sym, lay = _symbolic(shape, layout)
    dl = "(" + ", ".join(map(str, sym)) + ")"
    if lay is None:
        return dl, "×".join(map(str, sym))
    order = {"BC": "CB", "BTC": "CBT", "BCHW": "HWCB", "BCDHW": "HWDCB", "BTCHW": "HWCBT"}[lay]
    fmt = matlab_format(lay)
    dims = dict(zip(lay, sym))
    return f"{dl} {lay}", "×".join(f"{dims[a]}({f})" for a, f in zip(order, fmt))


def _learnables(layer: Layer) -> tuple[dict[str, str], int]:
    params = [p for p in layer.parameters() if not isinstance(p, torch.nn.parameter.UninitializedParameter)]
    total = sum(p.numel() for p in params)
    ptrs = {
        p.untyped_storage().data_ptr(): n
        for n, p in layer.named_parameters()
        if not isinstance(p, torch.nn.parameter.UninitializedParameter)
    }
    rank = {ptr: i for i, ptr in enumerate(ptrs)}
    found: dict[str, tuple[int, str]] = {}
    covered = set()
    for attr in dir(type(layer)):
        if not attr[:1].isupper() or not isinstance(getattr(type(layer), attr, None), property):
            continue
        try:
            v = getattr(layer, attr)
        except Exception:  # noqa: BLE001 - a property that cannot be read now is skipped
            continue
        if isinstance(v, torch.Tensor) and v.numel() and v.untyped_storage().data_ptr() in ptrs:
            ptr = v.untyped_storage().data_ptr()
            found[attr] = (rank[ptr], "×".join(map(str, v.shape)) if v.ndim > 1 else f"{v.shape[0]}×1")
            covered.add(ptr)
    for ptr, n in ptrs.items():  # parameters without a MATLAB-shaped view: torch name and shape
        if ptr not in covered:
            p = dict(layer.named_parameters())[n]
            found[n] = (rank[ptr], "×".join(map(str, p.shape)))
    return {k: v for k, (_, v) in sorted(found.items(), key=lambda kv: kv[1][0])}, total


def _upstream_recurrent(name: str, by_name: dict[str, Layer], sources: dict[str, list[str | None]]) -> list[Layer]:
    """Nearest recurrent layers feeding ``name`` (through non-recurrent layers)."""
    found, stack, seen = [], list(sources.get(name, [])), set()
    while stack:
        src = stack.pop()
        if src is None or src in seen:
            continue
        seen.add(src)
        lay = by_name.get(src.split("/")[0])
        if lay is None:
            continue
        if lay.is_recurrent:
            found.append(lay)
        else:
            stack.extend(sources.get(lay.name, []))
    return found


def _mode(layer: Layer) -> str | None:
    m = getattr(layer, "output_mode", None) or getattr(layer, "OutputMode", None)
    return m.lower() if isinstance(m, str) else None


def _infer_task(Y: Any) -> str:
    if isinstance(Y, (list, tuple)):
        return (
            "sequence-to-sequence"
            if any(np.ndim(np.asarray(y)) >= 1 and np.size(y) > 1 for y in Y)
            else "sequence-to-label"
        )
    return "sequence-to-sequence" if np.ndim(np.asarray(Y)) >= 2 else "sequence-to-label"


def _semantic_issues(
    order: Sequence[Layer], sources: dict[str, list[str | None]], prop: Propagation, task: str
) -> list[Issue]:
    out: list[Issue] = []
    by_name = {lay.name: lay for lay in order}
    for lay in order:
        srcs = [by_name.get(s.split("/")[0]) for s in sources.get(lay.name, []) if s]
        if lay.is_output_layer and srcs and srcs[0] is not None:
            prev, kind = srcs[0], getattr(lay, "task", None)
            is_softmax = "softmax" in (prev.matlab_name or "").lower()
            if kind == "classification" and not is_softmax:
                out.append(
                    error(
                        [lay.name, prev.name],
                        f"Classification layer '{lay.name}' must be preceded by a "
                        f"softmax layer, but '{prev.name}' ({prev.type_name}) comes before it. Insert "
                        "softmaxLayer between them.",
                    )
                )
            if kind == "regression" and is_softmax:
                out.append(
                    error(
                        [lay.name, prev.name],
                        f"Regression layer '{lay.name}' is preceded by softmax "
                        f"layer '{prev.name}': softmax squeezes the outputs into probabilities that sum "
                        "to 1, which a regression cannot fit. Remove the softmax layer.",
                    )
                )
        if lay.is_recurrent:
            for up in _upstream_recurrent(lay.name, by_name, sources):
                if _mode(up) == "last":
                    out.append(
                        error(
                            [lay.name, up.name],
                            f"'{lay.name}' ({lay.type_name}) is fed by '{up.name}', "
                            f"whose OutputMode is 'last': '{up.name}' passes on only the last time step, so "
                            f"'{lay.name}' gets no sequence to read. Give every recurrent layer except the "
                            "last OutputMode 'sequence'.",
                        )
                    )
    out.extend(_sequence_task_issues(order, sources, prop, task))
    return out


def _sequence_task_issues(
    order: Sequence[Layer], sources: dict[str, list[str | None]], prop: Propagation, task: str
) -> list[Issue]:
    if not any("T" in (getattr(lay, "data_layout", "") or "") for lay in order if lay.is_input_layer):
        return []
    output = next((lay for lay in order if lay.is_output_layer), None)
    if output is None or not sources.get(output.name) or sources[output.name][0] is None:
        return []
    if task == "auto" and getattr(output, "task", None) != "classification":
        return []
    layout = prop.layouts.get(sources[output.name][0] or "")
    if layout is None:
        return []
    by_name = {lay.name: lay for lay in order}
    rec = _upstream_recurrent(output.name, by_name, sources)
    kind = rec[0].type_name if rec else "recurrent"
    names = [output.name] + [r.name for r in rec]
    declare = (
        "If you want one prediction per time step (sequence-to-sequence), declare it: "
        "analyzeNetwork(layers, task='sequence-to-sequence') or pass the targets Y."
    )
    if "T" in layout and task != "sequence-to-sequence":
        who = f"'{rec[0].name}' is the last {kind} layer and has OutputMode '{_mode(rec[0])}', so " if rec else ""
        msg = (
            f"{who}the network predicts one label per time step (the input of '{output.name}' still has a time "
            f"axis). For sequence-to-label classification the last {kind} layer must use OutputMode 'last'."
        )
        if task == "auto":
            return [warning(names, f"{msg} {declare}")]
        return [error(names, msg)]
    if "T" not in layout and task == "sequence-to-sequence":
        return [
            error(
                names,
                f"The input of '{output.name}' has no time axis, but sequence-to-sequence needs one "
                f"prediction per time step: the last {kind} layer must use OutputMode 'sequence'.",
            )
        ]
    return []


def _propagation_issues(order: Sequence[Layer], sources: dict[str, list[str | None]], prop: Propagation) -> list[Issue]:
    out = []
    by_name = {lay.name: lay for lay in order}
    for name, message in prop.errors:
        lay = by_name[name]
        parts, srcs = [], []
        for port, src in zip(lay.input_names, sources.get(name, [])):
            if src is None:
                continue
            srcs.append(src.split("/")[0])
            dl, ml = _activation_strings(prop.shapes.get(src), prop.layouts.get(src))
            parts.append(f"{port} from '{src.split('/')[0]}' is {dl} [MATLAB {ml}]")
        given = f" ({'; '.join(parts)})" if parts else ""
        out.append(
            error(
                [name, *dict.fromkeys(srcs)],
                f"Layer '{name}' ({lay.type_name}) cannot take its input{given}: {message}",
            )
        )
    return out


class NetworkAnalysis:
    """What :func:`analyzeNetwork` found (MATLAB ``NetworkAnalysis``).

    Attributes:
        layers / LayerInfo: list of :class:`LayerInfo`, in execution order.
        issues / Issues: list of :class:`Issue`.
        total_learnables: number of learnable values (``TotalLearnables`` is
            NaN when there are errors, as in MATLAB).
        nonfinite: where NaN/Inf first appeared with the example data ``X``
            (a :class:`dltk.introspect.NonFinite`) or None.
    """

    def __init__(self, layers: list[LayerInfo], issues: list[Issue], nonfinite: Any = None) -> None:
        self.layers = layers
        self.issues = issues
        self.nonfinite = nonfinite

    @property
    def LayerInfo(self) -> list[LayerInfo]:  # noqa: N802
        return self.layers

    @property
    def Issues(self) -> list[Issue]:  # noqa: N802
        return self.issues

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    @property
    def total_learnables(self) -> int:
        return sum(r.num_learnables for r in self.layers)

    @property
    def TotalLearnables(self) -> float:  # noqa: N802
        return math.nan if self.errors else float(self.total_learnables)

    def __str__(self) -> str:
        head = ["#", "Name", "Type", "Activations", "MATLAB", "Learnables", "Description"]
        rows = [
            [
                str(r.index),
                r.name,
                r.type,
                r.activation,
                r.activation_matlab,
                ", ".join(f"{k} {v}" for k, v in r.learnables.items())
                + (f" ({r.num_learnables:,})" if r.num_learnables else "-"),
                r.description,
            ]
            for r in self.layers
        ]
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [
            f"analyzeNetwork: {len(self.layers)} layers, {self.total_learnables:,} learnables, "
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)",
            "",
            fmt.format(*head).rstrip(),
            *(fmt.format(*r).rstrip() for r in rows),
        ]
        if self.nonfinite is not None:
            lines += ["", f"First NaN/Inf with the example data: {self.nonfinite}"]
        lines += ["", "Issues:" if self.issues else "No issues found."]
        lines += [f"  {i}" for i in self.issues]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{r.index}</td><td><b>{escape(r.name)}</b><br><small>{escape(r.description)}</small></td>"
            f"<td>{escape(r.type)}</td><td>{escape(r.activation)}</td><td>{escape(r.activation_matlab)}</td>"
            f"<td>{escape(', '.join(f'{k} {v}' for k, v in r.learnables.items()))}</td>"
            f"<td>{r.num_learnables:,}</td></tr>"
            for r in self.layers
        )
        color = {"error": "#c00", "warning": "#b60"}
        issues = "".join(
            f"<li style='color:{color[i.severity]}'><b>{i.severity}</b> "
            f"{escape(', '.join(i.layers))}: {escape(i.message)}</li>"
            for i in self.issues
        )
        nf = f"<p>First NaN/Inf: {escape(str(self.nonfinite))}</p>" if self.nonfinite is not None else ""
        return (
            "<b>Network analysis</b>: "
            f"{len(self.layers)} layers, {self.total_learnables:,} learnables"
            "<table class='dltk-analysis'><tr><th>#</th><th>Name</th><th>Type</th><th>Activations</th>"
            "<th>MATLAB</th><th>Learnable sizes</th><th>Learnables</th></tr>"
            + rows
            + "</table>"
            + nf
            + (f"<ul>{issues}</ul>" if issues else "<p>No issues found.</p>")
        )


def _from_array(items: Sequence[Any], issues: list[Issue]) -> tuple[list[Layer], list[tuple[str, str]]]:
    bad = [f"element {i + 1} ({type(v).__name__})" for i, v in enumerate(items) if not isinstance(v, Layer)]
    if bad:
        issues.append(error([], f"The layer array holds things that are not dltk layers: {', '.join(bad)}."))
    layers = copy.deepcopy([v for v in items if isinstance(v, Layer)])
    for i, lay in enumerate(layers):
        if lay.is_input_layer and i > 0:
            issues.append(
                error(
                    [lay.label],
                    f"An input layer must be first in the layer array; '{lay.label}' is at position {i + 1}.",
                )
            )
        if lay.is_output_layer and i < len(layers) - 1:
            issues.append(
                error(
                    [lay.label],
                    f"An output layer must be last in the layer array; '{lay.label}' is "
                    f"at position {i + 1} of {len(layers)}.",
                )
            )
    for old, new in make_unique(layers):
        issues.append(warning([new], f"The name {old!r} is used more than once; one layer was renamed to {new!r}."))
    assign_names(layers)
    conns = [
        (f"{a.name}/{a.output_names[0]}", f"{b.name}/{b.input_names[0]}")
        for a, b in zip(layers, layers[1:])
        if a.output_names and b.input_names
    ]
    return layers, conns


def _rows(order: Sequence[Layer], prop: Propagation) -> list[LayerInfo]:
    rows = []
    for i, lay in enumerate(order, 1):
        key = f"{lay.name}/{out_ports(lay)[0]}"
        dl, ml = _activation_strings(prop.shapes.get(key), prop.layouts.get(key))
        if getattr(lay, "data_layout", None) == "ROI":  # regions, not observations
            dl, ml = "(R, 5) ROI rows", "R×5"
        learn, n = _learnables(lay)
        rows.append(LayerInfo(i, lay.name, lay.type_name, lay.description(), dl, ml, prop.layouts.get(key), learn, n))
    return rows


def analyzeNetwork(
    net: Any, X: Any = None, *, Y: Any = None, task: str = "auto", lengths: Any = None
) -> NetworkAnalysis:
    """MATLAB ``analyzeNetwork``: check a network and describe its layers.

    Args:
        net: a layer array (list), a :class:`LayerGraph` or a :class:`Network`.
            Arrays and graphs are analysed on copies (your layers stay as they are).
        X: optional example data (as :meth:`Network.forward` takes it); the
            network is then run once under :func:`dltk.record` and the first
            layer/signal/time step with NaN or Inf is reported.
        Y: optional targets, used only to tell sequence-to-label (one label
            per observation) from sequence-to-sequence (one per time step).
        task: ``'auto'``, ``'sequence-to-label'`` or ``'sequence-to-sequence'``
            (see the module docstring). Default: ``'auto'``.
        lengths: sequence lengths for a padded ``X``.

    Returns:
        a :class:`NetworkAnalysis` (prints as a table; rich table in notebooks).

    Example:
        >>> a = dltk.analyzeNetwork([dltk.featureInputLayer(4), dltk.fullyConnectedLayer(3)])
        >>> a.ok, a.total_learnables
        (True, 15)
    """
    task = choice("analyzeNetwork", "task", task, TASKS)
    if task == "auto" and Y is not None:
        task = _infer_task(Y)
    issues: list[Issue] = []
    rows: list[LayerInfo] = []
    nonfinite = None
    try:
        run_net = net if isinstance(net, Network) else None
        if isinstance(net, Network):
            layers, conns = net.layers, net.connections
        elif isinstance(net, LayerGraph):
            layers, conns = copy.deepcopy(net.layers), net.connections
        else:
            layers, conns = _from_array([net] if isinstance(net, Layer) else list(net), issues)
        issues += structural_issues(layers, conns)
        order, _ = topological_order(layers, conns)
        sources = sources_of(order, conns)
        if run_net is not None:
            prop = Propagation(net._example_shapes, net._port_layouts, net._in_layouts)
        else:
            prop = propagate(order, sources, stop=False)
        issues += _propagation_issues(order, sources, prop)
        issues += _semantic_issues(order, sources, prop, task)
        if not any(lay.is_output_layer for lay in layers):
            issues.append(
                warning(
                    [],
                    "The network has no output layer: it can predict but trainNetwork cannot train "
                    "it. End it with classificationLayer (after softmaxLayer) or regressionLayer.",
                )
            )
        rows = _rows(order, prop)
        if X is not None:
            nonfinite = _check_data(run_net, layers, conns, X, lengths, issues)
    except Exception as e:  # noqa: BLE001 - analyzeNetwork reports, it does not raise
        issues.append(error([], f"analyzeNetwork could not finish the analysis: {type(e).__name__}: {e}"))
    return NetworkAnalysis(rows, issues, nonfinite)


def _check_data(
    run_net: Any, layers: list[Layer], conns: list[tuple[str, str]], X: Any, lengths: Any, issues: list[Issue]
) -> Any:
    # introspect sits beside network (recording <-> network cycle: removed by the recording work)
    from ..introspect import record

    if any(i.severity == "error" for i in issues):
        issues.append(warning([], "The example data X was not run because the network has errors."))
        return None
    try:
        net = run_net if run_net is not None else Network(LayerGraph(layers, conns))
        rec = record(net, X, lengths=lengths)
    except Exception as e:  # noqa: BLE001
        issues.append(error([], f"Running the example data X failed: {e}"))
        return None
    nf = rec.first_nonfinite()
    if nf is not None:
        issues.append(
            warning(
                [nf.layer],
                f"NaN or Inf first appears in {nf}. Look at that layer's inputs and "
                "weights (too large a learning rate, log of 0, division by 0 …).",
            )
        )
    return nf
