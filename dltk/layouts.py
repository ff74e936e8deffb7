"""Data layouts: dltk (batch first, like PyTorch) and MATLAB format letters.

=======================  ==================  =============
data                     dltk tensor          MATLAB format
=======================  ==================  =============
features                 (B, C)    ``BC``     ``CB``
vector sequence          (B, T, C) ``BTC``    ``CBT``
2-D image                (B, C, H, W)         ``SSCB``
3-D image                (B, C, D, H, W)      ``SSSCB``
2-D image sequence       (B, T, C, H, W)      ``SSCBT``
=======================  ==================  =============

MATLAB stores a 2-D image mini-batch as ``h×w×c×N`` and a 3-D one as
``h×w×d×c×N``; the helpers below print sizes both ways so that every message
reads naturally to a PyTorch user and to a MATLAB user.
"""

from __future__ import annotations

from collections.abc import Sequence

#: dltk layout -> MATLAB dlarray format
MATLAB_FORMAT = {
    "BC": "CB",
    "BTC": "CBT",
    "BCHW": "SSCB",
    "BCDHW": "SSSCB",
    "BTCHW": "SSCBT",
}

#: dltk layout -> order of the dltk axes as MATLAB lists them (S…, C, B, T)
_MATLAB_ORDER = {
    "BC": "CB",
    "BTC": "CBT",
    "BCHW": "HWCB",
    "BCDHW": "HWDCB",
    "BTCHW": "HWCBT",
}

#: every dltk layout (rank 5 is a 3-D image unless a network said ``BTCHW``); the
#: layouts an element-wise layer accepts
ANY_LAYOUT = ("BC", "BTC", "BCHW", "BCDHW", "BTCHW")

#: the usual layout for a tensor of a given rank (rank 5 is ambiguous: a 3-D
#: image unless a layer was told it sees an image sequence)
DEFAULT_LAYOUT = {2: "BC", 3: "BTC", 4: "BCHW", 5: "BCDHW"}

DESCRIPTION = {
    "BC": "features",
    "BTC": "vector sequence",
    "BCHW": "2-D image",
    "BCDHW": "3-D image",
    "BTCHW": "2-D image sequence",
}


def default_layout(ndim: int) -> str | None:
    """The layout dltk assumes for a tensor with ``ndim`` dimensions."""
    return DEFAULT_LAYOUT.get(ndim)


def matlab_format(layout: str) -> str:
    """MATLAB format letters of a dltk layout, e.g. ``"BTC" -> "CBT"``."""
    return MATLAB_FORMAT.get(layout, "U" * len(layout))


def shape_str(shape: Sequence[int | str | None]) -> str:
    """``(4, 20, 12)``; ``None`` entries print as their letter placeholder."""
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"


def matlab_size(shape: Sequence[int | str | None], layout: str) -> str:
    """MATLAB's size string for a dltk shape, e.g. ``(4, 20, 12)`` BTC -> ``12×4×20``."""
    if len(shape) != len(layout) or layout not in _MATLAB_ORDER:
        return "×".join("?" if s is None else str(s) for s in shape)
    dims = dict(zip(layout, shape))
    return "×".join("?" if dims[a] is None else str(dims[a]) for a in _MATLAB_ORDER[layout])


def describe(shape: Sequence[int | str | None], layout: str | None = None) -> str:
    """Both notations: ``(4, 20, 12) BTC [MATLAB 12×4×20 CBT]``."""
    layout = layout or default_layout(len(shape))
    if layout is None or len(layout) != len(shape):
        return f"{shape_str(shape)} (rank {len(shape)})"
    return f"{shape_str(shape)} {layout} [MATLAB {matlab_size(shape, layout)} {matlab_format(layout)}]"


def describe_expected(layout: str, sizes: dict[str, int | None] | None = None) -> str:
    """Describe an expected layout with some known sizes, e.g. ``(B, T, 12) BTC [MATLAB 12×B×T CBT]``."""
    sizes = sizes or {}
    shape = [sizes.get(a, a) for a in layout]
    return describe(shape, layout)


def sizes_without_batch(shape: Sequence[int], layout: str) -> tuple[int, ...]:
    """The shape without the batch (and time) axes, in dltk order."""
    return tuple(s for s, a in zip(shape, layout) if a not in "BT")
