"""``nn.Linear``, ``nn.Conv1d/2d/3d`` and ``nn.ConvTranspose1d/2d/3d`` with the signals of dltk's
``fullyConnectedLayer``, ``convolution2dLayer`` and ``transposedConv2dLayer``.

* Linear: ``input_flat`` (the input, (B, C) or (B, T, C)), ``pre_bias`` :math:`xW^T` (= output − b).
* Conv: ``padded_input`` (what the filters slide over: the input after the
  module's padding, in its ``padding_mode``), ``pre_bias`` (output − b).
* ConvTranspose: ``uncropped`` (the full transposed convolution before the
  ``padding`` crop, no bias), ``pre_bias`` (output − b).

Layouts are PyTorch's channel-first ones: ``BCT`` (B, C, L), ``BCHW``, ``BCDHW``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import Probe, Recogniser, channel_first, register


def _pre_bias(probe: Probe, module: nn.Module, y: torch.Tensor, channel_dim: int, layout: str | None) -> None:
    """Record ``pre_bias = y − b`` (computed when first read)."""
    b = module.bias
    if b is None:
        probe.store("pre_bias", y, layout)
        return
    shape = [1] * y.dim()
    shape[channel_dim if y.dim() > 1 else 0] = -1
    probe.derive("pre_bias", lambda y, b: y - b.view(shape), [y, b], y.shape, y.dtype, layout)


@register
class LinearModule(Recogniser):
    types = (nn.Linear,)
    signal_names = ("input_flat", "pre_bias")
    signal_docs = {"input_flat": "the input, (B, C) or (B, T, C)", "pre_bias": "x Wᵀ before the bias, output layout"}

    def output_layout(self, module: nn.Module, out: Any, layout: str | None) -> str | None:
        return {2: "BC", 3: "BTC"}.get(out.dim()) if isinstance(out, torch.Tensor) else layout

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        x = args[0] if args else kwargs["input"]
        lay = {2: "BC", 3: "BTC"}.get(x.dim())
        probe.store("input_flat", x, lay)
        _pre_bias(probe, m, y, y.dim() - 1, {2: "BC", 3: "BTC"}.get(y.dim()))


def _spatial(m: nn.Module) -> int:
    return len(m.kernel_size)


@register
class ConvModule(Recogniser):
    types = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    signal_names = ("padded_input", "pre_bias")
    signal_docs = {
        "padded_input": "the input after padding: what the filters slide over, input layout",
        "pre_bias": "filter responses before the bias is added, output layout",
    }

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        x = args[0] if args else kwargs["input"]
        batched = x.dim() == _spatial(m) + 2
        lay = channel_first(x) if batched else None
        pads = tuple(m._reversed_padding_repeated_twice)
        if not any(pads):
            probe.store("padded_input", x, lay)
        else:
            shape = list(x.shape)
            for k in range(_spatial(m)):
                shape[-1 - k] += pads[2 * k] + pads[2 * k + 1]
            mode = "constant" if m.padding_mode == "zeros" else m.padding_mode
            probe.derive("padded_input", lambda x: F.pad(x, pads, mode=mode), [x], shape, x.dtype, lay)
        _pre_bias(probe, m, y, 1 if batched else 0, lay)


@register
class ConvTransposeModule(Recogniser):
    types = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    signal_names = ("uncropped", "pre_bias")
    signal_docs = {
        "uncropped": "full transposed-convolution result before cropping and bias, output layout",
        "pre_bias": "cropped result before the bias is added, output layout",
    }
    _fns = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        x = args[0] if args else kwargs["input"]
        n = _spatial(m)
        batched = x.dim() == n + 2
        lay = channel_first(y) if batched else None
        full = [
            (x.shape[-n + k] - 1) * m.stride[k] + m.dilation[k] * (m.kernel_size[k] - 1) + 1 + m.output_padding[k]
            for k in range(n)
        ]
        fn, stride, out_pad, groups, dil = self._fns[n], m.stride, m.output_padding, m.groups, m.dilation
        probe.derive(
            "uncropped",
            lambda x, w: fn(x, w, None, stride, 0, out_pad, groups, dil),
            [x, m.weight],
            (*y.shape[:-n], *full),
            y.dtype,
            lay,
        )
        _pre_bias(probe, m, y, 1 if batched else 0, lay)
