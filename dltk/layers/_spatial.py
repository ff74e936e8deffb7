"""Spatial helpers shared by the convolution, pooling, cropping and resizing layers.

Two orders of spatial sizes meet here:

* **MATLAB order** (what options and displays use): height, width(, depth) —
  ``FilterSize [h w d]``, ``Padding [t b l r]`` or ``[t l f; b r k]``.
* **torch order** (what tensors use): (depth,) height, width — the last
  ``n`` axes of a ``BCHW`` / ``BCDHW`` tensor.

Padding is kept as ``(before, after)`` pairs, one per spatial axis, in torch
order; MATLAB's ``'same'`` rule (output ``ceil(in / stride)``, an odd extra row
at the bottom, column at the right, slice at the back) is :func:`same_pads`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import OptionError
from ..options import choice, int_tuple, number

PADDING_VALUES = ("symmetric-include-edge", "symmetric-exclude-edge", "replicate")
Pads = tuple[tuple[int, int], ...]


def to_torch_order(seq: Sequence[Any]) -> tuple[Any, ...]:
    """MATLAB (h, w[, d]) -> torch ((d,) h, w)."""
    return tuple(seq) if len(seq) == 2 else (seq[2], seq[0], seq[1])


def to_matlab_order(seq: Sequence[Any]) -> tuple[Any, ...]:
    """torch ((d,) h, w) -> MATLAB (h, w[, d])."""
    return tuple(seq) if len(seq) == 2 else (seq[1], seq[2], seq[0])


def sizes(where: str, option: str, value: Any, n: int, *, allow_zero: bool = False) -> tuple[int, ...]:
    """A MATLAB size option (scalar or n-vector, MATLAB order) in torch order."""
    return to_torch_order(int_tuple(where, option, value, n, allow_zero=allow_zero))


def parse_padding(where: str, value: Any, n: int, option: str = "Padding") -> str | Pads:
    """``'same'`` or (before, after) pairs in torch order.

    Accepts a scalar p; an n-vector (symmetric per axis, MATLAB order); for
    2-D ``[t b l r]``; for 3-D a 2×3 matrix ``[t l f; b r k]``.
    """
    if isinstance(value, str):
        return choice(where, option, value, ("same",))
    forms = "p, [a b], [t b l r] or 'same'" if n == 2 else "p, [a b c], [t l f; b r k] or 'same'"
    try:
        arr = np.asarray(value)
        flat = [int(v) for v in arr.ravel().tolist()]
        ok = all(float(v) == int(v) and v >= 0 for v in arr.ravel().tolist())
    except (TypeError, ValueError):
        ok, flat, arr = False, [], np.zeros(0)
    if not ok:
        raise OptionError(f"{where}: {option} must be non-negative integers ({forms}), got {value!r}.")
    if len(flat) == 1:
        pairs = [(flat[0], flat[0])] * n
    elif len(flat) == n and arr.ndim <= 1:
        pairs = [(v, v) for v in flat]
    elif n == 2 and len(flat) == 4:
        pairs = [(flat[0], flat[1]), (flat[2], flat[3])]
    elif n == 3 and arr.shape == (2, 3):
        pairs = [(int(arr[0, i]), int(arr[1, i])) for i in range(3)]
    else:
        raise OptionError(f"{where}: {option} must be {forms}, got {value!r}.")
    return to_torch_order(pairs)


def padding_text(pads: str | Pads) -> str:
    """MATLAB's display: ``[0 0 0 0]`` (2-D), ``[0 0 0; 0 0 0]`` (3-D), ``'same'``."""
    if isinstance(pads, str):
        return f"'{pads}'"
    m = to_matlab_order(pads)
    if len(m) == 2:
        return "[" + " ".join(str(v) for pair in m for v in pair) + "]"
    return "[" + " ".join(str(p[0]) for p in m) + "; " + " ".join(str(p[1]) for p in m) + "]"


def padding_matlab(pads: str | Pads) -> Any:
    """MATLAB-shaped ``Padding`` value: ``'same'``, ``[t b l r]`` or 2×3 ``[t l f; b r k]``."""
    if isinstance(pads, str):
        return pads
    m = to_matlab_order(pads)
    if len(m) == 2:
        return [v for pair in m for v in pair]
    return [[p[0] for p in m], [p[1] for p in m]]


