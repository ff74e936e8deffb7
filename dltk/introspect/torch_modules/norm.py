"""``nn.BatchNorm1d/2d/3d``, ``nn.LayerNorm``, ``nn.GroupNorm`` with the signals of dltk's
``batchNormalizationLayer`` and ``groupNormalizationLayer``.

Batch normalization (training mode, or without running statistics) normalizes
with the statistics of the batch, as the module does, but the recording never
moves the running statistics: ``running_mean`` / ``running_variance`` are the
values the update *would* give (momentum, or the cumulative average when
``momentum=None``), the buffers stay as they were.

* BatchNorm: ``batch_mean``, ``batch_variance`` (C,) (biased; batch statistics
  only), ``normalized`` x̂ (input layout), ``running_mean``, ``running_variance`` (C,).
* LayerNorm: ``mean``, ``variance`` (biased) over the normalized trailing
  dimensions (the input's shape without them), ``normalized`` x̂ (input layout).
* GroupNorm: ``group_mean``, ``group_variance`` (B, G), ``normalized`` x̂.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import Probe, Recogniser, channel_first, register


@register
class BatchNormModule(Recogniser):
    types = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    signal_names = ("batch_mean", "batch_variance", "normalized", "running_mean", "running_variance")
    signal_docs = {
        "batch_mean": "mean of each channel over the batch (and space/time), (C,); batch statistics only",
        "batch_variance": "biased variance of each channel, (C,); batch statistics only",
        "normalized": "x̂ before weight and bias, input layout",
        "running_mean": "running mean after this step's update (the buffer is not changed), (C,)",
        "running_variance": "running variance after this step's update (the buffer is not changed), (C,)",
    }

    def needs_forward(self, module: nn.Module) -> bool:
        return module.training and module.running_mean is not None  # its own forward would move them

    def forward(self, probe: Probe, m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        m._check_input_dim(x)
        batch_stats = m.training or m.running_mean is None
        if not batch_stats:
            y = F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)
        else:  # the batch statistics, without touching the running ones
            y = F.batch_norm(x, None, None, m.weight, m.bias, True, 0.0, m.eps)
        if not any(probe.wants(s) for s in self.signal_names):
            return y
        with probe.signal_grad():
            dims = [0, *range(2, x.dim())]
            shape = [1, -1] + [1] * (x.dim() - 2)
            if batch_stats:
                var, mean = torch.var_mean(x, dim=dims, correction=0)
                probe.store("batch_mean", mean)
                probe.store("batch_variance", var)
            else:
                mean, var = m.running_mean, m.running_var
            if probe.wants("normalized"):
                inv = torch.rsqrt(var + m.eps)
                shift = (-mean * inv).view(shape)
                # one pass over x, when first read
                probe.derive(
                    "normalized",
                    lambda x, s, i: torch.addcmul(s, x, i),
                    [x, shift, inv.view(shape)],
                    x.shape,
                    x.dtype,
                    channel_first(x),
                )
            if m.running_mean is not None and (probe.wants("running_mean") or probe.wants("running_variance")):
                rm, rv = m.running_mean, m.running_var
                if m.training and m.track_running_stats:
                    n = x.numel() // x.shape[1]
                    mom = m.momentum if m.momentum is not None else 1.0 / (float(m.num_batches_tracked) + 1.0)
                    rm = torch.lerp(rm, mean.detach(), mom)
                    rv = torch.lerp(rv, var.detach() * (n / max(n - 1, 1)), mom)
                probe.store("running_mean", rm.clone() if rm is m.running_mean else rm)
                probe.store("running_variance", rv.clone() if rv is m.running_var else rv)
        return y


@register
class LayerNormModule(Recogniser):
    types = (nn.LayerNorm,)
    signal_names = ("mean", "variance", "normalized")
    signal_docs = {
        "mean": "mean over the normalized trailing dimensions, the input's shape without them",
        "variance": "biased variance over the normalized dimensions, same shape as mean",
        "normalized": "x̂ before weight and bias, input layout",
    }

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        x = args[0] if args else kwargs["input"]
        dims = tuple(range(x.dim() - len(m.normalized_shape), x.dim()))
        with probe.signal_grad():
            var, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
            lead = {2: "BC", 3: "BTC"}.get(x.dim())
            probe.store("mean", mean.squeeze(dims) if dims else mean)
            probe.store("variance", var.squeeze(dims) if dims else var)
            if probe.wants("normalized"):
                inv = torch.rsqrt(var + m.eps)
                fn = lambda x, mean, inv: (x - mean) * inv  # noqa: E731
                probe.derive("normalized", fn, [x, mean, inv], x.shape, x.dtype, lead)


@register
class GroupNormModule(Recogniser):
    types = (nn.GroupNorm,)
    signal_names = ("group_mean", "group_variance", "normalized")
    signal_docs = {
        "group_mean": "mean of each group of each observation, (B, G)",
        "group_variance": "biased variance of each group of each observation, (B, G)",
        "normalized": "x̂ before weight and bias, input layout",
    }

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        x = args[0] if args else kwargs["input"]
        B, G = x.shape[0], m.num_groups
        with probe.signal_grad():
            xg = x.reshape(B, G, -1)
            var, mean = torch.var_mean(xg, dim=2, correction=0, keepdim=True)
            probe.store("group_mean", mean[..., 0], "BC")
            probe.store("group_variance", var[..., 0], "BC")
            if probe.wants("normalized"):
                inv = torch.rsqrt(var + m.eps)
                fn = lambda x, mean, inv: ((x.reshape(B, G, -1) - mean) * inv).view(x.shape)  # noqa: E731
                probe.derive("normalized", fn, [x, mean, inv], x.shape, x.dtype, channel_first(x))
