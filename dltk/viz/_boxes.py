"""Picking and outlining the boxes of a drawn graph, shared by :class:`.network_graph.NetworkGraph`
(one box per layer) and :class:`.module_tree.ModuleTree` (one box per module of a plain model).

A user of :class:`BoxPicker` draws its boxes and sets ``boxes`` (name → patch), ``positions``
(name → the box's anchor in data coordinates), ``selection`` (the hidden outline patch) and
``selected``; it names what a box stands for in ``box_kind`` (``"layer"``, ``"module"``) and says
where the outline goes around a box in :meth:`ring_origin`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import OptionError


class BoxPicker:
    """Which box a mouse event hits, and the outline of the selected box."""

    #: what one box stands for, in messages ("layer", "module")
    box_kind: ClassVar[str] = "box"
    boxes: dict[str, Any]
    positions: dict[str, tuple[float, float]]
    selection: Any
    selected: str | None

    def ring_origin(self, x: float, y: float) -> tuple[float, float]:
        """Lower-left corner of the selection outline around the box anchored at (x, y)."""
        raise NotImplementedError

    def layer_at(self, event: Any) -> str | None:
        """The name of the box that contains a mouse event (display coordinates), or None."""
        for n, box in self.boxes.items():
            if box.contains(event)[0]:
                return n
        return None

    def select(self, name: str | None) -> None:
        """Outline one box (the thick ring :attr:`selection`) as the selected one; None clears it."""
        if name is not None and name not in self.boxes:
            kind = self.box_kind
            raise OptionError(f"{type(self).__name__}.select: no {kind} {name!r}; {kind}s: {', '.join(self.boxes)}.")
        self.selected = name
        if name is None:
            self.selection.set_visible(False)
            return
        x0, y0 = self.ring_origin(*self.positions[name])
        self.selection.set_x(x0)
        self.selection.set_y(y0)
        self.selection.set_visible(True)