def parse_padding_value(where: str, value: Any) -> float | str:
    """``PaddingValue``: a number or one of :data:`PADDING_VALUES`."""
    if isinstance(value, str):
        return choice(where, "PaddingValue", value, PADDING_VALUES)
    return number(where, "PaddingValue", value)


def same_pads(in_sizes: Sequence[int], window: Sequence[int], stride: Sequence[int]) -> Pads:
    """MATLAB ``'same'``: output ``ceil(in/stride)``; the odd extra goes after (bottom/right/back)."""
    out = []
    for n, k, s in zip(in_sizes, window, stride):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        out.append((total // 2, total - total // 2))
    return tuple(out)


def _index_map(n: int, before: int, after: int, mode: str, device: torch.device) -> torch.Tensor:
    """Source index of every position of an axis padded by (before, after)."""
    i = torch.arange(-before, n + after, device=device)
    if mode == "replicate":
        return i.clamp(0, n - 1)
    if mode == "symmetric-include-edge":  # ... 1 0 | 0 1 2 | 2 1 ...
        i = i.remainder(2 * n)
        return torch.where(i >= n, 2 * n - 1 - i, i)
    period = max(2 * (n - 1), 1)  # symmetric-exclude-edge: ... 2 1 | 0 1 2 | 1 0 ...
    i = i.remainder(period)
    return torch.where(i >= n, period - i, i)


def pad(x: torch.Tensor, pads: Pads, value: float | str = 0.0) -> torch.Tensor:
    """Pad the last ``len(pads)`` axes of ``x`` by (before, after) pairs (torch order)."""
    if not any(b or a for b, a in pads):
        return x
    if not isinstance(value, str):
        flat = [v for b, a in reversed(pads) for v in (b, a)]  # F.pad wants last axis first
        return F.pad(x, flat, value=float(value))
    n = len(pads)
    for k, (b, a) in enumerate(pads):
        axis = x.ndim - n + k
        if b or a:
            x = x.index_select(axis, _index_map(x.shape[axis], b, a, value, x.device))
    return x


def fold_time(x: torch.Tensor, layout: str) -> torch.Tensor:
    """(B, T, C, …) -> (B·T, C, …) for image sequences; other layouts unchanged."""
    return x.flatten(0, 1) if layout == "BTCHW" else x


def unfold_time(y: torch.Tensor, x: torch.Tensor, layout: str) -> torch.Tensor:
    """Inverse of :func:`fold_time` given the original input ``x``."""
    return y.unflatten(0, x.shape[:2]) if layout == "BTCHW" else y


def times(values: Sequence[int]) -> str:
    """``5×5`` from MATLAB-ordered sizes."""
    return "×".join(str(v) for v in values)


def vector(values: Sequence[Any]) -> str:
    """``[1 1]`` from MATLAB-ordered values."""
    return "[" + " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) + "]"


def effective(window: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """Extent of a dilated window: ``dil·(k−1)+1``."""
    return tuple(d * (k - 1) + 1 for k, d in zip(window, dilation))


class SlidingWindowOptions:
    """MATLAB properties and layout rule shared by convolution and pooling layers.

    Needs ``stride`` and ``padding`` (torch order, or ``'same'``) and ``layouts`` on the layer.
    """

    stride: tuple[int, ...]
    padding: Any
    layouts: tuple[str, ...]

    @property
    def Stride(self) -> tuple[int, ...]:  # noqa: N802
        """MATLAB ``Stride`` in MATLAB's axis order."""
        return to_matlab_order(self.stride)

    @property
    def PaddingMode(self) -> str:  # noqa: N802
        return "same" if self.padding == "same" else "manual"

    @property
    def PaddingSize(self) -> Any:  # noqa: N802
        """MATLAB ``PaddingSize``: [t b l r] (2-D) or 2×3 [t l f; b r k] (3-D); 'same' until an input is seen."""
        return padding_matlab(self.padding)

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return input_layouts[0] if input_layouts and input_layouts[0] in self.layouts else self.layouts[0]
