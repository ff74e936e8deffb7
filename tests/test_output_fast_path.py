"""The lean plain path of the output layers' ``loss`` (no recording, no padding).

That path leaves the class-index range check to the fused PyTorch op
(``nll_loss``, ``gather``, ``scatter_``) and turns the op's raw error into the
clear ``LayerInputError``. These tests feed it the bad targets that matter —
index K with K classes, −1 where undefined labels are not allowed, −100
(``nll_loss``'s default ``ignore_index``), −2**63 (``targets.long()`` of NaN),
float targets — and check the clear message; without the check they would
see a raw IndexError/RuntimeError or, worse, a number. They also check that
the plain path gives the checked (recording) path's value, and its gradient
at a zero probability.

Tolerances: float64, atol 1e-12, rtol 1e-10.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import dltk
from dltk.errors import LayerInputError

TOL = {"atol": 1e-12, "rtol": 1e-10}
NAN_LONG = torch.tensor(float("nan")).long().item()  # what targets.long() makes of NaN labels


def probs(*shape: int) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape, dtype=torch.float64), 1)


def with_target(t: torch.Tensor, value: int) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[1] = value
    return t


FEATURE_LAYERS = {
    "classificationLayer": lambda: dltk.classificationLayer(),
    "classificationLayer-weighted": lambda: dltk.classificationLayer(ClassWeights=[0.5, 2.0, 1.0, 3.0]),
    "weightedClassificationLayer": lambda: dltk.weightedClassificationLayer([0.5, 2.0, 1.0, 3.0]),
    "sseClassificationLayer": lambda: dltk.sseClassificationLayer(),
}


@pytest.mark.parametrize("name", list(FEATURE_LAYERS))
@pytest.mark.parametrize(
    "value, message",
    [
        (4, "class index 4 out of range"),
        (-1, r"class index -1 out of range; −1 \(undefined\) labels are not allowed here"),
        (-100, "class index -100 out of range"),
        (NAN_LONG, f"class index {NAN_LONG} out of range"),
    ],
)
def test_bad_class_index_raises_clear_error(name: str, value: int, message: str) -> None:
    layer = FEATURE_LAYERS[name]()
    y, t = probs(6, 4), torch.randint(0, 4, (6,))
    layer.loss(y, t)  # the good targets pass
    with pytest.raises(LayerInputError, match=rf"{layer.matlab_name} '{layer.label}': expected targets .*{message}"):
        layer.loss(y, with_target(t, value))


@pytest.mark.parametrize("name", list(FEATURE_LAYERS))
def test_float_and_misshaped_targets_raise_clear_error(name: str) -> None:
    layer = FEATURE_LAYERS[name]()
    y = probs(6, 4)
    with pytest.raises(LayerInputError, match="class indices must be integers; use targets.long"):
        layer.loss(y, torch.zeros(6))
    with pytest.raises(LayerInputError, match=r"expected targets \(6\) B \[MATLAB 1×6 CB categorical\].*wrong shape"):
        layer.loss(y, torch.zeros(6, 1, dtype=torch.long))
    # other integer dtypes are converted, as before
    t = torch.randint(0, 4, (6,))
    torch.testing.assert_close(layer.loss(y, t.int()), layer.loss(y, t), **TOL)


def test_sequence_targets_out_of_range_raise_clear_error() -> None:
    layer = dltk.classificationLayer(Name="out")
    y, t = torch.softmax(torch.randn(2, 5, 3, dtype=torch.float64), -1), torch.randint(0, 3, (2, 5))  # (B, T, K)
    with pytest.raises(LayerInputError, match=r"classificationLayer 'out'.*\(2, 5\) BT.*class index 3 out of range"):
        layer.loss(y, with_target(t, 3))
    with pytest.raises(LayerInputError, match="class index -100 out of range"):
        layer.loss(y, with_target(t, -100))


@pytest.mark.parametrize(
    "make, shape, k",
    [
        (lambda: dltk.pixelClassificationLayer(), (2, 3, 4, 5), 3),
        (lambda: dltk.pixelClassificationLayer(ClassWeights=[1.0, 2.0, 0.5]), (2, 3, 4, 5), 3),
        (lambda: dltk.dicePixelClassificationLayer(), (2, 3, 4, 5), 3),
        (lambda: dltk.tverskyPixelClassificationLayer(), (2, 3, 4, 5), 3),
        (lambda: dltk.focalLossLayer(), (6, 3), 3),
        (lambda: dltk.focalLossLayer(), (2, 3, 4, 5), 3),
        (lambda: dltk.rpnClassificationLayer(), (2, 6, 4, 5), 2),
    ],
)
def test_layers_with_undefined_labels_reject_other_bad_indices(make, shape: tuple, k: int) -> None:
    layer = make()
    y = probs(*shape)
    if layer.matlab_name == "rpnClassificationLayer":
        y = dltk.rpnSoftmaxLayer()(torch.randn(*shape, dtype=torch.float64))
        t = torch.randint(0, 2, (shape[0], shape[1] // 2, *shape[2:]))
    else:
        t = torch.randint(0, k, (shape[0], *shape[2:]))
    for value in (k, -2, -100, NAN_LONG):
        with pytest.raises(LayerInputError, match=rf"{layer.matlab_name} .*class index {value} out of range"):
            layer.loss(y, with_target(t, value))
    # −1 is ignored: the plain value equals the recorded (checked, masked) one
    t1 = with_target(t, -1)
    torch.testing.assert_close(layer.loss(y, t1), dltk.record(layer, y, targets=t1).output, **TOL)
    torch.testing.assert_close(layer.loss(y, t), dltk.record(layer, y, targets=t).output, **TOL)


@pytest.mark.parametrize(
    "make", [dltk.pixelClassificationLayer, dltk.focalLossLayer, dltk.dicePixelClassificationLayer]
)
def test_all_labels_undefined_gives_the_checked_paths_value(make) -> None:
    layer = make()
    y, t = probs(2, 3, 4, 4), torch.full((2, 4, 4), -1)
    loss = layer.loss(y, t)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, dltk.record(layer, y, targets=t).output, **TOL)


@pytest.mark.parametrize(
    "make, k",
    [
        (dltk.classificationLayer, 2),
        (dltk.pixelClassificationLayer, 2),
        (dltk.focalLossLayer, 2),
    ],
)
def test_zero_probability_is_clamped_with_a_finite_gradient(make, k: int) -> None:
    layer = make()
    y = torch.tensor([[0.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    t = torch.tensor([0, 1])
    if layer.matlab_name == "pixelClassificationLayer":
        y, t = y[:, :, None, None], t[:, None, None]
    y.requires_grad_(True)
    loss = layer.loss(y, t)
    (g,) = torch.autograd.grad(loss, y)
    assert torch.isfinite(loss) and torch.isfinite(g).all()
    if layer.matlab_name != "focalLossLayer":  # focal: (1 − p)^γ still has a gradient there
        assert g.reshape(2, 2)[0, 0] == 0  # clamped at eps: no gradient through ln
    # int32 targets take the checked path (converted there): same value and gradient
    checked = layer.loss(y, t.int())
    torch.testing.assert_close(loss, checked, **TOL)
    torch.testing.assert_close(g, torch.autograd.grad(checked, y)[0], **TOL)
    with torch.no_grad():  # the no-grad plain path (log in place) gives the same value
        torch.testing.assert_close(layer.loss(y.detach(), t), loss.detach(), **TOL)
    torch.testing.assert_close(loss.detach(), dltk.record(layer, y.detach(), targets=t).output, **TOL)


def test_class_weight_cache_follows_changes_dtype_and_batch() -> None:
    layer = dltk.classificationLayer(ClassWeights=[1.0, 2.0, 3.0])
    y, t = probs(5, 3), torch.tensor([0, 1, 2, 2, 1])

    def ref(w: list[float], y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        w_ = torch.tensor(w, dtype=y.dtype)
        return F.nll_loss(torch.log(y), t, weight=w_, reduction="sum") / t.numel()

    torch.testing.assert_close(layer.loss(y, t), ref([1.0, 2.0, 3.0], y, t), **TOL)
    layer.class_weights[1] = 5.0  # in place
    torch.testing.assert_close(layer.loss(y, t), ref([1.0, 5.0, 3.0], y, t), **TOL)
    layer.class_weights = torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64)  # replaced
    torch.testing.assert_close(layer.loss(y, t), ref([2.0, 1.0, 1.0], y, t), **TOL)
    torch.testing.assert_close(layer.loss(y[:2], t[:2]), ref([2.0, 1.0, 1.0], y[:2], t[:2]), **TOL)  # other N
    y32 = y.float()
    torch.testing.assert_close(layer.loss(y32, t), ref([2.0, 1.0, 1.0], y32, t), atol=1e-6, rtol=1e-5)
    assert layer.class_weight_vector(y32).dtype == torch.float32
    torch.testing.assert_close(layer.class_weight_vector(y), torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64))


@pytest.mark.parametrize(
    "make, shape",
    [
        (dltk.regressionLayer, (5, 3)),
        (dltk.regressionLayer, (2, 4, 3)),
        (dltk.regressionLayer, (2, 3, 4, 5)),
        (dltk.maeRegressionLayer, (5, 3)),
        (dltk.rcnnBoxRegressionLayer, (5, 8)),
    ],
)
def test_regression_plain_path_equals_checked_path(make, shape: tuple) -> None:
    layer = make()
    y, t = torch.randn(*shape, dtype=torch.float64), torch.randn(*shape, dtype=torch.float64)
    torch.testing.assert_close(layer.loss(y, t), dltk.record(layer, y, targets=t).output, **TOL)
    # float32 targets for float64 predictions are converted (checked path), same value
    torch.testing.assert_close(layer.loss(y, t.float()), layer.loss(y, t.float().double()), **TOL)
    with pytest.raises(LayerInputError, match="responses must be floating point"):
        layer.loss(y, t.long())


def test_remembered_shapes_do_not_skip_checks_of_new_inputs() -> None:
    layer = dltk.classificationLayer(Name="out")
    y, t = probs(6, 4), torch.randint(0, 4, (6,))
    first = layer.loss(y, t)
    torch.testing.assert_close(layer.loss(y, t), first, **TOL)  # same shapes: the remembered check
    with pytest.raises(LayerInputError, match=r"classificationLayer 'out'.*C is 5, expected 4"):
        layer.loss(probs(6, 5), t)
    with pytest.raises(LayerInputError, match="wrong shape"):
        layer.loss(y, torch.randint(0, 4, (7,)))
    with pytest.raises(LayerInputError, match="floating-point"):
        layer.loss(y.long(), t)
    with pytest.raises(LayerInputError, match="class index 4 out of range"):
        layer.loss(y, with_target(t, 4))  # same shapes, a bad value: the fused op's check
    seq = torch.softmax(torch.randn(2, 3, 4, dtype=torch.float64), -1)
    torch.testing.assert_close(
        layer.loss(seq, torch.zeros(2, 3, dtype=torch.long)), -torch.log(seq[..., 0]).mean(), **TOL
    )
