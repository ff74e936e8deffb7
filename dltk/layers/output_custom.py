"""MATLAB's custom output-layer examples, written the way a student writes one.

MATLAB's "Define Custom Classification/Regression Output Layer" pages build a
layer from a base class (``nnet.layer.ClassificationLayer``) and one method,
``forwardLoss(layer, Y, T)``, where ``T`` is one-hot and shaped like ``Y``.
Here the base classes are :class:`~dltk.layers.output_base.ClassificationOutputLayer`
and :class:`~dltk.layers.output_base.RegressionOutputLayer`; a custom layer writes
``loss(y, targets, lengths=None)``, gets MATLAB's ``T`` from
``self.one_hot(y, targets)`` and writes the formula. Autograd gives the
backward pass that MATLAB's examples write by hand.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import OptionError
from ..options import number
from .base import matlab_property
from .output_base import ClassificationOutputLayer, RegressionOutputLayer

__all__ = ["WeightedClassification", "SSEClassification", "MAERegression", "TverskyPixelClassification"]


class WeightedClassification(ClassificationOutputLayer):
    r"""Weighted cross-entropy (MATLAB custom-layer example ``weightedClassificationLayer``).

    Math:
        \text{loss} = -\frac{1}{N} \sum_{n=1}^{N} \sum_{i=1}^{K} W_i\, T_{ni} \ln Y_{ni}

    where :math:`Y_{ni}` is the predicted probability of class :math:`i` for
    observation :math:`n`, :math:`T` the one-hot targets, :math:`W_i` the
    weight of class :math:`i` and :math:`N` the number of observations
    (:math:`\ln` of :math:`\max(Y, \epsilon)`, :math:`\epsilon` the dtype's epsilon).

    Args:
        class_weights: one positive weight per class, in class order
            (MATLAB ``classWeights``, first positional argument).
        name: layer name (MATLAB ``name``, second positional). Default: ``''``.

    Shape:
        ==================  =========  ================================
        prediction ``y``    dltk       MATLAB
        ==================  =========  ================================
        features            (B, K)     CB (MATLAB's example: 1×1×K×N)
        ==================  =========  ================================

        Targets: (B,) int64 class indices (MATLAB: one-hot 1×1×K×N).

    Learnables:
        none.

    Signals:
        ``class_weight_per_observation`` (B,): :math:`W` of each observation's
        true class; ``loss`` (B,): :math:`-W_{c_n} \ln Y_{n c_n}`.

    Example:
        >>> out = dltk.weightedClassificationLayer([0.1, 0.9], "weighted")
        >>> out.loss(torch.tensor([[0.8, 0.2]]), torch.tensor([1]))  # -0.9·ln 0.2

    MATLAB: weightedClassificationLayer(classWeights, name, Name=Value)
    """

    signals = ("class_weight_per_observation", "loss")
    signal_docs = {
        "class_weight_per_observation": "weight W of each observation's true class, (B,)",
        "loss": "per-observation loss −Σ_i W_i T_i ln Y_i, (B,)",
    }
    matlab_name = "weightedClassificationLayer"
    type_name = "Classification Output"
    name_prefix = "classoutput"
    torch_equivalent = "torch.nn.NLLLoss(weight=W, reduction='sum') / N on log-probabilities"
    matlab_positional = ("class_weights", "name")

    def __init__(self, class_weights: Any, name: str = "") -> None:
        super().__init__(class_weights=class_weights, name=name)
        if self.class_weights is None:
            raise OptionError("weightedClassificationLayer: classWeights must be a vector of positive weights.")
        self._num_classes = self.class_weights.numel()  # one weight per class fixes K
        self.Description = "Weighted cross entropy"

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._plain_layout(y, targets, None)
        if lay is not None:  # plain path: the same value from one fused nll_loss
            return self._fused_cross_entropy(y, lay, targets)
        _, T = self.one_hot(y, targets)  # (B, K), like y
        W = self.class_weight_vector(y)  # (K,)
        per_obs = -(W * T * torch.log(y.clamp(min=torch.finfo(y.dtype).eps))).sum(1)  # (B,)
        if self._recorder is not None:
            self._emit("class_weight_per_observation", (W * T).sum(1), "B")
        self._emit("loss", per_obs, "B")
        return per_obs.sum() / y.shape[0]

    def description(self) -> str:
        return self.Description


class SSEClassification(ClassificationOutputLayer):
    r"""Sum of squares error (MATLAB custom-layer example ``sseClassificationLayer``).

    Math:
        \text{loss} = \frac{1}{N} \sum_{n=1}^{N} \sum_{i=1}^{K} (Y_{ni} - T_{ni})^2

    where :math:`Y` are the predicted probabilities, :math:`T` the one-hot
    targets, :math:`K` the number of classes and :math:`N` the number of
    observations.

    Args:
        name: layer name (MATLAB ``name``, the only positional). Default: ``''``.

    Shape:
        ==================  =========  ================================
        prediction ``y``    dltk       MATLAB
        ==================  =========  ================================
        features            (B, K)     CB (MATLAB's example: 1×1×K×N)
        ==================  =========  ================================

        Targets: (B,) int64 class indices.

    Learnables:
        none.

    Signals:
        ``squared_error`` (B, K): :math:`(Y - T)^2`; ``loss`` (B,): its sum over classes.

    Example:
        >>> out = dltk.sseClassificationLayer("sse")
        >>> out.loss(torch.tensor([[0.8, 0.2]]), torch.tensor([0]))  # 0.2² + 0.2²

    MATLAB: sseClassificationLayer(name, Name=Value)
    """

    signals = ("squared_error", "loss")
    signal_docs = {"squared_error": "(Y − T)², (B, K)", "loss": "per-observation Σ_i (Y − T)², (B,)"}
    matlab_name = "sseClassificationLayer"
    type_name = "Classification Output"
    name_prefix = "classoutput"
    torch_equivalent = "torch.nn.MSELoss(reduction='sum') / N against one-hot targets"
    matlab_positional = ("name",)

    def __init__(self, name: str = "") -> None:
        super().__init__(name=name)
        self.Description = "Sum of squares error"

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        _, T = self.one_hot(y, targets)  # (B, K)
        if self._recorder is None:  # plain path: no per-observation sums
            return ((y - T) ** 2).sum() / y.shape[0]
        sq = (y - T) ** 2
        per_obs = sq.sum(1)  # (B,)
        self._emit("squared_error", sq, "BC")
        self._emit("loss", per_obs, "B")
        return per_obs.sum() / y.shape[0]

    def description(self) -> str:
        return self.Description


class MAERegression(RegressionOutputLayer):
    r"""Mean absolute error (MATLAB custom-layer example ``maeRegressionLayer``).

    Math:
        \text{loss} = \frac{1}{N} \sum_{n=1}^{N} \frac{1}{R} \sum_{i=1}^{R} |Y_{ni} - T_{ni}|

    where :math:`Y` is the prediction, :math:`T` the target, :math:`R` the
    number of responses and :math:`N` the number of observations.

    Args:
        name: layer name (MATLAB ``name``, the only positional). Default: ``''``.

    Shape:
        ==================  =========  ================================
        prediction ``y``    dltk       MATLAB
        ==================  =========  ================================
        features            (B, R)     CB (MATLAB's example: 1×1×R×N)
        ==================  =========  ================================

        Targets: float (B, R).

    Learnables:
        none.

    Signals:
        ``abs_error`` (B, R): :math:`|Y - T|`; ``loss`` (B,): its mean over responses.

    Example:
        >>> out = dltk.maeRegressionLayer("mae")
        >>> out.loss(torch.zeros(2, 4), torch.ones(2, 4))
        tensor(1.)

    MATLAB: maeRegressionLayer(name, Name=Value)
    """

    signals = ("abs_error", "loss")
    signal_docs = {"abs_error": "|Y − T|, (B, R)", "loss": "per-observation mean over responses of |Y − T|, (B,)"}
    matlab_name = "maeRegressionLayer"
    type_name = "Regression Output"
    name_prefix = "regressionoutput"
    torch_equivalent = "torch.nn.L1Loss() (mean over N·R)"
    y_layouts = ("BC",)
    matlab_positional = ("name",)

    def __init__(self, name: str = "") -> None:
        super().__init__(name=name)
        self.Description = "Mean absolute error"

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._check_y(y)
        if self._plain_targets(y, targets, None) is not None:  # plain path: the mean over N·R at once
            return (y - targets).abs().mean()
        t, _ = self._check_targets(y, lay, targets)
        R = y.shape[1]
        abs_err = (y - t).abs()  # (B, R)
        per_obs = abs_err.sum(1) / R  # (B,)
        self._emit("abs_error", abs_err, "BC")
        self._emit("loss", per_obs, "B")
        return per_obs.sum() / y.shape[0]

    def description(self) -> str:
        return self.Description


class TverskyPixelClassification(ClassificationOutputLayer):
    r"""Tversky loss for segmentation (MATLAB custom-layer example ``tverskyPixelClassificationLayer``).

    Math:
        TI_{nc} = \frac{TP_{nc} + \epsilon}{TP_{nc} + \alpha FP_{nc} + \beta FN_{nc} + \epsilon},
        \qquad \text{loss} = \frac{1}{N} \sum_{n=1}^{N} \sum_{c=1}^{K} (1 - TI_{nc})

    where, summing over the pixels of image :math:`n`,
    :math:`TP_{nc} = \sum Y_c T_c` (soft true positives),
    :math:`FP_{nc} = \sum Y_c (1 - T_c)` (false positives),
    :math:`FN_{nc} = \sum (1 - Y_c) T_c` (false negatives), :math:`Y` the
    probabilities, :math:`T` the one-hot labels, :math:`\alpha, \beta` weigh
    false positives and false negatives (α = β = 0.5 is the Dice loss) and
    :math:`\epsilon = 10^{-8}`. Undefined pixels (−1) are removed from Y and T.
    The loss sums over classes (it is not divided by K), as MATLAB's example.

    Args:
        name: layer name (MATLAB ``name``, first positional). Default: ``''``.
        alpha: weight of false positives (MATLAB ``alpha``, second positional). Default: 0.5.
        beta: weight of false negatives (MATLAB ``beta``, third positional). Default: 0.5.

    Shape:
        ==================  ======================  ===================
        prediction ``y``    dltk                    MATLAB
        ==================  ======================  ===================
        2-D image           (B, K, H, W)            SSCB (H×W×K×N)
        3-D image           (B, K, D, H, W)         SSSCB
        ==================  ======================  ===================

        Targets: (B, H, W) / (B, D, H, W) int64 class indices, −1 = undefined (ignored).

    Learnables:
        none.

    Signals:
        ``TP``, ``FP``, ``FN``, ``tversky_index`` (B, K); ``loss`` (B,):
        :math:`\sum_c (1 - TI_{nc})`.

    Example:
        >>> out = dltk.tverskyPixelClassificationLayer("tversky", 0.3, 0.7)
        >>> out.loss(torch.softmax(torch.randn(2, 3, 8, 8), 1), torch.randint(0, 3, (2, 8, 8)))

    MATLAB: tverskyPixelClassificationLayer(name, alpha, beta, Name=Value)
    """

    signals = ("TP", "FP", "FN", "tversky_index", "loss")
    signal_docs = {
        "TP": "Σ_pixels Y·T per image and class, (B, K)",
        "FP": "Σ_pixels Y·(1 − T), (B, K)",
        "FN": "Σ_pixels (1 − Y)·T, (B, K)",
        "tversky_index": "(TP + ε)/(TP + α·FP + β·FN + ε), (B, K)",
        "loss": "per-image Σ_classes (1 − Tversky index), (B,)",
    }
    matlab_name = "tverskyPixelClassificationLayer"
    type_name = "Classification Output"
    name_prefix = "tversky"
    torch_equivalent = "none (explicit formula)"
    y_layouts = ("BCHW", "BCDHW")
    accepts_undefined = True
    matlab_positional = ("name", "alpha", "beta")
    epsilon = 1e-8

    def __init__(self, name: str = "", alpha: float = 0.5, beta: float = 0.5) -> None:
        super().__init__(name=name)
        self.alpha = number("tverskyPixelClassificationLayer", "alpha", alpha, low=0)
        self.beta = number("tverskyPixelClassificationLayer", "beta", beta, low=0)
        self.Description = "Tversky loss"

    Alpha = matlab_property("alpha")
    Beta = matlab_property("beta")

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        _, T, mask = self.one_hot(y, targets, with_mask=True)  # (B, K, H, W); zeros at undefined pixels
        Y = y if mask is None else y * mask.unsqueeze(1)  # drop undefined pixels from Y as well
        px = tuple(range(2, y.ndim))
        TP = (Y * T).sum(px)  # (B, K)
        FP = (Y * (1 - T)).sum(px)
        FN = ((1 - Y) * T).sum(px)
        TI = (TP + self.epsilon) / (TP + self.alpha * FP + self.beta * FN + self.epsilon)
        per_obs = (1 - TI).sum(1)  # (B,)
        for k, v in (("TP", TP), ("FP", FP), ("FN", FN), ("tversky_index", TI)):
            self._emit(k, v, "BC")
        self._emit("loss", per_obs, "B")
        return per_obs.sum() / y.shape[0]

    def description(self) -> str:
        return self.Description

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}"
