"""Faster R-CNN layers: pairwise RPN softmax, RPN cross-entropy with ignored anchors,
smooth-L1 box regression — float64 against PyTorch, gradients included.

Tolerances: atol 1e-12, rtol 1e-10.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import dltk
from dltk.errors import LayerInputError

TOL = {"atol": 1e-12, "rtol": 1e-10}


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, **TOL)


def grad(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(loss, x)
    return g


def test_rpn_softmax_pairs_channel_a_with_a_plus_A() -> None:
    x = torch.randn(2, 8, 3, 5, dtype=torch.float64, requires_grad=True)  # A = 4 anchors
    sm = dltk.rpnSoftmaxLayer(Name="rpn_softmax")
    p = sm(x)
    ref = torch.softmax(x.reshape(2, 2, 4, 3, 5), dim=1).reshape(2, 8, 3, 5)
    close(p, ref)
    close(p[:, :4] + p[:, 4:], torch.ones(2, 4, 3, 5, dtype=torch.float64))
    w = torch.randn_like(p)
    close(grad((p * w).sum(), x), grad((ref * w).sum(), x))
    rec = dltk.record(sm, x.detach())
    close(rec["rpn_softmax"]["object_probability"], p.detach()[:, :4])
    assert sm.description() == "rpn softmax" and sm.output_names == ("out",)


def test_rpn_classification_matches_nll_with_ignored_anchors() -> None:
    x = torch.randn(3, 6, 4, 4, dtype=torch.float64)
    y = dltk.rpnSoftmaxLayer()(x).requires_grad_(True)
    t = torch.randint(-1, 2, (3, 3, 4, 4))
    layer = dltk.rpnClassificationLayer()
    loss = layer.loss(y, t)
    ref = F.nll_loss(torch.log(y.reshape(3, 2, 3, 4, 4)), t, ignore_index=-1)  # mean over labelled anchors
    close(loss, ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))
    rec = dltk.record(layer, y.detach(), targets=t)
    sig = rec[layer.label]
    assert sig["anchor_loss"][t < 0].abs().sum() == 0
    assert not sig["correct"][t < 0].any()
    close(sig["anchor_loss"].sum() / (t >= 0).sum(), rec.output)
    assert layer.classes == ["object", "background"] and layer.task == "classification"
    assert layer.predict_labels(y).shape == (3, 3, 4, 4)
    acc = ((y.detach().reshape(3, 2, 3, 4, 4).argmax(1) == t)[t >= 0]).double().mean()
    assert layer.accuracy(y, t) == pytest.approx(float(acc))


def test_rpn_errors_name_the_layer() -> None:
    layer = dltk.rpnClassificationLayer(Name="rpn_cls")
    with pytest.raises(LayerInputError, match="rpnClassificationLayer 'rpn_cls'.*5 channels is odd"):
        layer(torch.rand(1, 5, 2, 2))
    with pytest.raises(LayerInputError, match=r"expected targets \(1, 2, 2, 3\) BAHW \[MATLAB 2×3×2×1 categorical\]"):
        layer.loss(torch.rand(1, 4, 2, 3), torch.zeros(1, 4, 2, 3, dtype=torch.long))
    with pytest.raises(LayerInputError, match="class index 2 out of range"):
        layer.loss(torch.rand(1, 4, 2, 3), torch.full((1, 2, 2, 3), 2))


def test_box_regression_is_smooth_l1_summed_per_proposal() -> None:
    layer = dltk.rcnnBoxRegressionLayer()
    y = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)  # 2 classes
    t = 2 * torch.randn(5, 8, dtype=torch.float64)
    ref = F.smooth_l1_loss(y, t, beta=1.0, reduction="sum") / 5
    close(layer.loss(y, t), ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))
    # explicit: 0.5 x² inside |x| < 1, |x| − 0.5 outside; gradient x or sign(x), over N
    x = (y - t).detach()
    close(layer.loss(y, t), torch.where(x.abs() < 1, 0.5 * x**2, x.abs() - 0.5).sum() / 5)
    close(grad(layer.loss(y, t), y), torch.where(x.abs() < 1, x, x.sign()) / 5)
    rec = dltk.record(layer, y.detach(), targets=t)
    sig = rec[layer.label]
    assert torch.equal(sig["quadratic_region"], x.abs() < 1)
    close(sig["abs_error"], x.abs())
    close(sig["loss"].mean(), rec.output)


def test_box_regression_ignores_nan_targets() -> None:
    layer = dltk.rcnnBoxRegressionLayer()
    y = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 8, dtype=torch.float64)
    t[0, 4:] = t[1, :4] = t[2] = float("nan")  # other classes and a background proposal
    valid = ~torch.isnan(t)
    ref = F.smooth_l1_loss(y[valid], t[valid], beta=1.0, reduction="sum") / 3
    loss = layer.loss(y, t)
    assert torch.isfinite(loss)
    close(loss, ref)
    g = grad(layer.loss(y, t), y)
    assert torch.isfinite(g).all() and g[~valid].abs().sum() == 0
    close(g, grad(ref, y))


def test_box_regression_input_errors() -> None:
    layer = dltk.rcnnBoxRegressionLayer(Name="boxes")
    with pytest.raises(LayerInputError, match=r"rcnnBoxRegressionLayer 'boxes'.*4·numClasses.*6 is not a multiple"):
        layer(torch.randn(2, 6))
    with pytest.raises(LayerInputError, match=r"expected targets \(2, 8\) BC \[MATLAB 8×2 CB\]"):
        layer.loss(torch.randn(2, 8), torch.randn(2, 4))
    assert layer.is_output_layer and layer.task == "regression" and layer.description() == "smooth-l1"
