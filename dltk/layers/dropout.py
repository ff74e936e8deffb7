"""Dropout layer (MATLAB ``dropoutLayer``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch convention

from ..layouts import ANY_LAYOUT
from ..options import number
from .base import Layer, matlab_property

__all__ = ["Dropout"]


class Dropout(Layer):
    r"""Inverted dropout: zero random elements while training, identity at prediction.

    Math:
        y = \frac{m \odot x}{1 - p}, \qquad m_i \sim \text{Bernoulli}(1 - p) \text{ independently}

    where :math:`p` is ``Probability``, :math:`m` the 0/1 mask (a fresh one on
    every training call) and :math:`\odot` the element-wise product. Survivors
    are scaled by :math:`1/(1-p)` so that the expected output equals the input
    and nothing needs rescaling at prediction time, where :math:`y = x`
    (``layer.eval()``). As in MATLAB, every element gets its own mask value:
    each channel of each image and each time step of each sequence is dropped
    independently (no whole-channel or whole-sequence dropout).

    Args:
        probability: probability p of dropping an element, 0 ≤ p < 1 (MATLAB ``Probability``). Default: ``0.5``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        Any layout, output = input: (B, C) CB, (B, T, C) CBT, (B, C, H, W) SSCB,
        (B, C, D, H, W) SSSCB, (B, T, C, H, W) SSCBT.

    Signals:
        ``mask`` (input layout, input dtype): the 0/1 mask :math:`m` (1 = kept;
        kept elements are multiplied by :math:`1/(1-p)`). Training mode only.

    Example:
        >>> drop = dltk.dropoutLayer(0.2)
        >>> drop.eval()(torch.ones(2, 3))  # identity at prediction
        tensor([[1., 1., 1.],
                [1., 1., 1.]])

    MATLAB: dropoutLayer(probability, Name=Value)
    """

    signals = ("mask",)
    signal_docs = {"mask": "0/1 mask, 1 = kept (then scaled by 1/(1-Probability)); training only, input layout"}
    matlab_name = "dropoutLayer"
    type_name = "Dropout"
    name_prefix = "dropout"
    torch_equivalent = "torch.nn.Dropout"
    matlab_positional = ("probability",)
    matlab_options = {"Probability": "probability"}

    def __init__(self, probability: float = 0.5, *, name: str = "") -> None:
        super().__init__(name)
        self.probability = number("dropoutLayer", "Probability", probability, low=0, high=1, high_open=True)

    Probability = matlab_property("probability")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lay = self._check_input(x, ANY_LAYOUT)
        if not self.training or self.probability == 0:
            return x
        if not self._wants("mask"):
            return F.dropout(x, self.probability, True)
        # the same random draw as F.dropout(x) (same op and shape), kept as a tensor of its own
        kept_scaled = F.dropout(torch.ones_like(x), self.probability, True)  # 0 or 1/(1-p)
        self._emit("mask", (kept_scaled != 0).to(x.dtype), lay)
        return x * kept_scaled

    def description(self) -> str:
        return f"Dropout {self.probability * 100:g}%"

    def extra_repr(self) -> str:
        return f"probability={self.probability:g}"
