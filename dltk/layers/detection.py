"""Faster R-CNN layers: RPN softmax and classification, box regression (Computer Vision Toolbox).

A region proposal network (RPN) scores A anchor boxes at every position of
a feature map: a 1×1 convolution gives 2·A channels (object and background
score per anchor), :class:`RPNSoftmax` turns each anchor's pair into
probabilities and :class:`RPNClassification` is the loss. The detection head
refines each proposal box with an FC layer of size 4·numClasses and
:class:`RCNNBoxRegression` (smooth L1 loss).

Channel convention (dltk's; MATLAB's internal order is unconfirmed): channel
``a`` holds the *object* score of anchor ``a`` and channel ``A + a`` its
*background* score, i.e. the (B, 2A, H, W) tensor is viewed as
(B, 2, A, H, W) with class 0 = object, 1 = background.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .base import Layer
from .output_base import ClassificationOutputLayer, RegressionOutputLayer

__all__ = ["RPNSoftmax", "RPNClassification", "RCNNBoxRegression"]


def _pairs(layer: Layer, x: torch.Tensor) -> torch.Tensor:
    """Check a (B, 2A, H, W) input and view it as (B, 2, A, H, W)."""
    layer._check_input(x, "BCHW")
    B, C, H, W = x.shape
    if C % 2:
        raise layer._fail(
            "(B, 2·A, H, W) BCHW [MATLAB H×W×2A×B SSCB] with an even number of channels", x, f"{C} channels is odd"
        )
    return x.reshape(B, 2, C // 2, H, W)


class RPNSoftmax(Layer):
    r"""Softmax over each anchor's (object, background) pair (MATLAB ``rpnSoftmaxLayer``).

    Math:
        P^{obj}_{a} = \frac{e^{x_{a}}}{e^{x_{a}} + e^{x_{A+a}}}, \qquad
        P^{bg}_{a} = 1 - P^{obj}_{a}

    where :math:`x_a` (channel :math:`a`) is the object score and
    :math:`x_{A+a}` the background score of anchor :math:`a` at one feature
    map position, and :math:`A` the number of anchors (half the channels).

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        =========  ======================  ==================
        data       dltk                    MATLAB
        =========  ======================  ==================
        in, out    (B, 2A, H, W)           SSCB (H×W×2A×N)
        =========  ======================  ==================

        A anchors per position; out has the probabilities in the same places.

    Learnables:
        none.

    Signals:
        ``object_probability`` (B, A, H, W): :math:`P^{obj}` per anchor.

    Example:
        >>> sm = dltk.rpnSoftmaxLayer(Name="rpn_softmax")
        >>> sm(torch.randn(1, 18, 7, 7)).shape      # 9 anchors
        torch.Size([1, 18, 7, 7])

    MATLAB: rpnSoftmaxLayer(Name=Value)
    """

    signals = ("object_probability",)
    signal_docs = {"object_probability": "probability that each anchor holds an object, (B, A, H, W)"}
    matlab_name = "rpnSoftmaxLayer"
    type_name = "RPN Softmax"
    name_prefix = "rpnsoftmax"
    torch_equivalent = "torch.softmax(x.view(B, 2, A, H, W), dim=1)"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(_pairs(self, x), dim=1)  # (B, 2, A, H, W)
        if self._recorder is not None:
            self._emit("object_probability", p[:, 0], "BCHW")
        return p.reshape(x.shape)

    def description(self) -> str:
        return "rpn softmax"


class RPNClassification(ClassificationOutputLayer):
    r"""Object-vs-background cross-entropy for the RPN (MATLAB ``rpnClassificationLayer``).

    Math:
        \text{loss} = -\frac{1}{|\mathcal{A}|} \sum_{(n,a,h,w) \in \mathcal{A}}
            \ln \max(P_{c}, \epsilon)

    where :math:`P_c` is the probability (from :class:`RPNSoftmax`) of the
    anchor's true class :math:`c` (object or background), :math:`\epsilon`
    the dtype's epsilon and :math:`\mathcal{A}` the labelled anchors: anchors
    with target −1 (neither clearly object nor background, or not sampled)
    are ignored, so the normaliser is the number of sampled anchors, as in
    Faster R-CNN.

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  ======================  ==================
        data                dltk                    MATLAB
        ==================  ======================  ==================
        ``y``               (B, 2A, H, W)           SSCB (H×W×2A×N)
        targets             (B, A, H, W) int64      H×W×A×N categorical
        ==================  ======================  ==================

        Targets: 0 = object, 1 = background, −1 = ignored.

    Learnables:
        none.

    Signals:
        ``anchor_loss`` (B, A, H, W), 0 at ignored anchors; ``loss`` (B,): mean
        over each image's labelled anchors; ``true_class_probability``,
        ``predicted``, ``correct`` (B, A, H, W).

    Example:
        >>> out = dltk.rpnClassificationLayer()
        >>> p = dltk.rpnSoftmaxLayer()(torch.randn(2, 6, 4, 4))
        >>> out.loss(p, torch.randint(-1, 2, (2, 3, 4, 4)))

    MATLAB: rpnClassificationLayer(Name=Value)
    """

    signals = ("anchor_loss", "loss", "true_class_probability", "predicted", "correct")
    signal_docs = {
        "anchor_loss": "−ln P(true class) per anchor, 0 at ignored anchors, (B, A, H, W)",
        "loss": "per-image loss (mean over labelled anchors), (B,)",
        "true_class_probability": "probability of the anchor's true class, (B, A, H, W)",
        "predicted": "0 object / 1 background, (B, A, H, W)",
        "correct": "predicted == target (False at ignored anchors), (B, A, H, W)",
    }
    matlab_name = "rpnClassificationLayer"
    type_name = "RPN Classification Output"
    name_prefix = "rpnclassification"
    torch_equivalent = "torch.nn.NLLLoss(ignore_index=-1) on log(P.view(B, 2, A, H, W))"
    y_layouts = ("BCHW",)
    accepts_undefined = True

    def __init__(self, *, name: str = "") -> None:
        super().__init__(["object", "background"], name=name)

    def _check_y(self, y: Any) -> str:
        _pairs(self, y)
        return "BCHW"

    def _targets_shape(self, y: torch.Tensor, lay: str) -> tuple[int, ...]:
        B, C, H, W = y.shape
        return (B, C // 2, H, W)

    def _targets_spec(self, y: torch.Tensor, lay: str) -> tuple[tuple[int, ...], str]:
        B, C, H, W = y.shape
        shape = (B, C // 2, H, W)
        return shape, f"{tuple(shape)} BAHW [MATLAB {H}×{W}×{C // 2}×{B} categorical]"

    def _nll_view(self, y: torch.Tensor, lay: str, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, C, H, W = y.shape
        return y.reshape(B, 2, C // 2, H, W), t  # the _pairs view: class axis second

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._plain_layout(y, targets, lengths)
        if lay is not None and (loss := self._fused_cross_entropy(y, lay, targets)) is not None:
            return loss  # no recording: the same value, PyTorch's range checks
        lay = self._check_y(y)
        t, mask = self._check_targets(y, lay, targets, lengths)
        return self._cross_entropy(_pairs(self, y), "BCDHW", t, mask, "anchor_loss")

    def predict_labels(self, y: torch.Tensor) -> torch.Tensor:
        return _pairs(self, y).argmax(1)

    def accuracy(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> float:
        t, mask = self._check_targets(y, self._check_y(y), targets, lengths)
        ok = self.predict_labels(y) == t
        ok = ok.flatten() if mask is None else ok[mask]  # no mask: every anchor labelled
        return float(ok.double().mean()) if ok.numel() else float("nan")

    def description(self) -> str:
        return "cross-entropy loss: object vs background"

    def extra_repr(self) -> str:
        return ""


class RCNNBoxRegression(RegressionOutputLayer):
    r"""Smooth L1 loss for box refinement (MATLAB ``rcnnBoxRegressionLayer``).

    Math:
        \text{loss} = \frac{1}{N} \sum_{n=1}^{N} \sum_{j \in \mathcal{V}_n} s(Y_{nj} - T_{nj}),
        \qquad s(x) = \begin{cases} 0.5 x^2 & |x| < 1 \\ |x| - 0.5 & \text{otherwise} \end{cases}

    where :math:`Y` is the output of an FC layer of size 4·numClasses (for
    class :math:`k`, columns :math:`4k … 4k+3` are :math:`(t_x, t_y, t_w, t_h)`),
    :math:`T` the regression targets, :math:`N` the number of observations
    (region proposals) and :math:`\mathcal{V}_n` the valid targets of
    proposal :math:`n`: NaN targets are ignored — set the columns of the
    other classes, and all columns of background proposals, to NaN.

    Target format (Fast R-CNN): for a proposal box with centre
    :math:`(P_x, P_y)`, width :math:`P_w`, height :math:`P_h` and its matched
    ground-truth box :math:`G`: :math:`t_x = (G_x - P_x)/P_w`,
    :math:`t_y = (G_y - P_y)/P_h`, :math:`t_w = \ln(G_w/P_w)`,
    :math:`t_h = \ln(G_h/P_h)`; then normalised to zero mean and unit
    variance per coordinate over the training set (done when building
    targets, not in this layer; predictions are de-normalised with the same
    mean and standard deviation).

    Args:
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ==================  ============  ================
        data                dltk          MATLAB
        ==================  ============  ================
        ``y``, targets      (B, 4K)       CB (1×1×4K×N)
        ==================  ============  ================

        K = numClasses (object classes); targets float with NaN = ignored.

    Learnables:
        none.

    Signals:
        ``error`` (B, 4K): :math:`Y - T` (0 where ignored); ``abs_error``;
        ``quadratic_region`` (B, 4K) bool: :math:`|x| < 1`;
        ``loss`` (B,): per-proposal sum of smooth L1 over valid targets.

    Example:
        >>> out = dltk.rcnnBoxRegressionLayer()
        >>> out.loss(torch.zeros(1, 8), torch.tensor([[0.5, 2.0, 0, 0] + [float("nan")] * 4]))
        tensor(1.6250)

    MATLAB: rcnnBoxRegressionLayer(Name=Value)
    """

    signals = ("error", "abs_error", "quadratic_region", "loss")
    signal_docs = {
        "error": "Y − T, 0 at ignored (NaN) targets, (B, 4K)",
        "abs_error": "|Y − T|, (B, 4K)",
        "quadratic_region": "True where |Y − T| < 1 (loss 0.5x², else |x| − 0.5), (B, 4K)",
        "loss": "per-proposal Σ smooth-L1 over valid targets, (B,)",
    }
    matlab_name = "rcnnBoxRegressionLayer"
    type_name = "Box Regression Output"
    name_prefix = "boxregression"
    torch_equivalent = "torch.nn.SmoothL1Loss(beta=1, reduction='sum') / N"
    y_layouts = ("BC",)

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name=name)

    def _check_y(self, y: Any) -> str:
        lay = self._check_input(y, "BC")
        if y.shape[1] % 4:
            raise self._fail("(B, 4·numClasses) BC [MATLAB 4K×B CB]", y, f"{y.shape[1]} is not a multiple of 4")
        return lay

    def loss(self, y: torch.Tensor, targets: Any, lengths: Any = None) -> torch.Tensor:
        lay = self._check_y(y)
        if self._plain_targets(y, targets, lengths) is not None:  # plain path: one fused op
            # the ATen op behind F.smooth_l1_loss (reduction 2 = 'sum', beta 1), without its broadcast
            total = torch.ops.aten.smooth_l1_loss(y, targets, 2, 1.0) / y.shape[0]
            if not math.isnan(total.item()):  # NaN (ignored) targets take the masked path below
                return total
        t, _ = self._check_targets(y, lay, targets)
        valid = ~torch.isnan(t)
        x = torch.where(valid, y - t.nan_to_num(), torch.zeros_like(y))  # (B, 4K)
        ax = x.abs()
        quad = ax < 1
        s = torch.where(quad, 0.5 * x * x, ax - 0.5) * valid  # (B, 4K)
        per_obs = s.sum(1)  # (B,)
        if self._recorder is not None:
            self._emit("error", x, "BC")
            self._emit("abs_error", ax, "BC")
            self._emit("quadratic_region", quad & valid, "BC")
            self._emit("loss", per_obs, "B")
        return per_obs.sum() / y.shape[0]

    def description(self) -> str:
        return "smooth-l1"

    def extra_repr(self) -> str:
        return ""
