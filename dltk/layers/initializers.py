"""MATLAB's weight initializers.

=====================  ==========================================================
name                   values
=====================  ==========================================================
``'glorot'``           U(−a, a), a = √(6 / (fan_in + fan_out))  (variance 2/(in+out))
``'he'``               N(0, 2 / fan_in)
``'narrow-normal'``    N(0, 0.01²)
``'orthogonal'``       Q of the QR decomposition of a unit-normal matrix (per gate block)
``'unit-forget-gate'`` LSTM bias: forget gate 1, others 0
``'zeros'``/``'ones'`` constants
callable               ``fn(shape) -> array``; ``shape`` is the PyTorch parameter shape
=====================  ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import OptionError

WEIGHT_INITIALIZERS = ("glorot", "he", "orthogonal", "narrow-normal", "zeros", "ones")
BIAS_INITIALIZERS = ("zeros", "narrow-normal", "ones")


def check_initializer(where: str, option: str, value: Any, allowed: Sequence[str]) -> str | Callable:
    """Validate an initializer option: one of ``allowed`` or a callable."""
    if callable(value):
        return value
    if isinstance(value, str):
        for a in allowed:
            if value.lower() == a.lower():
                return a
    raise OptionError(
        f"{where}: invalid {option} {value!r}. Allowed values: "
        + ", ".join(repr(a) for a in allowed)
        + ", or a function handle fn(shape)."
    )


def set_weight_bias_options(
    layer: Any,
    where: str,
    weights_initializer: Any,
    bias_initializer: Any,
    weight_learn_rate_factor: Any,
    bias_learn_rate_factor: Any,
    weight_l2_factor: Any,
    bias_l2_factor: Any,
) -> None:
    """Validate and set the options every Weights/Bias layer shares (FC, convolutions).

    Sets ``weights_initializer``, ``bias_initializer`` (MATLAB ``WeightsInitializer``,
    ``BiasInitializer``) and the learn-rate / L2 factors (``WeightLearnRateFactor`` …, all ≥ 0)
    on ``layer``; errors name ``where`` and the MATLAB option.
    """
    from ..options import number

    layer.weights_initializer = check_initializer(where, "WeightsInitializer", weights_initializer, WEIGHT_INITIALIZERS)
    layer.bias_initializer = check_initializer(where, "BiasInitializer", bias_initializer, BIAS_INITIALIZERS)
    layer.weight_learn_rate_factor = number(where, "WeightLearnRateFactor", weight_learn_rate_factor, low=0)
    layer.bias_learn_rate_factor = number(where, "BiasLearnRateFactor", bias_learn_rate_factor, low=0)
    layer.weight_l2_factor = number(where, "WeightL2Factor", weight_l2_factor, low=0)
    layer.bias_l2_factor = number(where, "BiasL2Factor", bias_l2_factor, low=0)


def _orthogonal(shape: Sequence[int], gen: torch.Generator | None = None) -> torch.Tensor:
    rows, cols = shape[0], int(math.prod(shape[1:]))
    z = torch.randn(max(rows, cols), min(rows, cols), generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(z)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if rows < cols:
        q = q.T
    return q[:rows, :cols].reshape(shape)


def make(
    spec: str | Callable,
    shape: Sequence[int],
    fan_in: int,
    fan_out: int,
    *,
    blocks: int = 1,
) -> torch.Tensor:
    """Create an initial value (float64) for a parameter of ``shape``.

    Args:
        spec: initializer name or callable.
        shape: PyTorch parameter shape.
        fan_in, fan_out: sizes used by ``'glorot'``/``'he'``.
        blocks: for ``'orthogonal'``, orthogonalise each of ``blocks`` equal
            row blocks separately (one per gate).
    """
    shape = tuple(int(s) for s in shape)
    if callable(spec):
        value = torch.as_tensor(spec(shape), dtype=torch.float64)
        if tuple(value.shape) != shape:
            try:
                value = value.reshape(shape)
            except RuntimeError:
                raise OptionError(
                    f"initializer function returned shape {tuple(value.shape)}, expected {shape}."
                ) from None
        return value
    if spec == "glorot":
        a = math.sqrt(6.0 / (fan_in + fan_out))
        return torch.empty(shape, dtype=torch.float64).uniform_(-a, a)
    if spec == "he":
        return torch.randn(shape, dtype=torch.float64) * math.sqrt(2.0 / fan_in)
    if spec == "narrow-normal":
        return torch.randn(shape, dtype=torch.float64) * 0.01
    if spec == "zeros":
        return torch.zeros(shape, dtype=torch.float64)
    if spec == "ones":
        return torch.ones(shape, dtype=torch.float64)
    if spec == "orthogonal":
        rows = shape[0] // blocks
        parts = [_orthogonal((rows, *shape[1:])) for _ in range(blocks)]
        return torch.cat(parts, 0)
    raise OptionError(f"unknown initializer {spec!r}")


def unit_forget_gate(hidden: int, gates: int = 4) -> torch.Tensor:
    """LSTM bias [0; 1; 0; 0] per H block (gate order i, f, g, o)."""
    b = torch.zeros(gates * hidden, dtype=torch.float64)
    b[hidden : 2 * hidden] = 1.0
    return b
