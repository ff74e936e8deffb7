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


def _pre_bias(module: nn.Module, y: torch.Tensor, channel_dim: int) -> torch.Tensor:
    b = module.bias
    if b is None:
        return y
    shape = [1] * y.dim()
    shape[channel_dim if y.dim() > 1 else 0] = -1
    return y - b.view(shape)


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
        if probe.wants("pre_bias"):
            probe.reserve(y.numel() * y.element_size(), "signal 'pre_bias'")
            with probe.signal_grad():
                probe.store("pre_bias", _pre_bias(m, y, y.dim() - 1), lay)


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
        with probe.signal_grad():
            if probe.wants("padded_input"):
                pads = m._reversed_padding_repeated_twice
                shape = list(x.shape)
                for k in range(_spatial(m)):
                    shape[-1 - k] += pads[2 * k] + pads[2 * k + 1]
                probe.reserve(torch.Size(shape).numel() * x.element_size(), "signal 'padded_input'")
                if not any(pads):
                    padded = x
                elif m.padding_mode == "zeros":
                    padded = F.pad(x, pads)
                else:
                    padded = F.pad(x, pads, mode=m.padding_mode)
                probe.store("padded_input", padded, lay)
            if probe.wants("pre_bias"):
                probe.reserve(y.numel() * y.element_size(), "signal 'pre_bias'")
                probe.store("pre_bias", _pre_bias(m, y, 1 if batched else 0), lay)


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
        with probe.signal_grad():
            if probe.wants("uncropped"):
                full = [
                    (x.shape[-n + k] - 1) * m.stride[k]
                    + m.dilation[k] * (m.kernel_size[k] - 1)
                    + 1
                    + m.output_padding[k]
                    for k in range(n)
                ]
                lead = y.shape[:-n].numel()
                probe.reserve(lead * torch.Size(full).numel() * y.element_size(), "signal 'uncropped'")
                u = self._fns[n](x, m.weight, None, m.stride, 0, m.output_padding, m.groups, m.dilation)
                probe.store("uncropped", u, lay)
            if probe.wants("pre_bias"):
                probe.reserve(y.numel() * y.element_size(), "signal 'pre_bias'")
                probe.store("pre_bias", _pre_bias(m, y, 1 if batched else 0), lay)
