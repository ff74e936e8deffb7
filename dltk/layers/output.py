"""Output (loss) layers: classification, regression, pixel classification, Dice and focal loss.

An output layer ends a network. ``forward(y)`` checks the prediction and
returns it unchanged; ``loss(y, targets, lengths=None)`` returns the scalar
loss and, while :func:`dltk.record` runs, emits the loss broken down into its
terms (per observation, per time step or pixel, the predicted class …).

Conventions shared by every layer in this file:

* Classification layers receive **probabilities** (the softmax output).
  Targets are int64 class indices shaped like ``y`` without its class axis.
* ``ln Y`` is taken of ``max(Y, eps)`` with ``eps = torch.finfo(y.dtype).eps``
  (2.2e-16 in float64, 1.2e-7 in float32), so a zero probability gives a large
  finite loss, as MATLAB bounds Y away from zero.
* Padded sequence batches (right padding, ``lengths``) and ignored labels
  (target −1) are masked: the scalar loss is the sum over the real entries
  divided by their number. Without padding that is MATLAB's ``… / (N·S)``
  (N observations, S time steps); with padding it is the loss of the batch of
  all real time steps, as if the sequences had not been padded.
* Without a recording (and without padding), ``loss`` takes a lean path:
  the same value from fused PyTorch ops (``nll_loss``, ``gather``), whose own
  index checks catch bad class indices; the clear dltk error follows when
  they raise. CUDA targets are checked first (there a bad index is a
  device-side assert).

Custom output layers subclass :class:`ClassificationOutputLayer` or
:class:`RegressionOutputLayer` (``output_base.py``) and write ``loss`` (see ``output_custom.py``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from ..options import number
from .base import matlab_property
from .output_base import (
    ClassificationOutputLayer,
    OutputLayer,
    RegressionOutputLayer,
    _eps,
    check_class_weights,
    check_classes,
)

__all__ = [
    "Classification",
    "Regression",
    "PixelClassification",
    "DicePixelClassification",
    "FocalLoss",
]
# the base classes stay importable from here: dltk.layers.output.ClassificationOutputLayer
_BASES = (OutputLayer, ClassificationOutputLayer, RegressionOutputLayer, check_classes, check_class_weights)


class Classification(ClassificationOutputLayer):
    r"""Cross-entropy loss for mutually exclusive classes (MATLAB ``classificationLayer``).

    Math:
        \text{loss} = -\frac{1}{N S} \sum_{n=1}^{N} \sum_{t=1}^{S} \sum_{i=1}^{K}
            w_i\, T_{nti} \ln \max(Y_{nti}, \epsilon)

    where :math:`Y_{nti}` is the predicted probability of class :math:`i` for
    observation :math:`n` at time step :math:`t` (the softmax output),
    :math:`T_{nti}` is 1 for the true class and 0 otherwise, :math:`w_i` the
    class weight (1 without ClassWeights), :math:`N` the number of
    observations, :math:`S` the number of time steps (1 without a T axis) and
    :math:`\epsilon` the dtype's machine epsilon. For a right-padded batch
    (``lengths``) the padded steps are left out and :math:`N S` becomes the
    number of real steps :math:`\sum_n S_n`. The normaliser is :math:`N S`
    also with class weights (PyTorch's weighted ``nll_loss`` divides by
    :math:`\sum w` instead).

    Target −1 (MATLAB ``<undefined>``) is an error for this layer, except at
    padded time steps, whose targets are ignored whatever they hold; use
    :class:`PixelClassification` for data with undefined labels.

    Args:
        classes: ``'auto'`` (taken from the input size; names set by training)
            or the class names in class-index order (MATLAB ``Classes``).
            Default: ``'auto'``.
        class_weights: ``'none'`` or one positive weight per class, in the
            order of Classes (MATLAB ``ClassWeights``). Default: ``'none'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==========================  ======================  =========================================
        prediction ``y``            dltk                    MATLAB
        ==========================  ======================  =========================================
        features                    (B, K)                  CB (K×N)
        sequence (seq-to-seq)       (B, T, K)               CBT (K×N×S)
        ==========================  ======================  =========================================

        Targets: (B,) or (B, T) int64 class indices 0…K−1 (MATLAB: N×1
        categorical, or an N×1 cell of 1×S categorical sequences). B = N
        observations, T = S time steps, K classes.

    Learnables:
        none.

    Signals:
        (recorded by ``dltk.record(..., targets=…)``)
        ``loss`` (B,): each observation's loss (mean over its real steps);
        ``step_loss`` (B, T): per time step, 0 at padded steps (sequences only);
        ``true_class_probability`` (B,)/(B, T): :math:`Y` at the true class;
        ``predicted`` (B,)/(B, T): argmax class index; ``correct`` (B,)/(B, T) bool.

    Also: :meth:`predict_labels`, :meth:`accuracy`, :meth:`class_names_of`.

    Example:
        >>> out = dltk.classificationLayer(Classes=["a", "b", "c"])
        >>> out.loss(torch.softmax(torch.randn(4, 3), 1), torch.tensor([0, 2, 1, 0]))

    MATLAB: classificationLayer(Name=Value)
    """

    signals = ("loss", "step_loss", "true_class_probability", "predicted", "correct")
    signal_docs = {
        "loss": "per-observation loss (mean over its real time steps), (B,)",
        "step_loss": "per-time-step loss w_t·(−ln Y_t), 0 at padded steps, (B, T); sequences only",
        "true_class_probability": "probability given to the true class, (B,) or (B, T)",
        "predicted": "predicted class index (argmax), (B,) or (B, T)",
        "correct": "predicted == target (False at padded steps), (B,) or (B, T)",
    }
    matlab_name = "classificationLayer"
    type_name = "Classification Output"
    name_prefix = "classoutput"
    torch_equivalent = "torch.nn.NLLLoss on log-probabilities (reduction='sum' / N·S)"
    y_layouts = ("BC", "BTC")
    matlab_options = {"Classes": "classes", "ClassWeights": "class_weights"}

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._plain_layout(y, targets, lengths)
        if lay is not None:  # no recording, no padding: the same value from one fused nll_loss
            return self._fused_cross_entropy(y, lay, targets)
        lay = self._check_y(y)
        t, mask = self._check_targets(y, lay, targets, lengths)
        return self._cross_entropy(y, lay, t, mask, "step_loss")

    @property
    def LossFunction(self) -> str:  # noqa: N802
        return "crossentropyex"

    def description(self) -> str:
        return self._classes_text("crossentropyex")


class Regression(RegressionOutputLayer):
    r"""Half mean squared error (MATLAB ``regressionLayer``).

    Math:
        \text{loss} = \frac{1}{N S} \sum_{n=1}^{N} \sum_{t=1}^{S} \sum_{i=1}^{R}
            \tfrac12 (Y_{nti} - T_{nti})^2

    where :math:`Y` is the prediction, :math:`T` the target, :math:`R` the
    number of responses (all values of an observation: for images
    C·H·W(·D)), :math:`N` the number of observations and :math:`S` the number
    of time steps (1 without a T axis). The sum over responses is **not**
    divided by :math:`R` (MATLAB's normalisation). For a right-padded batch
    (``lengths``) the padded steps are left out and :math:`N S` becomes
    :math:`\sum_n S_n`.

    Args:
        response_names: names of the responses, used for display; when given,
            the input must have that many channels (MATLAB ``ResponseNames``).
            Default: ``()`` (MATLAB ``{}``).
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  =================  =============
        prediction ``y``    dltk               MATLAB
        ==================  =================  =============
        features            (B, R)             CB
        sequence            (B, T, R)          CBT
        2-D image           (B, C, H, W)       SSCB
        3-D image           (B, C, D, H, W)    SSSCB
        ==================  =================  =============

        Targets: float, same shape as ``y``.

    Learnables:
        none.

    Signals:
        ``error`` (shape of ``y``): :math:`Y - T` (0 at padded steps);
        ``loss`` (B,): per-observation loss (mean over its real steps);
        ``step_loss`` (B, T): per time step, sequences only.

    Example:
        >>> out = dltk.regressionLayer(ResponseNames=["x", "y"])
        >>> out.loss(torch.zeros(4, 2), torch.ones(4, 2))   # ½·2 per observation
        tensor(1.)

    MATLAB: regressionLayer(Name=Value)
    """

    signals = ("error", "loss", "step_loss")
    signal_docs = {
        "error": "Y − T, shape of the prediction (0 at padded steps)",
        "loss": "per-observation loss Σ ½(Y−T)² (mean over real steps), (B,)",
        "step_loss": "Σ over responses of ½(Y−T)² per time step, (B, T); sequences only",
    }
    matlab_name = "regressionLayer"
    type_name = "Regression Output"
    name_prefix = "regressionoutput"
    torch_equivalent = "0.5 * torch.nn.MSELoss(reduction='sum') / (N·S)"
    matlab_options = {"ResponseNames": "response_names"}

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._check_y(y)
        t = self._plain_targets(y, targets, lengths)
        if t is not None:  # plain path: Σ (Y − T)² in one fused op, / 2·N·S
            n = y.shape[0] if lay not in ("BC", "BTC") else y.numel() // y.shape[-1]
            return F.mse_loss(y, t, reduction="sum") / (2 * n)
        t, mask = self._check_targets(y, lay, targets, lengths)
        err = y - t  # shape of y
        if mask is not None:
            err = err * mask.unsqueeze(-1)
        self._emit("error", err, lay)
        sq = 0.5 * err * err
        entry = sq.sum(-1) if lay in ("BC", "BTC") else sq.reshape(y.shape[0], -1).sum(1)  # (B,) or (B, T)
        return self._reduce(entry, mask, "step_loss", "BT")

    @property
    def LossFunction(self) -> str:  # noqa: N802
        return "mean-squared-error"

    def description(self) -> str:
        return self._responses_text("mean-squared-error")


class PixelClassification(ClassificationOutputLayer):
    r"""Cross-entropy over every pixel (MATLAB ``pixelClassificationLayer``, Computer Vision Toolbox).

    Math:
        \text{loss} = -\frac{1}{|\mathcal{P}|} \sum_{(n,p) \in \mathcal{P}}
            w_{c_{np}} \ln \max(Y_{n c_{np} p}, \epsilon)

    where :math:`Y_{nkp}` is the probability of class :math:`k` at pixel
    :math:`p` of image :math:`n`, :math:`c_{np}` the true class,
    :math:`w_k` the class weight (1 without ClassWeights), :math:`\epsilon`
    the dtype's epsilon and :math:`\mathcal{P}` the set of labelled pixels:
    undefined pixels (target −1) are ignored. MATLAB's normalisation
    constant is unconfirmed; dltk divides by the number of labelled pixels.

    Args:
        classes: ``'auto'`` or class names (MATLAB ``Classes``). Default: ``'auto'``.
        class_weights: ``'none'`` or one positive weight per class
            (MATLAB ``ClassWeights``). Default: ``'none'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  ======================  ===================
        prediction ``y``    dltk                    MATLAB
        ==================  ======================  ===================
        2-D image           (B, K, H, W)            SSCB (H×W×K×N)
        3-D image           (B, K, D, H, W)         SSSCB
        ==================  ======================  ===================

        Targets: (B, H, W) or (B, D, H, W) int64 class indices, −1 = undefined
        (ignored) (MATLAB: H×W×N categorical pixel labels).

    Learnables:
        none.

    Signals:
        ``pixel_loss`` (B, H, W): per-pixel loss (0 at undefined pixels);
        ``loss`` (B,): per-image mean over its labelled pixels;
        ``true_class_probability``, ``predicted``, ``correct`` (B, H, W).

    Example:
        >>> out = dltk.pixelClassificationLayer(Classes=["sky", "road"])
        >>> out.loss(torch.softmax(torch.randn(2, 2, 8, 8), 1), torch.randint(0, 2, (2, 8, 8)))

    MATLAB: pixelClassificationLayer(Name=Value)
    """

    signals = ("pixel_loss", "loss", "true_class_probability", "predicted", "correct")
    signal_docs = {
        "pixel_loss": "per-pixel loss w·(−ln Y_true), 0 at undefined pixels, (B, H, W)",
        "loss": "per-image loss (mean over labelled pixels), (B,)",
        "true_class_probability": "probability given to the true class, (B, H, W)",
        "predicted": "predicted class per pixel, (B, H, W)",
        "correct": "predicted == label (False at undefined pixels), (B, H, W)",
    }
    matlab_name = "pixelClassificationLayer"
    type_name = "Pixel Classification Layer"
    name_prefix = "labels"
    torch_equivalent = "torch.nn.NLLLoss(ignore_index=-1) on log-probabilities (sum / labelled pixels)"
    y_layouts = ("BCHW", "BCDHW")
    accepts_undefined = True
    matlab_options = {"Classes": "classes", "ClassWeights": "class_weights"}

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._plain_layout(y, targets, lengths)
        if lay is not None and (loss := self._fused_cross_entropy(y, lay, targets)) is not None:
            return loss  # no recording: the same value, PyTorch's range checks
        lay = self._check_y(y)
        t, mask = self._check_targets(y, lay, targets, lengths)
        return self._cross_entropy(y, lay, t, mask, "pixel_loss")

    def description(self) -> str:
        return self._classes_text("Cross-entropy loss")


class DicePixelClassification(ClassificationOutputLayer):
    r"""Generalized Dice loss (MATLAB ``dicePixelClassificationLayer``, Computer Vision Toolbox).

    Math:
        \text{Dice}_n = \frac{2 \sum_k w_{nk} I_{nk} + \epsilon}{\sum_k w_{nk} U_{nk} + \epsilon},
        \qquad \text{loss} = \frac{1}{N} \sum_{n=1}^{N} (1 - \text{Dice}_n)

    where, for image :math:`n` and class :math:`k`, with sums over pixels
    :math:`p`: :math:`I_{nk} = \sum_p Y_{nkp} T_{nkp}` (intersection),
    :math:`U_{nk} = \sum_p (Y_{nkp}^2 + T_{nkp}^2)` (union),
    :math:`w_{nk} = 1 / (\sum_p T_{nkp})^2` (inverse squared region size),
    :math:`Y` the probabilities, :math:`T` the one-hot labels and
    :math:`\epsilon = 10^{-8}` (as MathWorks' example layer). Undefined pixels
    (−1) are removed from Y and T. A class absent from an image
    (:math:`\sum_p T = 0`) gets weight 0 there (MathWorks' example would
    compute ∞·0 = NaN).

    Args:
        classes: ``'auto'`` or class names (MATLAB ``Classes``). Default: ``'auto'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  ======================  ===================
        prediction ``y``    dltk                    MATLAB
        ==================  ======================  ===================
        2-D image           (B, K, H, W)            SSCB (H×W×K×N)
        3-D image           (B, K, D, H, W)         SSSCB
        ==================  ======================  ===================

        Targets: (B, H, W) or (B, D, H, W) int64 class indices, −1 = undefined
        (ignored) (MATLAB: H×W×N categorical pixel labels).

    Learnables:
        none.

    Signals:
        ``intersection``, ``union``, ``class_weights`` (B, K); ``dice`` (B,);
        ``loss`` (B,): :math:`1 - \text{Dice}_n`; ``predicted``, ``correct`` (B, H, W).

    Example:
        >>> out = dltk.dicePixelClassificationLayer()
        >>> out.loss(torch.softmax(torch.randn(2, 3, 8, 8), 1), torch.randint(0, 3, (2, 8, 8)))

    MATLAB: dicePixelClassificationLayer(Name=Value)
    """

    signals = ("intersection", "union", "class_weights", "dice", "loss", "predicted", "correct")
    signal_docs = {
        "intersection": "Σ_pixels Y·T per image and class, (B, K)",
        "union": "Σ_pixels (Y² + T²) per image and class, (B, K)",
        "class_weights": "1/(Σ_pixels T)² per image and class (0 for absent classes), (B, K)",
        "dice": "generalized Dice score per image, (B,)",
        "loss": "1 − Dice per image, (B,)",
        "predicted": "predicted class per pixel, (B, H, W)",
        "correct": "predicted == label (False at undefined pixels), (B, H, W)",
    }
    matlab_name = "dicePixelClassificationLayer"
    type_name = "Dice Pixel Classification Layer"
    name_prefix = "labels"
    torch_equivalent = "none (explicit formula)"
    y_layouts = ("BCHW", "BCDHW")
    accepts_undefined = True
    matlab_options = {"Classes": "classes"}
    epsilon = 1e-8

    def __init__(self, classes: Any = "auto", *, name: str = "") -> None:
        super().__init__(classes, name=name)

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay, T, mask = self.one_hot(y, targets, lengths, with_mask=True)  # (B, K, H, W), 0 at undefined pixels
        Y = y if mask is None else y * mask.unsqueeze(1)  # undefined pixels removed from Y too
        px = tuple(range(2, y.ndim))
        area = T.sum(px)  # (B, K)
        w = torch.where(area > 0, 1.0 / area.clamp(min=1) ** 2, torch.zeros_like(area))
        inter = (Y * T).sum(px)  # (B, K)
        union = (Y * Y + T * T).sum(px)  # (B, K)
        dice = (2 * (w * inter).sum(1) + self.epsilon) / ((w * union).sum(1) + self.epsilon)  # (B,)
        per = 1 - dice
        if self._recorder is not None:
            for k, v in (("intersection", inter), ("union", union), ("class_weights", w)):
                self._emit(k, v, "BC")
            self._emit("dice", dice, "B")
            self._emit("loss", per, "B")
            self._emit_labels(y, lay, *self._check_targets(y, lay, targets, lengths))
        return per.mean()

    def description(self) -> str:
        return self._classes_text("Generalized Dice loss")

    def extra_repr(self) -> str:
        return f"classes={self._classes!r}"


class FocalLoss(ClassificationOutputLayer):
    r"""Focal loss (MATLAB ``focalLossLayer``, Computer Vision Toolbox).

    Math:
        \ell = -\alpha\, (1 - p)^{\gamma} \ln \max(p, \epsilon), \qquad
        \text{loss} = \frac{1}{|\mathcal{P}|} \sum_{\mathcal{P}} \ell

    where :math:`p` is the probability the prediction gives the true class
    (of an observation, or of a pixel), :math:`\alpha` the balancing factor,
    :math:`\gamma` the focusing parameter, :math:`(1-p)^\gamma` the
    *modulating factor* that shrinks the loss of well-classified entries,
    :math:`\epsilon` the dtype's epsilon and :math:`\mathcal{P}` the labelled
    entries (target −1 is ignored). With :math:`\gamma = 0` this is
    :math:`\alpha` times cross-entropy. MATLAB's normalisation is
    unconfirmed; dltk divides by the number of labelled entries.

    Args:
        alpha: balancing factor, > 0 (MATLAB ``Alpha``). Default: 0.25.
        gamma: focusing parameter, >= 0 (MATLAB ``Gamma``). Default: 2.
        classes: ``'auto'`` or class names (MATLAB ``Classes``). Default: ``'auto'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  ======================  ===================
        prediction ``y``    dltk                    MATLAB
        ==================  ======================  ===================
        features            (B, K)                  CB
        2-D image           (B, K, H, W)            SSCB
        3-D image           (B, K, D, H, W)         SSSCB
        ==================  ======================  ===================

        Targets: int64 class indices shaped like ``y`` without K; −1 = ignored.

    Learnables:
        none.

    Signals:
        ``modulating_factor`` and ``cross_entropy`` (:math:`-\ln p`), shape of
        the targets; ``pixel_loss`` (B, H, W) for images; ``loss`` (B,);
        ``predicted``, ``correct``.

    Example:
        >>> out = dltk.focalLossLayer(Gamma=2, Alpha=0.25)
        >>> out.loss(torch.softmax(torch.randn(4, 3), 1), torch.tensor([0, 1, 2, 1]))

    MATLAB: focalLossLayer(Name=Value)
    """

    signals = ("modulating_factor", "cross_entropy", "pixel_loss", "loss", "predicted", "correct")
    signal_docs = {
        "modulating_factor": "(1 − p)^γ per entry, shape of the targets",
        "cross_entropy": "−ln p per entry (p = probability of the true class)",
        "pixel_loss": "−α(1 − p)^γ ln p per pixel, 0 at ignored pixels, (B, H, W); images only",
        "loss": "per-observation loss (mean over its labelled entries), (B,)",
        "predicted": "predicted class index, shape of the targets",
        "correct": "predicted == target, shape of the targets",
    }
    matlab_name = "focalLossLayer"
    type_name = "Focal Loss Layer"
    name_prefix = "focalloss"
    torch_equivalent = "none (softmax focal loss; torchvision.ops.sigmoid_focal_loss is the sigmoid form)"
    y_layouts = ("BC", "BCHW", "BCDHW")
    accepts_undefined = True
    matlab_options = {"Alpha": "alpha", "Gamma": "gamma", "Classes": "classes"}

    def __init__(self, *, alpha: float = 0.25, gamma: float = 2.0, classes: Any = "auto", name: str = "") -> None:
        super().__init__(classes, name=name)
        self.alpha = number("focalLossLayer", "Alpha", alpha, low=0, low_open=True)
        self.gamma = number("focalLossLayer", "Gamma", gamma, low=0)

    Alpha = matlab_property("alpha")
    Gamma = matlab_property("gamma")

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._plain_layout(y, targets, lengths)
        if lay is not None:  # plain path, every label defined: gather raises on −1 and bad indices
            c = lay.index("C")
            try:
                p = y.gather(c, targets.unsqueeze(c))  # the class axis kept, of size 1
            except RuntimeError:  # −1 labels (masked below) or a bad index (clear error below)
                p = None
            if p is not None:  # Σ (1 − p)^γ ln max(p, ε) · (−α / count)
                mod = (1 - p).clamp_min(0) ** self.gamma
                return torch.xlogy(mod, p.clamp_min(_eps(y))).sum() * (-self.alpha / targets.numel())
        lay = self._check_y(y)
        c = lay.index("C")
        t, mask = self._check_targets(y, lay, targets, lengths)
        k = t if mask is None else t.clamp(min=0)  # without a mask there is no −1 label
        p = y.gather(c, k.unsqueeze(c)).squeeze(c)  # probability of the true class
        ce = -torch.log(p.clamp(min=_eps(y)))
        mod = (1 - p).clamp(min=0) ** self.gamma
        entry = self.alpha * mod * ce
        if mask is not None:
            entry = entry * mask
        tl = lay.replace("C", "")
        self._emit("modulating_factor", mod, tl)
        self._emit("cross_entropy", ce, tl)
        self._emit_labels(y, lay, t, mask)
        return self._reduce(entry, mask, "pixel_loss", tl)

    def description(self) -> str:
        return self._classes_text(f"Focal loss (Alpha {self.alpha:g}, Gamma {self.gamma:g})")

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, classes={self._classes!r}"
