"""The module tree of a plain PyTorch model, in call order (the explorer's map of a student's model).

A :class:`dltk.Network` is drawn as a data-flow graph (:class:`~dltk.viz.NetworkGraph`); a plain
``torch.nn.Module`` has no declared connections, so its recorded modules are drawn as a list of
boxes, top to bottom in the order their forward passes started, indented by their depth in the
module tree (``encoder.lstm`` one step right of ``encoder``). Each box shows the qualified name
and the class (``LSTM``, ``Conv2d`` …); black boxes (modules dltk records only the output of)
are drawn grey and say so.
"""

from __future__ import annotations

from typing import Any

from matplotlib.patches import FancyBboxPatch
from torch import nn

from ..errors import OptionError
from . import style
from . import style as S
from ._boxes import BoxPicker

__all__ = ["ModuleTree", "is_plain_module", "call_order_record"]

_BOX_W, _BOX_H, _DY, _INDENT = 3.6, 0.62, 0.82, 0.45


class ModuleTree(BoxPicker):
    """Boxes of a recorded plain module, one row per module in call order.

    Args:
        rec: a :class:`dltk.Recording` of a plain ``torch.nn.Module``.
        order: module names in call order (default: the recording's order).
        dpi: figure resolution. Default: 100.

    Attributes:
        fig, ax, names (the rows, top to bottom), boxes (``{name: FancyBboxPatch}``),
        labels (``{name: Text}``), positions (``{name: (x, y)}``, box centres),
        selection (the ring around the selected box), selected.

    The same interface as :class:`dltk.viz.NetworkGraph` for :meth:`select` and
    :meth:`layer_at`, so :class:`dltk.widgets.NetworkExplorer` takes either.
    """

    box_kind = "module"

    def __init__(self, rec: Any, order: list[str] | None = None, *, dpi: float = 100) -> None:
        names = [n for n in (order or list(rec)) if n in rec]
        names += [n for n in rec if n not in names]
        if not names:
            raise OptionError("dltk.viz.ModuleTree: the recording has no modules.")
        self.names = names
        depth = {n: n.count(".") for n in names}
        self.positions = {n: (depth[n] * _INDENT, -k * _DY) for k, n in enumerate(names)}
        width = _BOX_W + max(depth.values()) * _INDENT + 0.6
        height = len(names) * _DY + 0.6
        self.fig = S.new_figure((max(3.6, 0.9 * width), max(1.6, 0.62 * height)), dpi=dpi)
        self.ax = ax = self.fig.add_axes((0.0, 0.0, 1.0, 0.93))
        ax.set_xlim(-0.2, width - 0.2)
        ax.set_ylim(-(len(names) - 1) * _DY - _BOX_H / 2 - 0.2, _BOX_H / 2 + 0.2)
        ax.set_axis_off()
        opaque = set(getattr(rec, "unrecognised", ()))
        kinds = getattr(rec, "kinds", {})
        self.boxes: dict[str, FancyBboxPatch] = {}
        self.labels: dict[str, Any] = {}
        for n in names:
            x, y = self.positions[n]
            box = FancyBboxPatch(
                (x, y - _BOX_H / 2),
                _BOX_W,
                _BOX_H,
                boxstyle="round,pad=0.03",
                fc="#eeeeee" if n in opaque else "#cfe2f3",
                ec="#555555",
                lw=1.0,
                zorder=2,
                picker=True,
            )
            box.set_gid(n)
            ax.add_patch(box)
            self.boxes[n] = box
            kind = kinds.get(n, "")
            what = f"{kind}, output only" if n in opaque else kind
            self.labels[n] = ax.text(x + 0.12, y, n, ha="left", va="center", fontsize=8, fontweight="bold", zorder=3)
            ax.text(x + _BOX_W - 0.1, y, what, ha="right", va="center", fontsize=7, color="#333333", zorder=3)
        self.title = self.fig.suptitle(f"module tree in call order: {len(names)} modules", fontsize=9)
        self.selected: str | None = None
        self.selection = FancyBboxPatch(
            (0, 0), _BOX_W + 0.1, _BOX_H + 0.1, boxstyle="round,pad=0.03", fill=False, ec="#0050ff", lw=2.5, zorder=5
        )
        self.selection.set_visible(False)
        ax.add_patch(self.selection)
        style.fit_column(self.fig)

    def ring_origin(self, x: float, y: float) -> tuple[float, float]:
        return x - 0.05, y - _BOX_H / 2 - 0.05


def is_plain_module(obj: Any) -> bool:
    """A ``torch.nn.Module`` that is neither a dltk layer nor a dltk network (a student's own model)."""
    from ..layers import Layer

    if not isinstance(obj, nn.Module) or isinstance(obj, Layer):
        return False
    return not (hasattr(obj, "connections") and hasattr(obj, "layer_names"))


def call_order_record(model: nn.Module, inputs: tuple[Any, ...], **kwargs: Any) -> tuple[Any, list[str]]:
    """``dltk.record(model, *inputs, **kwargs)`` and the qualified module names in the order their forwards began.

    The pre-hooks that note the order exist only during this one pass (removed also when it raises).
    """
    from ..introspect import record

    order: list[str] = []
    handles = []
    try:
        for qual, m in model.named_modules():
            if qual:
                handles.append(m.register_forward_pre_hook(lambda mod, args, q=qual: order.append(q)))
        rec = record(model, *inputs, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return rec, list(dict.fromkeys(order))
