"""The network as a data-flow graph, in the style of MATLAB's analyzeNetwork.

Layers are boxes (name, type), laid out top to bottom by depth (a simple
layered layout that also handles DAGs); each edge carries the activation size
in dltk and MATLAB notation, e.g. ``(B, T, 100)`` / ``100×B×T CBT``; ports of
multi-input/-output layers are labelled. With a recording the boxes can be
coloured by a statistic of each layer's output, and layers holding NaN/Inf
are outlined in red.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from ..errors import OptionError
from . import style
from . import style as S
from ._boxes import BoxPicker

__all__ = ["NetworkGraph", "network_graph", "layer_statistics", "graph_layout"]

_BOX_W, _BOX_H, _DX, _DY = 2.8, 0.78, 3.4, 1.55
_CATEGORY_COLORS = {  # first matching word of the layer type -> face colour
    "input": "#d9f0d3",
    "lstm": "#cfe2f3",
    "gru": "#cfe2f3",
    "convolution": "#fde0c5",
    "fully": "#e4d7f5",
    "normalization": "#f6e8b1",
    "pooling": "#d0ece7",
    "dropout": "#eeeeee",
    "softmax": "#f8d7da",
    "classification": "#f4c7c3",
    "regression": "#f4c7c3",
}
COLOR_BY = (None, "mean", "std", "saturation")


def _as_network(net: Any) -> Any:
    if isinstance(net, (list, tuple)):
        from ..network import Network

        return Network(list(net))
    if not hasattr(net, "connections") or not hasattr(net, "layers"):
        raise OptionError(
            f"dltk.viz.network_graph: expected a Network or a layer array (list), got {type(net).__name__}."
        )
    return net


def graph_layout(names: list[str], connections: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Layered layout: depth = longest path from an input; order within a level by the parents' mean x."""
    parents: dict[str, list[str]] = {n: [] for n in names}
    for src, dst in connections:
        s, d = src.split("/")[0], dst.split("/")[0]
        if d in parents and s in parents:
            parents[d].append(s)
    depth: dict[str, int] = {}
    for n in names:  # names are in topological order
        depth[n] = 1 + max((depth[p] for p in parents[n] if p in depth), default=-1)
    levels: dict[int, list[str]] = {}
    for n in names:
        levels.setdefault(depth[n], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for lev in sorted(levels):
        row = levels[lev]
        row.sort(key=lambda n: np.mean([pos[p][0] for p in parents[n]]) if parents[n] else 0.0)
        for k, n in enumerate(row):
            pos[n] = ((k - (len(row) - 1) / 2) * _DX, -lev * _DY)
    return pos


def _saturation(sigs: Any, type_name: str) -> float | None:
    """Fraction of saturated values: gates within 0.02 of 0 or 1, tanh-like values beyond ±0.98."""
    fracs = []
    for name, v in sigs.items():
        if not isinstance(v, np.ndarray):
            v = v.detach().double().cpu().numpy()
        if name.endswith("_gate"):
            fracs.append(np.mean((v < 0.02) | (v > 0.98)))
        elif name.endswith(("cell_candidate", "candidate_state")):
            fracs.append(np.mean(np.abs(v) > 0.98))
    if not fracs and "output" in sigs and any(k in type_name.lower() for k in ("tanh", "sigmoid", "softmax")):
        out = sigs["output"]
        out = out if isinstance(out, np.ndarray) else out.detach().double().cpu().numpy()
        lo = -1.0 if "tanh" in type_name.lower() else 0.0
        fracs.append(np.mean((out < lo + 0.02) | (out > 0.98)))
    return float(np.mean(fracs)) if fracs else None


def layer_statistics(rec: Any, layer: str, type_name: str = "") -> dict[str, Any]:
    """Statistics of one recorded layer: ``mean``, ``std`` (of the output),
    ``saturation`` (see the module docstring; None when not meaningful),
    ``nonfinite`` (any NaN/Inf in any signal)."""
    sigs = rec[layer]
    out = sigs["output"] if "output" in sigs else next(iter(sigs.values()))
    v = out.detach().double().cpu().numpy()
    fin = v[np.isfinite(v)]
    nonfinite = any(
        not bool(np.isfinite(s.detach().cpu().numpy()).all()) for s in sigs.values() if s.is_floating_point()
    )
    return {
        "mean": float(fin.mean()) if fin.size else float("nan"),
        "std": float(fin.std()) if fin.size else float("nan"),
        "saturation": _saturation({k: s for k, s in sigs.items() if s.is_floating_point()}, type_name),
        "nonfinite": nonfinite,
    }


def _port_sizes(net: Any) -> dict[str, tuple[str, str]]:
    """``{"layer/port": (dltk size, MATLAB size)}`` with symbolic batch and time."""
    shapes = getattr(net, "_example_shapes", None) or {}
    layouts = getattr(net, "_port_layouts", None) or {}
    out = {k: S.symbolic_shape(tuple(v), layouts.get(k)) for k, v in shapes.items() if v is not None}
    if out:
        return out
    from ..network import analyzeNetwork

    for row in analyzeNetwork(net).layers:
        lay = net.layer(row.name)
        port = lay.output_names[0] if lay.output_names else "out"
        out[f"{row.name}/{port}"] = (row.activation, row.activation_matlab)
    return out


def _port_offset(ports: Any, port: str) -> float:
    """Horizontal offset of a port on its box edge (ports spread evenly)."""
    ports = list(ports)
    if len(ports) < 2 or port not in ports:
        return 0.0
    return (ports.index(port) - (len(ports) - 1) / 2) * (_BOX_W * 0.8 / len(ports))


class NetworkGraph(BoxPicker):
    """Data-flow graph of a network (see the module docstring).

    Args:
        net: a :class:`dltk.network.Network` or a layer array (list of layers).
        rec: optional :class:`dltk.Recording` of the network for colouring.
        color_by: ``None`` (colour by layer family), ``'mean'``, ``'std'`` or
            ``'saturation'`` of each layer's recorded output. Default: None.
        sizes: label edges with activation sizes. Default: True.

    Attributes:
        fig, ax, boxes (``{layer: FancyBboxPatch}``), labels (``{layer: Text}``),
        edges (``{(src_port, dst_port): FancyArrowPatch}``), edge_labels (same
        keys -> ``Text``), port_labels (list of ``Text``), positions, stats, selection (the ring
        around the selected box)
        (``{layer: dict}`` when ``rec`` is given), selected.
    """

    box_kind = "layer"

    def __init__(
        self,
        net: Any,
        rec: Any = None,
        color_by: str | None = None,
        *,
        sizes: bool = True,
        figsize: tuple[float, float] | None = None,
        dpi: float = 100,
    ) -> None:
        if color_by not in COLOR_BY:
            raise OptionError(f"dltk.viz.network_graph: invalid color_by {color_by!r}. Allowed values: {COLOR_BY}.")
        if color_by is not None and rec is None:
            raise OptionError(
                f"dltk.viz.network_graph: color_by={color_by!r} needs a recording: rec=dltk.record(net, X)."
            )
        self.net = net = _as_network(net)
        names = list(net.layer_names)
        conns = list(net.connections)
        self.positions = graph_layout(names, conns)
        self._figure(color_by, figsize, dpi)
        self.stats = {
            n: layer_statistics(rec, n, net.layer(n).type_name) for n in names if rec is not None and n in rec
        }
        self._draw_boxes(names, self._faces(names, color_by))
        port_sizes = _port_sizes(net) if sizes else {}
        self.edges, self.edge_labels, self.port_labels = {}, {}, []
        for src, dst in conns:
            self._draw_edge(src, dst, port_sizes)
        kind = "DAG" if not getattr(net, "is_series", True) else "layer array"
        what = f" — coloured by {color_by} of each layer's output" if color_by else ""
        self.title = self.fig.suptitle(f"{kind}: {len(names)} layers{what}", fontsize=10)
        self.selected: str | None = None
        self.selection = FancyBboxPatch(
            (0, 0),
            _BOX_W + 0.2,
            _BOX_H + 0.2,
            boxstyle="round,pad=0.05",
            fill=False,
            ec="#0050ff",
            lw=3.0,
            zorder=5,
            visible=False,
        )
        self.ax.add_patch(self.selection)
        style.fit_column(self.fig)  # a wide graph (parallel branches) is drawn smaller, never cut

    def _figure(self, color_by: str | None, figsize: tuple[float, float] | None, dpi: float) -> None:
        """The figure and axes, sized to the graph's layout (room on the right for a colour bar)."""
        pos = self.positions
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        width = max(xs) - min(xs) + _BOX_W + 3.0
        height = max(ys) - min(ys) + _BOX_H + 1.2
        self.fig = S.new_figure(figsize or (max(5.0, 0.9 * width + 1.2), max(2.5, 0.95 * height + 0.6)), dpi=dpi)
        self.ax = ax = self.fig.add_axes((0.0, 0.0, 0.8 if color_by else 1.0, 0.94))
        ax.set_xlim(min(xs) - _BOX_W / 2 - 1.0, max(xs) + _BOX_W / 2 + 2.4)
        ax.set_ylim(min(ys) - _BOX_H / 2 - 0.4, _BOX_H / 2 + 0.4)
        ax.set_axis_off()

    def _draw_boxes(self, names: list[str], face: dict[str, Any]) -> None:
        """One box per layer: its name and type; a red frame where the recording has NaN/Inf."""
        ax, pos = self.ax, self.positions
        self.boxes, self.labels = {}, {}
        for n in names:
            lay = self.net.layer(n)
            x, y = pos[n]
            bad = self.stats.get(n, {}).get("nonfinite", False)
            box = FancyBboxPatch(
                (x - _BOX_W / 2, y - _BOX_H / 2),
                _BOX_W,
                _BOX_H,
                boxstyle="round,pad=0.05",
                fc=face[n],
                ec=S.NONFINITE_COLOR if bad else "#555555",
                lw=3.0 if bad else 1.2,
                zorder=2,
                picker=True,
            )
            box.set_gid(n)
            ax.add_patch(box)
            self.boxes[n] = box
            self.labels[n] = ax.text(
                x, y + 0.12, n, ha="center", va="center", fontsize=8.5, zorder=3, fontweight="bold"
            )
            ax.text(x, y - 0.17, lay.type_name, ha="center", va="center", fontsize=7.5, zorder=3, color="#333333")

    def _draw_edge(self, src: str, dst: str, port_sizes: dict[str, tuple[str, str]]) -> None:
        """One connection: an arrow (around the boxes in between for a skip), its size and port labels."""
        ax, pos, net = self.ax, self.positions, self.net
        s, sp = (src.split("/") + ["out"])[:2]
        d, dp = (dst.split("/") + ["in"])[:2]
        (x0, y0), (x1, y1) = pos[s], pos[d]
        x0 += _port_offset(net.layer(s).output_names, sp)
        x1 += _port_offset(net.layer(d).input_names, dp)
        skip = abs(y0 - y1) > _DY * 1.5
        if skip:  # route a skip connection around the boxes in between, on the right
            x0, x1 = pos[s][0], pos[d][0]
            xr = max(x0, x1) + _BOX_W / 2 + 0.5
            y1 += _port_offset(net.layer(d).input_names, dp) * 0.2
            end = (x1 + _BOX_W / 2 + 0.08, y1)
            path = Path([(x0 + _BOX_W / 2 + 0.05, y0), (xr, y0), (xr, y1), end])
            arrow = FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=12, lw=1.2, color="#333333", zorder=1)
        else:
            end = (x1, y1 + _BOX_H / 2 + 0.05)
            arrow = FancyArrowPatch(
                (x0, y0 - _BOX_H / 2 - 0.05),
                end,
                arrowstyle="-|>",
                mutation_scale=12,
                lw=1.2,
                color="#333333",
                zorder=1,
            )
        ax.add_patch(arrow)
        self.edges[(src, dst)] = arrow
        size = port_sizes.get(f"{s}/{sp}")
        if size:
            mx, my = (max(x0, x1) + _BOX_W / 2 + 0.45 if skip else (x0 + x1) / 2), (y0 + y1) / 2
            self.edge_labels[(src, dst)] = ax.text(
                mx + 0.08,
                my,
                f"{size[0]}\n{size[1]}",
                fontsize=6.5,
                ha="left",
                va="center",
                color="#1a1a1a",
                zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )
        if len(net.layer(d).input_names) > 1:
            px, py = (end[0] + 0.05, end[1] + 0.04) if skip else (x1 + 0.05, y1 + _BOX_H / 2 + 0.08)
            self.port_labels.append(ax.text(px, py, dp, fontsize=7, color="#0050a0", ha="left", va="bottom", zorder=4))
        if len(net.layer(s).output_names) > 1:
            self.port_labels.append(
                ax.text(
                    x0 + 0.05,
                    y0 - _BOX_H / 2 - 0.08,
                    sp,
                    fontsize=7,
                    color="#0050a0",
                    ha="left",
                    va="top",
                    zorder=4,
                )
            )

    def _faces(self, names: list[str], color_by: str | None) -> dict[str, Any]:
        if color_by is None:
            out = {}
            for n in names:
                t = self.net.layer(n).type_name.lower()
                out[n] = next((c for k, c in _CATEGORY_COLORS.items() if k in t), "#ffffff")
            return out
        vals = {n: self.stats.get(n, {}).get(color_by) for n in names}
        fin = [v for v in vals.values() if v is not None and np.isfinite(v)]
        if color_by == "mean":
            lim = max([abs(v) for v in fin] + [1e-6])
            norm, cmap = Normalize(-lim, lim), S.ACTIVATION_CMAP
        else:
            import matplotlib as mpl

            norm = Normalize(0, 1 if color_by == "saturation" else max(fin + [1e-6]))
            cmap = mpl.colormaps["Oranges"]
        cax = self.fig.add_axes((0.82, 0.15, 0.025, 0.65))
        self.colorbar = self.fig.colorbar(ScalarMappable(norm, cmap), cax=cax)
        self.colorbar.set_label(f"{color_by} of the layer output (white: not applicable)", fontsize=8)
        return {n: (cmap(norm(v)) if v is not None and np.isfinite(v) else "#ffffff") for n, v in vals.items()}

    def ring_origin(self, x: float, y: float) -> tuple[float, float]:
        return x - _BOX_W / 2 - 0.1, y - _BOX_H / 2 - 0.1


