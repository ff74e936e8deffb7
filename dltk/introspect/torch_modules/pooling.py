"""Pooling modules with the signals of dltk's ``maxPooling2dLayer`` / ``averagePooling2dLayer``.

* MaxPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d: ``indices`` (the switches: flat
  index of each window's winner in the input plane, 0-based, int64, output
  layout — PyTorch's ``return_indices`` convention, what ``MaxUnpool`` takes),
  ``window_max`` (= the output), ``switch_mask`` (how many windows each input
  element wins, input layout).
* AvgPool1d/2d/3d: ``window_mean`` (= the output) and ``window_count`` (the
  number of real, non-padding input elements in each window, (1, 1, …)).
* AdaptiveAvgPool1d/2d/3d: the output only.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import Probe, Recogniser, channel_first, register

_MAX = {nn.MaxPool1d: F.max_pool1d, nn.MaxPool2d: F.max_pool2d, nn.MaxPool3d: F.max_pool3d}
_ADAPTIVE_MAX = {
    nn.AdaptiveMaxPool1d: F.adaptive_max_pool1d,
    nn.AdaptiveMaxPool2d: F.adaptive_max_pool2d,
    nn.AdaptiveMaxPool3d: F.adaptive_max_pool3d,
}
_SPATIAL = {
    nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3,
    nn.AdaptiveMaxPool1d: 1, nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3,
    nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3,
}  # fmt: skip


@register
class MaxPoolModule(Recogniser):
    types = tuple(_MAX) + tuple(_ADAPTIVE_MAX)
    signal_names = ("indices", "window_max", "switch_mask")
    signal_docs = {
        "indices": "flat index (0-based, input plane) of each window's winner, int64, output layout",
        "window_max": "maximum of every window (= the output), output layout",
        "switch_mask": "how many windows each input element wins, input layout",
    }

    def forward(self, probe: Probe, m: nn.Module, x: torch.Tensor) -> Any:
        cls = next(c for c in type(m).__mro__ if c in _MAX or c in _ADAPTIVE_MAX)
        if cls in _MAX:
            y, idx = _MAX[cls](x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True)
        else:
            y, idx = _ADAPTIVE_MAX[cls](x, m.output_size, True)
        n = _SPATIAL[cls]
        lay = channel_first(y) if y.dim() == n + 2 else None
        probe.store("indices", idx, lay)
        probe.store("window_max", y, lay)
        if probe.wants("switch_mask"):
            lead, shape = x.shape[:-n].numel(), x.shape

            def switches(idx: torch.Tensor) -> torch.Tensor:
                flat = idx.reshape(lead, -1)
                wins = torch.zeros(lead, shape[-n:].numel(), dtype=x.dtype, device=idx.device)
                wins.scatter_add_(1, flat, torch.ones((), dtype=x.dtype, device=idx.device).expand(flat.shape))
                return wins.view(shape)

            probe.derive("switch_mask", switches, [idx.detach()], shape, x.dtype, channel_first(x) if lay else None)
        return (y, idx) if m.return_indices else y


@register
class AvgPoolModule(Recogniser):
    types = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
    signal_names = ("window_mean", "window_count")
    signal_docs = {
        "window_mean": "mean of every window (= the output), output layout",
        "window_count": "number of real (non-padding) input elements per window, (1, 1, …)",
    }

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        x = args[0] if args else kwargs["input"]
        n = _SPATIAL[next(c for c in type(m).__mro__ if c in _SPATIAL)]
        probe.store("window_mean", y, channel_first(y) if y.dim() == n + 2 else None)
        if probe.wants("window_count"):
            ones = x.new_ones((1, 1, *x.shape[-n:]))
            k = _tuple(m.kernel_size, n)
            s = _tuple(m.stride if m.stride is not None else m.kernel_size, n)
            p = _tuple(m.padding, n)
            fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[n - 1]
            with torch.no_grad():
                # the mean of ones with padding counted, times the window size: real elements per window
                count = fn(ones, k, s, p, m.ceil_mode, True) * float(torch.tensor(k).prod())
            probe.store("window_count", count.round(), None)


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * n


@register
class AdaptiveAvgPoolModule(Recogniser):
    types = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
