"""Battery cases for the output (loss) layers.

References are computed independently in float64: with PyTorch's losses
(``F.nll_loss`` on log-probabilities, ``F.mse_loss``, ``F.l1_loss``) where
PyTorch has one, else with the formula written out over explicit loops.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import dice_loss, feat, focal_loss, labels10, pixel_labels, probs, tversky_loss

# ------------------------------------------------------------------ references


def ref_crossentropy(layer, y, t, lengths=None):
    """−Σ w_t ln Y_t over real entries / their number (class axis 1 for images, last otherwise)."""
    w = None if layer.class_weights is None else layer.class_weights.double()
    if y.ndim == 3:  # (B, T, K): keep the real steps only
        keep = (
            torch.ones(t.shape, dtype=torch.bool)
            if lengths is None
            else (torch.arange(y.shape[1])[None] < lengths[:, None])
        )
        y, t = y[keep], t[keep]  # (#steps, K), (#steps,)
    logp = torch.log(y)
    total = F.nll_loss(logp, t, weight=w, ignore_index=-1, reduction="sum")
    return total / (t != -1).sum()


def ref_half_mse(layer, y, t, lengths=None):
    if lengths is not None:  # real steps only
        keep = torch.arange(y.shape[1])[None] < lengths[:, None]
        return 0.5 * F.mse_loss(y[keep], t[keep], reduction="sum") / keep.sum()
    steps = y.shape[1] if y.ndim == 3 else 1
    return 0.5 * F.mse_loss(y, t, reduction="sum") / (y.shape[0] * steps)


def ref_dice(layer, y, t, eps=1e-8):
    """Generalized Dice with explicit loops over images, classes and pixels."""
    B, K = y.shape[:2]
    losses = []
    for n in range(B):
        num = den = 0.0
        for k in range(K):
            T = (t[n] == k).double()
            Y = y[n, k] * (t[n] >= 0)
            if T.sum() == 0:
                continue  # absent class: weight 0
            w = 1.0 / T.sum() ** 2
            num = num + w * (Y * T).sum()
            den = den + w * (Y * Y + T * T).sum()
        losses.append(1 - (2 * num + eps) / (den + eps))
    return torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in losses]).mean()


def ref_focal(layer, y, t):
    """−α Σ_i T_i (1 − Y_i)^γ ln Y_i over labelled entries / their number (one-hot form)."""
    k = 1
    T = F.one_hot(t.clamp(min=0), y.shape[k]).movedim(-1, k).double() * (t >= 0).unsqueeze(k)
    ent = -(layer.alpha * T * (1 - y) ** layer.gamma * torch.log(y)).sum(k)
    return ent.sum() / (t >= 0).sum()


def ref_tversky(layer, y, t, eps=1e-8):
    B, K = y.shape[:2]
    total = 0.0
    for n in range(B):
        for c in range(K):
            T = (t[n] == c).double()
            Y = y[n, c] * (t[n] >= 0)
            tp, fp, fn = (Y * T).sum(), (Y * (1 - T)).sum(), ((1 - Y) * T).sum()
            total = total + 1 - (tp + eps) / (tp + layer.alpha * fp + layer.beta * fn + eps)
    return total / B


def _probs(*shape, dim=-1):
    return lambda: [torch.softmax(torch.randn(*shape), dim)]


def _labels(k, *shape, low=0):
    return lambda: torch.randint(low, k, shape)


def _with_padding_garbage():
    t = torch.randint(0, 3, (2, 5))
    t[1, 3:] = -1  # beyond length 3: ignored whatever it holds
    return t


_LEN = torch.tensor([5, 3])

CASES = [
    LayerCase(
        id="classificationLayer-features",
        make=lambda: dltk.classificationLayer(),
        inputs=_probs(4, 3),
        targets=_labels(3, 4),
        reference=ref_crossentropy,
        signal_shapes={"loss": (4,), "true_class_probability": (4,), "predicted": (4,), "correct": (4,)},
        absent_signals=("step_loss",),
        bad_inputs=[
            ([torch.rand(4, 5)], "C is 5, expected 3"),
            ([torch.rand(4, 3, 2, 2, 2, 2)], "rank 6"),
            ((torch.rand(4, 3), torch.zeros(5, dtype=torch.long)), "wrong shape"),
            ((torch.rand(4, 3), torch.tensor([0, 1, 3, 0])), "class index 3 out of range"),
            ((torch.rand(4, 3), torch.tensor([0, 1, -1, 0])), "undefined"),
            ((torch.rand(4, 3), torch.zeros(4)), "integers"),
        ],
        bench=Bench(
            make=lambda: dltk.classificationLayer(),
            torch=lambda: lambda y, t: F.nll_loss(torch.log(y), t, reduction="sum") / y.shape[0],
            inputs=lambda: [probs(128, 10)],
            targets=labels10,
        ),
    ),
    LayerCase(
        id="classificationLayer-weighted",
        make=lambda: dltk.classificationLayer("Classes", ["cat", "dog", "eel"], "ClassWeights", [0.2, 1.0, 3.0]),
        inputs=_probs(6, 3),
        targets=_labels(3, 6),
        reference=ref_crossentropy,
        signal_shapes={"loss": (6,)},
        absent_signals=("step_loss",),
    ),
    LayerCase(
        id="classificationLayer-sequence",
        make=lambda: dltk.classificationLayer(),
        inputs=_probs(2, 5, 3),
        targets=_labels(3, 2, 5),
        reference=ref_crossentropy,
        signal_shapes={"loss": (2,), "step_loss": (2, 5), "predicted": (2, 5), "correct": (2, 5)},
        bad_inputs=[((torch.rand(2, 5, 3), torch.zeros(2, 4, dtype=torch.long)), "(2, 5) BT [MATLAB 1×2×5 CBT")],
    ),
    LayerCase(
        id="classificationLayer-padded",
        make=lambda: dltk.classificationLayer(),
        inputs=_probs(2, 5, 3),
        targets=_with_padding_garbage,
        kwargs={"lengths": _LEN},
        reference=lambda layer, y, t: ref_crossentropy(layer, y, t, _LEN),
        signal_shapes={"loss": (2,), "step_loss": (2, 5)},
    ),
    LayerCase(
        id="regressionLayer-features",
        make=lambda: dltk.regressionLayer(ResponseNames=["x", "y", "z"]),
        inputs=lambda: [torch.randn(4, 3)],
        targets=lambda: torch.randn(4, 3),
        reference=ref_half_mse,
        signal_shapes={"error": (4, 3), "loss": (4,)},
        absent_signals=("step_loss",),
        bad_inputs=[
            ([torch.randn(4, 2)], "C is 2, expected 3"),
            ((torch.randn(4, 3), torch.randn(4, 2)), "wrong shape"),
            ((torch.randn(4, 3), torch.ones(4, 3, dtype=torch.long)), "floating point"),
        ],
        bench=Bench(
            make=lambda: dltk.regressionLayer(),
            torch=lambda: lambda y, t: 0.5 * ((y - t) ** 2).sum() / y.shape[0],
            inputs=lambda: [feat(10)],
            targets=lambda: feat(10),
        ),
    ),
    LayerCase(
        id="regressionLayer-sequence",
        make=lambda: dltk.regressionLayer(),
        inputs=lambda: [torch.randn(3, 4, 2)],
        targets=lambda: torch.randn(3, 4, 2),
        reference=ref_half_mse,
        signal_shapes={"error": (3, 4, 2), "loss": (3,), "step_loss": (3, 4)},
    ),
    LayerCase(
        id="regressionLayer-padded",
        make=lambda: dltk.regressionLayer(),
        inputs=lambda: [torch.randn(2, 5, 2)],
        targets=lambda: torch.randn(2, 5, 2),
        kwargs={"lengths": _LEN},
        reference=lambda layer, y, t: ref_half_mse(layer, y, t, _LEN),
        signal_shapes={"loss": (2,), "step_loss": (2, 5)},
    ),
    LayerCase(
        id="regressionLayer-image",
        make=lambda: dltk.regressionLayer(),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        targets=lambda: torch.randn(2, 3, 4, 5),
        reference=ref_half_mse,
        signal_shapes={"error": (2, 3, 4, 5), "loss": (2,)},
        absent_signals=("step_loss",),
    ),
    LayerCase(
        id="pixelClassificationLayer-undefined",
        make=lambda: dltk.pixelClassificationLayer(ClassWeights=[1.0, 2.0, 0.5], Classes=["a", "b", "c"]),
        inputs=_probs(2, 3, 4, 5, dim=1),
        targets=_labels(3, 2, 4, 5, low=-1),
        reference=ref_crossentropy,
        signal_shapes={"pixel_loss": (2, 4, 5), "loss": (2,), "predicted": (2, 4, 5), "correct": (2, 4, 5)},
        bad_inputs=[
            ([torch.rand(2, 3, 4)], "rank 3"),
            ((torch.rand(2, 3, 4, 5), torch.zeros(2, 5, 4, dtype=torch.long)), "(2, 4, 5) BHW [MATLAB 4×5×1×2 SSCB"),
            ((torch.rand(2, 3, 4, 5), torch.full((2, 4, 5), -2)), "class index -2 out of range"),
        ],
        bench=Bench(
            make=lambda: dltk.pixelClassificationLayer(),
            torch=lambda: lambda y, t: F.nll_loss(torch.log(y), t, ignore_index=-1, reduction="sum") / t.numel(),
            inputs=lambda: [probs(8, 5, 64, 64)],
            targets=pixel_labels,
        ),
    ),
    LayerCase(
        id="dicePixelClassificationLayer",
        make=lambda: dltk.dicePixelClassificationLayer(),
        inputs=_probs(2, 3, 4, 5, dim=1),
        targets=_labels(3, 2, 4, 5, low=-1),
        reference=ref_dice,
        signal_shapes={"intersection": (2, 3), "union": (2, 3), "class_weights": (2, 3), "dice": (2,), "loss": (2,)},
        bad_inputs=[((torch.rand(2, 3, 4, 5), torch.full((2, 4, 5), 3)), "out of range")],
        bench=Bench(
            make=lambda: dltk.dicePixelClassificationLayer(),
            torch=lambda: dice_loss,
            inputs=lambda: [probs(8, 5, 64, 64)],
            targets=pixel_labels,
        ),
    ),
    LayerCase(
        id="focalLossLayer-features",
        make=lambda: dltk.focalLossLayer(),
        inputs=_probs(5, 4, dim=1),
        targets=_labels(4, 5),
        reference=ref_focal,
        signal_shapes={"modulating_factor": (5,), "cross_entropy": (5,), "loss": (5,), "predicted": (5,)},
        absent_signals=("pixel_loss",),
        bad_inputs=[([torch.rand(5, 4, 2)], "rank 3")],
        bench=Bench(
            make=lambda: dltk.focalLossLayer(),
            torch=lambda: focal_loss,
            inputs=lambda: [probs(128, 10)],
            targets=labels10,
        ),
    ),
    LayerCase(
        id="focalLossLayer-image",
        make=lambda: dltk.focalLossLayer(Alpha=0.5, Gamma=1.5),
        inputs=_probs(2, 3, 3, 4, dim=1),
        targets=_labels(3, 2, 3, 4, low=-1),
        reference=ref_focal,
        signal_shapes={"pixel_loss": (2, 3, 4), "modulating_factor": (2, 3, 4), "loss": (2,)},
    ),
    LayerCase(
        id="weightedClassificationLayer",
        make=lambda: dltk.weightedClassificationLayer([0.5, 2.0, 1.0], "weighted"),
        inputs=_probs(5, 3),
        targets=_labels(3, 5),
        reference=lambda layer, y, t: (
            F.nll_loss(torch.log(y), t, weight=layer.class_weights.double(), reduction="sum") / y.shape[0]
        ),
        signal_shapes={"class_weight_per_observation": (5,), "loss": (5,)},
        bad_inputs=[([torch.rand(5, 4)], "C is 4, expected 3")],
        bench=Bench(
            make=lambda: dltk.weightedClassificationLayer(torch.rand(10).tolist()),
            torch=lambda: (lambda w: lambda y, t: F.nll_loss(torch.log(y), t, weight=w, reduction="sum") / y.shape[0])(
                torch.rand(10)
            ),
            inputs=lambda: [probs(128, 10)],
            targets=labels10,
        ),
    ),
    LayerCase(
        id="sseClassificationLayer",
        make=lambda: dltk.sseClassificationLayer("sse"),
        inputs=_probs(5, 3),
        targets=_labels(3, 5),
        reference=lambda layer, y, t: F.mse_loss(y, F.one_hot(t, 3).double(), reduction="sum") / y.shape[0],
        signal_shapes={"squared_error": (5, 3), "loss": (5,)},
        bench=Bench(
            make=lambda: dltk.sseClassificationLayer(),
            torch=lambda: lambda y, t: ((y - F.one_hot(t, 10)) ** 2).sum() / y.shape[0],
            inputs=lambda: [probs(128, 10)],
            targets=labels10,
        ),
    ),
    LayerCase(
        id="maeRegressionLayer",
        make=lambda: dltk.maeRegressionLayer("mae"),
        inputs=lambda: [torch.randn(4, 3)],
        targets=lambda: torch.randn(4, 3),
        reference=lambda layer, y, t: F.l1_loss(y, t),
        signal_shapes={"abs_error": (4, 3), "loss": (4,)},
        bad_inputs=[([torch.randn(4, 3, 2)], "rank 3")],
        bench=Bench(
            make=lambda: dltk.maeRegressionLayer(),
            torch=lambda: nn.L1Loss(),
            inputs=lambda: [feat(10)],
            targets=lambda: feat(10),
        ),
    ),
    LayerCase(
        id="tverskyPixelClassificationLayer",
        make=lambda: dltk.tverskyPixelClassificationLayer("tversky", 0.3, 0.7),
        inputs=_probs(2, 3, 4, 4, dim=1),
        targets=_labels(3, 2, 4, 4, low=-1),
        reference=ref_tversky,
        signal_shapes={"TP": (2, 3), "FP": (2, 3), "FN": (2, 3), "tversky_index": (2, 3), "loss": (2,)},
        bench=Bench(
            make=lambda: dltk.tverskyPixelClassificationLayer(),
            torch=lambda: tversky_loss,
            inputs=lambda: [probs(8, 5, 64, 64)],
            targets=pixel_labels,
        ),
    ),
]