def network_graph(net: Any, rec: Any = None, color_by: str | None = None, **kwargs: Any) -> Figure:
    """Draw a network as a data-flow graph (MATLAB analyzeNetwork style).

    Each box is a layer (name and MATLAB type), each arrow a connection
    ``src/port -> dst/port`` labelled with the activation size the source
    port produces, in dltk notation ``(B, T, C)`` and MATLAB's ``C×B×T CBT``
    (B batch, T time, C channels; spatial sizes as numbers).

    Args:
        net: a :class:`dltk.network.Network` or a layer array (list).
        rec: a recording of ``net`` for colouring and the non-finite check. Default: None.
        color_by: ``None`` (layer family), ``'mean'``, ``'std'`` or
            ``'saturation'`` (gates within 0.02 of 0 or 1, tanh values beyond
            ±0.98) of each layer's recorded output. Default: None.
        **kwargs: ``sizes`` (label edges, default True), ``figsize``, ``dpi``.

    MATLAB: the graph panel of ``analyzeNetwork``/Deep Network Designer.

    Returns:
        The figure (``fig.dltk_view`` is the :class:`NetworkGraph`).

    Example:
        >>> rec = dltk.record(net, X)
        >>> dltk.viz.network_graph(net, rec, color_by="saturation")
    """
    view = NetworkGraph(net, rec, color_by, **kwargs)
    view.fig.dltk_view = view  # type: ignore[attr-defined]
    return view.fig
