"""Pixel-grid helpers shared by the lesson explorers (issue 19's rules for image panels).

* integer ticks at pixel centres (0-based, as dltk indexes), thinned on large grids;
* a visible frame around every image;
* an image whose values are all equal says so in text instead of showing a blank square.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import AxesImage
from matplotlib.text import Text

__all__ = ["pixel_axes", "show_pixels", "constant_note"]

FRAME = "#333333"


def pixel_axes(ax: Axes, h: int, w: int, offset: tuple[int, int] = (0, 0), fontsize: float = 6) -> None:
    """Limits, integer ticks at pixel centres and a frame for an ``h``×``w`` grid.

    ``offset`` (rows, columns) shifts the ticks' labels, e.g. a padded input whose first real pixel
    is at ``(pt, pl)`` keeps the original pixel numbers (padding gets negative ones).
    """
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    for n, off, set_ticks in ((w, offset[1], ax.set_xticks), (h, offset[0], ax.set_yticks)):
        step = 1 if n <= 10 else 2 if n <= 20 else max(1, n // 8)
        ticks = list(range(0, n, step))
        set_ticks(ticks, [str(t - off) for t in ticks])
    ax.tick_params(labelsize=fontsize, length=2, pad=1)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(FRAME)
        spine.set_linewidth(1.5)


def show_pixels(im: AxesImage, values: Any, offset: tuple[int, int] = (0, 0)) -> None:
    """Put ``values`` (h, w) into ``im`` with pixel-centred extent, integer ticks and a frame."""
    values = np.asarray(values)
    h, w = values.shape
    im.set_data(values)
    im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
    pixel_axes(im.axes, h, w, offset)


def constant_note(note: Text, values: Any, what: str) -> bool:
    """Show ``"every <what> is <v>"`` in ``note`` when all finite ``values`` are equal; hide it otherwise.

    Returns True when the values are constant (the image alone would be one flat colour).
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    constant = v.size > 0 and bool(np.all(v == v.flat[0]))
    first = float(v.flat[0]) if v.size else 0.0
    shown = f"{first:.1f}" if first.is_integer() else f"{first:.4g}"
    note.set_text(f"every {what}\nis {shown}" if constant else "")
    note.set_visible(constant)
    return constant
