r"""MATLAB's solvers (sgdm, adam, rmsprop) with per-parameter factors, L2 and clipping.

One iteration, for every learnable θ with gradient ∇ of the loss:

1. clipping (``GradientThreshold`` τ, ``GradientThresholdMethod``):
   ``'l2norm'``: ∇ ← ∇·min(1, τ/‖∇‖) per parameter; ``'global-l2norm'``:
   all ∇ ← ∇·min(1, τ/L) with L = √(Σ‖∇‖²); ``'absolute-value'``: ∇ ← clip(∇, −τ, τ);
2. L2 regularization: g = ∇ + λ·f₂·θ, where λ is ``L2Regularization`` and
   f₂ the parameter's L2 factor (biases 0; per-gate vectors allowed) — MATLAB
   adds this term to the gradient; it is not torch's decoupled weight decay;
3. update with α = base learning rate · the parameter's learn-rate factor f_α
   (see :func:`dltk.trainingOptions` for the three update rules).

Parameters with learn-rate factor 0 are frozen. The order clip → L2 follows
MATLAB's trainer as we understand it (unconfirmed).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["Solver"]


def _factor_tensor(value: Any, p: torch.Tensor) -> float | torch.Tensor:
    """A scalar factor, or a per-gate-block vector expanded to ``p``'s rows."""
    if isinstance(value, (int, float)):
        return float(value)
    v = torch.as_tensor(value, dtype=p.dtype, device=p.device).flatten()
    if v.numel() == 1:
        return float(v)
    rows = p.shape[0]
    if rows % v.numel():
        raise ValueError(f"a factor vector of {v.numel()} values does not divide {rows} rows")
    v = v.repeat_interleave(rows // v.numel())
    return v.view(-1, *([1] * (p.ndim - 1)))


class Solver:
    """The optimizer state for one training run.

    Args:
        net: the network (its ``layers`` give learn-rate/L2 factors).
        opts: :class:`~dltk.train.options.TrainingOptions`.
    """

    def __init__(self, net: nn.Module, opts: Any) -> None:
        self.opts = opts
        self.solver = opts.SolverName
        self.l2 = float(opts.L2Regularization)
        self.threshold = float(opts.GradientThreshold)
        self.method = opts.GradientThresholdMethod
        owner: dict[int, tuple[Any, Any]] = {}
        from ..layers.base import Layer

        for m in net.modules():
            if isinstance(m, Layer):
                for pname, fac in m.learn_factors().items():
                    p = getattr(m, pname)
                    if isinstance(p, torch.Tensor):
                        owner[id(p)] = fac
        self.params: list[nn.Parameter] = []
        self.lr_factors: list[float | torch.Tensor] = []
        self.l2_factors: list[float | torch.Tensor] = []
        self.names: list[str] = []
        seen: set[int] = set()
        for name, p in net.named_parameters():
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            lr, l2 = owner.get(id(p), (1.0, 0.0 if "bias" in name.rsplit(".", 1)[-1] else 1.0))
            lr_t = _factor_tensor(lr, p)
            if isinstance(lr_t, float) and lr_t == 0.0:
                continue  # frozen
            self.params.append(p)
            self.names.append(name)
            self.lr_factors.append(lr_t)
            self.l2_factors.append(_factor_tensor(l2, p))
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]
        self.k = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    # ------------------------------------------------------------- pieces
    def clip(self, grads: list[torch.Tensor]) -> None:
        """Clip gradients in place (``GradientThreshold`` / ``GradientThresholdMethod``)."""
        tau = self.threshold
        if math.isinf(tau) or not grads:
            return
        if self.method == "absolute-value":
            for g in grads:
                g.clamp_(-tau, tau)
        elif self.method == "l2norm":
            for g in grads:
                g.mul_((tau / (torch.linalg.vector_norm(g) + 1e-30)).clamp(max=1.0))
        else:  # global-l2norm
            norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
            scale = (tau / (torch.linalg.vector_norm(norms) + 1e-30)).clamp(max=1.0)
            for g in grads:
                g.mul_(scale)

    @torch.no_grad()
    def step(self, learn_rate: float) -> None:
        """One update with base learning rate ``learn_rate`` (uses ``p.grad``)."""
        o = self.opts
        self.k += 1
        grads = []
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        self.clip(grads)
        for p, g, flr, fl2, st in zip(self.params, grads, self.lr_factors, self.l2_factors, self.state):
            if self.l2:
                if isinstance(fl2, float):
                    if fl2:
                        g = g.add(p, alpha=self.l2 * fl2)
                else:
                    g = g + (self.l2 * fl2) * p
            lr = learn_rate * flr  # float or tensor
            if self.solver == "sgdm":
                v = st.get("velocity")
                if v is None:
                    v = st["velocity"] = torch.zeros_like(p)
                v.mul_(o.Momentum)
                if isinstance(lr, float):
                    v.add_(g, alpha=-lr)
                else:
                    v.sub_(lr * g)
                p.add_(v)
            elif self.solver == "adam":
                if not st:
                    st["m"], st["s"] = torch.zeros_like(p), torch.zeros_like(p)
                b1, b2 = o.GradientDecayFactor, o.SquaredGradientDecayFactor
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["s"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (st["s"] / (1 - b2**self.k)).sqrt_().add_(o.Epsilon)
                step = st["m"] / denom
                if isinstance(lr, float):
                    p.add_(step, alpha=-lr / (1 - b1**self.k))
                else:
                    p.sub_((lr / (1 - b1**self.k)) * step)
            else:  # rmsprop
                if not st:
                    st["s"] = torch.zeros_like(p)
                b2 = o.SquaredGradientDecayFactor
                st["s"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = st["s"].sqrt().add_(o.Epsilon)
                if isinstance(lr, float):
                    p.addcdiv_(g, denom, value=-lr)
                else:
                    p.sub_(lr * g / denom)

    def state_dict(self) -> dict[str, Any]:
        return {"k": self.k, "state": [{k: v.clone() for k, v in s.items()} for s in self.state]}
