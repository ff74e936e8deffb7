"""Dropout, embedding, activation, attention, loss and shape modules.

* Dropout/Dropout1d/2d/3d: ``mask`` (0/1, 1 = kept, input layout), drawn in
  training mode with the same random draw the module makes (identity, and no
  mask, in prediction mode) — as dltk's ``dropoutLayer``.
* Embedding: ``indices`` (the input token ids, 0-based) and ``vectors``
  (= the output), as dltk's ``wordEmbeddingLayer``.
* ReLU: ``active`` (x > 0); LeakyReLU, ELU, CELU, SELU: ``negative`` (x < 0);
  PReLU: ``negative_part`` (a·min(x, 0)); ReLU6/Hardtanh: ``clipped_low``
  (x < min_val), ``clipped_high`` (x ≥ max_val); Softmax: ``logits``,
  ``probabilities``; the other activations record their output only.
* MultiheadAttention: ``attention_weights`` (B, heads, L, S) per head, whatever
  the module is asked to return.
* Loss modules (every ``nn.modules.loss._Loss`` with a ``reduction``):
  ``loss`` (B,), the loss of each observation (the unreduced loss averaged
  over everything but the batch axis); classification losses also
  ``predicted`` (argmax over C) and ``correct``.
* Identity, Flatten, Unflatten: the output only.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import Probe, Recogniser, channel_first, register


@register
class DropoutModule(Recogniser):
    types = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
    signal_names = ("mask",)
    signal_docs = {"mask": "0/1 mask, 1 = kept (then scaled by 1/(1−p)); training only, input layout"}
    _fns = {nn.Dropout: F.dropout, nn.Dropout1d: F.dropout1d, nn.Dropout2d: F.dropout2d, nn.Dropout3d: F.dropout3d}

    def forward(self, probe: Probe, m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        fn = self._fns[next(c for c in type(m).__mro__ if c in self._fns)]
        if not m.training or m.p == 0 or not probe.wants("mask"):
            return fn(x, m.p, m.training, m.inplace)
        # the same random draw as fn(x) (same op, same shape), kept as a tensor of its own
        probe.reserve(x.numel() * x.element_size(), "signal 'mask'")
        kept_scaled = fn(torch.ones_like(x), m.p, True)  # 0 or 1/(1−p)
        probe.store("mask", (kept_scaled != 0).to(x.dtype), channel_first(x))
        if m.inplace:
            probe.recorder.protect(x)
            return x.mul_(kept_scaled)
        return x * kept_scaled


@register
class EmbeddingModule(Recogniser):
    types = (nn.Embedding,)
    signal_names = ("indices", "vectors")
    signal_docs = {"indices": "the token ids (0-based), (B, T) int64", "vectors": "the embedding vectors, (B, T, C)"}

    def output_layout(self, module: nn.Module, out: Any, layout: str | None) -> str | None:
        return {2: "BC", 3: "BTC"}.get(out.dim()) if isinstance(out, torch.Tensor) else layout

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        x = args[0] if args else kwargs["input"]
        probe.store("indices", x, None)
        probe.store("vectors", y, {2: "BC", 3: "BTC"}.get(y.dim()))


class _Activation(Recogniser):
    """Signals from the input, taken before an in-place module overwrites it."""

    def masks(self, m: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}

    def before(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict) -> None:
        x = args[0] if args else kwargs["input"]
        with probe.signal_grad():
            for k, v in self.masks(m, x).items():
                if probe.wants(k):
                    probe.store(k, v, channel_first(x))


@register
class ReLUModule(Recogniser):
    """``active`` is ``y > 0`` of the output y = max(x, 0) (the same as x > 0, NaN included, also after an
    in-place ReLU), computed when first read: a recording that never looks at it pays nothing for it."""

    types = (nn.ReLU,)
    signal_names = ("active",)
    signal_docs = {"active": "x > 0 (bool), input layout; a unit never active is dead"}

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        if probe.wants("active"):
            probe.derive("active", lambda y: y > 0, [y], y.shape, torch.bool, channel_first(y))


@register
class NegativeModule(_Activation):
    types = (nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU)
    signal_names = ("negative",)
    signal_docs = {"negative": "x < 0 (bool), input layout"}

    def masks(self, m: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"negative": x < 0}


@register
class ClippedModule(_Activation):
    types = (nn.Hardtanh,)  # ReLU6 is a Hardtanh(0, 6)
    signal_names = ("clipped_low", "clipped_high")
    signal_docs = {"clipped_low": "x < min_val (bool)", "clipped_high": "x ≥ max_val (bool)"}

    def masks(self, m: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"clipped_low": x < m.min_val, "clipped_high": x >= m.max_val}


@register
class PReLUModule(_Activation):
    types = (nn.PReLU,)
    signal_names = ("negative_part",)
    signal_docs = {"negative_part": "a·min(x, 0), input layout"}

    def masks(self, m: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = m.weight
        if a.numel() > 1 and x.dim() > 1:
            a = a.view(1, -1, *([1] * (x.dim() - 2)))
        return {"negative_part": a * torch.clamp(x, max=0)}


@register
class SoftmaxModule(Recogniser):
    types = (nn.Softmax,)
    signal_names = ("logits", "probabilities")
    signal_docs = {"logits": "the input", "probabilities": "the output"}

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        x = args[0] if args else kwargs["input"]
        lay = {2: "BC", 3: "BTC"}.get(x.dim()) if m.dim in (-1, x.dim() - 1) else channel_first(x)
        probe.store("logits", x, lay)
        probe.store("probabilities", y, lay)


@register
class PlainModule(Recogniser):
    """Modules whose output says it all."""

    types = (
        nn.Identity, nn.Flatten, nn.Unflatten, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU, nn.Mish, nn.Softplus,
        nn.Softsign, nn.Hardsigmoid, nn.Hardswish, nn.LogSigmoid, nn.LogSoftmax, nn.Tanhshrink, nn.Softshrink,
        nn.Hardshrink, nn.Threshold, nn.GLU, nn.Softmin, nn.Softmax2d, nn.RReLU,
    )  # fmt: skip


@register
class AttentionModule(Recogniser):
    types = (nn.MultiheadAttention,)
    signal_names = ("attention_weights",)
    signal_docs = {"attention_weights": "softmax(QKᵀ/√d) of every head, (B, heads, L, S) (query L, key S)"}

    def output_layout(self, module: nn.Module, out: Any, layout: str | None) -> str | None:
        if not isinstance(out, torch.Tensor) or out.dim() != 3:
            return layout
        return "BTC" if module.batch_first else "TBC"

    def forward(self, probe: Probe, m: nn.Module, *args: Any, **kwargs: Any) -> Any:
        names = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights")
        call = dict(zip(names, args))
        call.update(kwargs)
        need = call.get("need_weights", True)
        average = call.get("average_attn_weights", True)
        call.update(need_weights=True, average_attn_weights=False)
        out, w = type(m).forward(m, **call)
        probe.store("attention_weights", w, None)
        if not need:
            return out, None
        return out, (w.mean(dim=-3) if average else w)


_CLASSIFICATION = (nn.CrossEntropyLoss, nn.NLLLoss)


@register
class LossModule(Recogniser):
    types = (nn.modules.loss._Loss,)
    signal_names = ("loss",)
    signal_docs = {
        "loss": "loss of each observation (unreduced loss averaged over all but the batch axis), (B,)",
        "predicted": "argmax class of each observation (classification losses), int64",
        "correct": "predicted == target (classification losses), bool",
    }

    def accepts(self, module: nn.Module, cls: type) -> bool:
        return type(module).__module__ == "torch.nn.modules.loss" and hasattr(module, "reduction")

    def signals(self, module: nn.Module) -> tuple[str, ...]:
        return ("loss", "predicted", "correct") if isinstance(module, _CLASSIFICATION) else ("loss",)

    def after(self, probe: Probe, m: nn.Module, args: tuple, kwargs: dict, y: Any) -> None:
        if not hasattr(m, "reduction") or not args:
            return
        old = m.reduction
        with probe.signal_grad():
            try:
                m.reduction = "none"
                per = type(m).forward(m, *args, **kwargs)
            finally:
                m.reduction = old
            if isinstance(per, torch.Tensor) and per.dim() >= 1:
                probe.store("loss", per.reshape(per.shape[0], -1).mean(1), "B")
            elif isinstance(per, torch.Tensor):
                probe.store("loss", per.reshape(1), "B")
        if isinstance(m, _CLASSIFICATION) and len(args) >= 2:
            x, t = args[0], args[1]
            if x.dim() >= 2 and not t.is_floating_point():
                pred = x.detach().argmax(1)
                probe.store("predicted", pred, None)
                probe.store("correct", pred == t, None)
