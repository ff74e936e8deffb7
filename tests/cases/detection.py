"""Battery cases for the Faster R-CNN layers (rpnSoftmax, rpnClassification, rcnnBoxRegression).

References in float64: the pairwise softmax written with exponentials,
``F.nll_loss(ignore_index=-1)`` on the (B, 2, A, H, W) view, and
``F.smooth_l1_loss(beta=1)`` on the valid (non-NaN) targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import feat, img, probs


def ref_rpn_softmax(layer, x):
    B, C, H, W = x.shape
    A = C // 2
    obj, bg = x[:, :A], x[:, A:]
    p_obj = torch.exp(obj) / (torch.exp(obj) + torch.exp(bg))
    return torch.cat([p_obj, 1 - p_obj], dim=1)


def ref_rpn_loss(layer, y, t):
    B, C, H, W = y.shape
    logp = torch.log(y.reshape(B, 2, C // 2, H, W))
    return F.nll_loss(logp, t, ignore_index=-1, reduction="sum") / (t != -1).sum()


def ref_box(layer, y, t):
    valid = ~torch.isnan(t)
    return F.smooth_l1_loss(y[valid], t[valid], beta=1.0, reduction="sum") / y.shape[0]


def _rpn_probs():
    return [dltk.layers.RPNSoftmax()(torch.randn(2, 6, 3, 4))]


def _box_targets():
    t = 1.5 * torch.randn(4, 12)  # 3 classes × (tx, ty, tw, th); some |x| > 1
    t[0, 4:] = float("nan")  # proposal 0 matched to class 0
    t[1, :4] = t[1, 8:] = float("nan")  # proposal 1 matched to class 1
    t[2] = float("nan")  # a background proposal: no box loss
    return t


CASES = [
    LayerCase(
        id="rpnSoftmaxLayer",
        make=lambda: dltk.rpnSoftmaxLayer(Name="rpn_softmax"),
        inputs=lambda: [torch.randn(2, 6, 3, 4)],
        reference=ref_rpn_softmax,
        signal_shapes={"object_probability": (2, 3, 3, 4)},
        bad_inputs=[([torch.randn(2, 5, 3, 4)], "odd"), ([torch.randn(2, 6)], "rank 2")],
        bench=Bench(
            make=lambda: dltk.rpnSoftmaxLayer(),
            torch=lambda: lambda x: torch.softmax(x.unflatten(1, (2, -1)), dim=1).flatten(1, 2),
            inputs=lambda: [img(c=18)],
        ),
    ),
    LayerCase(
        id="rpnClassificationLayer",
        make=lambda: dltk.rpnClassificationLayer(),
        inputs=_rpn_probs,
        targets=lambda: torch.randint(-1, 2, (2, 3, 3, 4)),
        reference=ref_rpn_loss,
        signal_shapes={"anchor_loss": (2, 3, 3, 4), "loss": (2,), "predicted": (2, 3, 3, 4)},
        bad_inputs=[
            ([torch.rand(2, 5, 3, 4)], "odd"),
            ((torch.rand(2, 6, 3, 4), torch.zeros(2, 6, 3, 4, dtype=torch.long)), "(2, 3, 3, 4) BAHW"),
            ((torch.rand(2, 6, 3, 4), torch.full((2, 3, 3, 4), 2)), "out of range"),
        ],
        bench=Bench(
            make=lambda: dltk.rpnClassificationLayer(),
            torch=lambda: (
                lambda y, t: (
                    F.nll_loss(torch.log(y.unflatten(1, (2, -1))), t, ignore_index=-1, reduction="sum") / y.shape[0]
                )
            ),
            inputs=lambda: [probs(8, 18, 32, 32)],
            targets=lambda: torch.randint(0, 2, (8, 9, 32, 32)),
        ),
    ),
    LayerCase(
        id="rcnnBoxRegressionLayer",
        make=lambda: dltk.rcnnBoxRegressionLayer(),
        inputs=lambda: [torch.randn(4, 12)],
        targets=_box_targets,
        reference=ref_box,
        signal_shapes={"error": (4, 12), "abs_error": (4, 12), "quadratic_region": (4, 12), "loss": (4,)},
        bad_inputs=[
            ([torch.randn(4, 10)], "not a multiple of 4"),
            ((torch.randn(4, 12), torch.randn(4, 8)), "wrong shape"),
        ],
        bench=Bench(
            make=lambda: dltk.rcnnBoxRegressionLayer(),
            torch=lambda: lambda y, t: F.smooth_l1_loss(y, t, reduction="sum") / y.shape[0],
            inputs=lambda: [feat(40)],
            targets=lambda: feat(40),
        ),
    ),
]
