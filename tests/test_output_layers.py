"""Output (loss) layers: float64 against PyTorch's losses and explicit formulas, gradients
included; masking of padded steps and undefined labels; signals; errors; MATLAB front.

Tolerances: float64 values and gradients atol 1e-12, rtol 1e-10 unless stated.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import dltk
from dltk.errors import LayerInputError, OptionError
from tests.cases.output import ref_dice, ref_focal, ref_tversky

TOL = {"atol": 1e-12, "rtol": 1e-10}


def probs(*shape: int, dim: int = -1) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape, dtype=torch.float64), dim).requires_grad_(True)


def grad(loss: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(loss, y)
    return g


def close(a: torch.Tensor, b: torch.Tensor, **tol: float) -> None:
    torch.testing.assert_close(a, b, **(tol or TOL))


# ---------------------------------------------------------------- classificationLayer
def test_classification_matches_nll_loss_value_and_gradient() -> None:
    layer = dltk.classificationLayer()
    y, t = probs(6, 4), torch.randint(0, 4, (6,))
    loss = layer.loss(y, t)
    ref = F.nll_loss(torch.log(y), t)  # mean over N
    close(loss, ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))
    # MATLAB's backward: −T/(Y·N) at the true class, 0 elsewhere
    T = F.one_hot(t, 4).double()
    close(grad(layer.loss(y, t), y), -T / (y.detach() * 6))


def test_class_weights_divide_by_n_not_by_sum_of_weights() -> None:
    w = [0.5, 2.0, 1.0]
    layer = dltk.classificationLayer(Classes=["a", "b", "c"], ClassWeights=w)
    y, t = probs(5, 3), torch.tensor([0, 1, 1, 2, 0])
    ref = F.nll_loss(torch.log(y), t, weight=torch.tensor(w, dtype=torch.float64), reduction="sum") / 5
    close(layer.loss(y, t), ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))
    torch_mean = F.nll_loss(torch.log(y), t, weight=torch.tensor(w, dtype=torch.float64))
    assert not torch.isclose(layer.loss(y, t), torch_mean)  # PyTorch's 'mean' divides by Σ w_t


def test_sequence_loss_is_divided_by_n_times_s() -> None:
    layer = dltk.classificationLayer()
    y, t = probs(3, 7, 4), torch.randint(0, 4, (3, 7))
    ref = F.nll_loss(torch.log(y).reshape(-1, 4), t.reshape(-1), reduction="sum") / (3 * 7)
    close(layer.loss(y, t), ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))


def test_padded_sequence_loss_equals_loss_of_the_unpadded_steps() -> None:
    layer = dltk.classificationLayer()
    lengths = torch.tensor([6, 2, 4])
    y, t = probs(3, 6, 4), torch.randint(0, 4, (3, 6))
    t[1, 2:] = -1  # padding labels may hold anything: ignored
    t[2, 4:] = 99
    loss = layer.loss(y, t, lengths=lengths)
    # the same real steps as a flat batch, without padding
    real_y = torch.cat([y[i, : int(n)] for i, n in enumerate(lengths)])
    real_t = torch.cat([t[i, : int(n)] for i, n in enumerate(lengths)])
    ref = dltk.classificationLayer().loss(real_y, real_t)
    close(loss, ref)
    close(grad(loss, y), grad(ref, y))
    assert grad(layer.loss(y, t, lengths=lengths), y)[1, 2:].abs().sum() == 0  # padded steps get no gradient
    # with full lengths, lengths= changes nothing
    t_full = torch.randint(0, 4, (3, 6))
    close(layer.loss(y, t_full, lengths=torch.tensor([6, 6, 6])), layer.loss(y, t_full))


def test_per_observation_signal_mean_is_the_loss() -> None:
    layer = dltk.classificationLayer()
    y, t = probs(4, 5, 3).detach(), torch.randint(0, 3, (4, 5))
    rec = dltk.record(layer, y, targets=t)
    sig = rec[layer.label]
    close(sig["loss"].mean(), rec.output)
    close(sig["step_loss"], -torch.log(y.gather(2, t[..., None])[..., 0]))
    assert torch.equal(sig["predicted"], y.argmax(-1))
    assert torch.equal(sig["correct"], y.argmax(-1) == t)
    # with padding: scalar = Σ step_loss / number of real steps
    lengths = torch.tensor([5, 1, 3, 2])
    rec = dltk.record(layer, y, targets=t, lengths=lengths)
    sig = rec[layer.label]
    close(sig["step_loss"].sum() / lengths.sum(), rec.output)
    assert sig["step_loss"][1, 1:].abs().sum() == 0 and not sig["correct"][1, 1:].any()


def test_recording_does_not_change_the_loss() -> None:
    layer = dltk.classificationLayer(ClassWeights=[1.0, 3.0])
    y, t = probs(8, 2).detach(), torch.randint(0, 2, (8,))
    assert torch.equal(dltk.record(layer, y, targets=t).output, layer.loss(y, t))


def test_zero_probability_is_clamped_to_eps_of_the_dtype() -> None:
    layer = dltk.classificationLayer()
    for dtype in (torch.float32, torch.float64):
        y = torch.tensor([[0.0, 1.0]], dtype=dtype)
        loss = layer.loss(y, torch.tensor([0]))
        assert torch.isfinite(loss)
        close(loss, -torch.log(torch.tensor(torch.finfo(dtype).eps, dtype=dtype)), atol=1e-6, rtol=1e-6)


def test_forward_returns_y_unchanged_and_checks_it() -> None:
    layer = dltk.classificationLayer(Classes=["a", "b", "c"])
    y = probs(2, 3)
    assert layer(y) is y
    with pytest.raises(LayerInputError, match=r"classificationLayer 'classoutput'.*\(B, 3\) BC \[MATLAB 3×B CB\]"):
        layer(torch.rand(2, 4))
    assert layer.is_output_layer and layer.output_names == () and layer.task == "classification"


def test_target_errors_name_layer_and_both_notations() -> None:
    layer = dltk.classificationLayer(Name="out")
    y = probs(4, 6, 3)
    with pytest.raises(LayerInputError) as e:
        layer.loss(y, torch.zeros(4, 5, dtype=torch.long))
    msg = str(e.value)
    assert "classificationLayer 'out'" in msg and "(4, 6) BT" in msg and "[MATLAB 1×4×6 CBT categorical]" in msg
    assert "got (4, 5) int64" in msg
    with pytest.raises(LayerInputError, match="class index 3 out of range"):
        layer.loss(y, torch.full((4, 6), 3))
    with pytest.raises(LayerInputError, match="undefined"):
        layer.loss(y, torch.full((4, 6), -1))
    with pytest.raises(LayerInputError, match="integers; use targets.long"):
        layer.loss(y, torch.zeros(4, 6))
    with pytest.raises(LayerInputError, match=r"lengths must be 4 integers in 1…6"):
        layer.loss(y, torch.zeros(4, 6, dtype=torch.long), lengths=torch.tensor([1, 2, 7, 3]))
    with pytest.raises(LayerInputError, match="lengths are for padded sequence batches"):
        layer.loss(probs(4, 3), torch.zeros(4, dtype=torch.long), lengths=torch.tensor([1, 1, 1, 1]))


def test_class_options_are_validated() -> None:
    with pytest.raises(OptionError, match="ClassWeights has 3 elements but there are 2 Classes"):
        dltk.classificationLayer(Classes=["a", "b"], ClassWeights=[1, 2, 3])
    with pytest.raises(OptionError, match="positive"):
        dltk.classificationLayer(Classes=["a", "b"], ClassWeights=[1, -2])
    with pytest.raises(OptionError, match="distinct"):
        dltk.classificationLayer(Classes=["a", "a"])
    with pytest.raises(OptionError, match="ClassWeights"):
        dltk.classificationLayer(ClassWeights="equal")
    # 'auto' classes with weights: checked against the input's class count
    layer = dltk.classificationLayer(ClassWeights=[1, 2, 3])
    with pytest.raises(OptionError, match="ClassWeights has 3 elements but the input has 4 classes"):
        layer.loss(probs(2, 4), torch.tensor([0, 1]))


def test_classes_keep_order_and_labels_helpers() -> None:
    layer = dltk.classificationLayer("Classes", [3, 1, 2])
    assert layer.Classes == ["3", "1", "2"] and layer.num_classes == 3
    assert layer.description() == "crossentropyex with '3' and 2 other classes"
    assert dltk.classificationLayer().description() == "crossentropyex"
    assert dltk.classificationLayer().LossFunction == "crossentropyex"
    y = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5]], dtype=torch.float64)
    pred = layer.predict_labels(y)
    assert pred.tolist() == [1, 0, 2]
    assert list(layer.class_names_of(pred)) == ["1", "3", "2"]
    assert layer.accuracy(y, torch.tensor([1, 0, 0])) == pytest.approx(2 / 3)
    # names set later (as training does) must match the class count and reach init_config
    auto = dltk.classificationLayer()
    auto.loss(probs(2, 3), torch.tensor([0, 2]))
    with pytest.raises(OptionError):
        auto.classes = ["a", "b"]
    auto.classes = ["x", "y", "z"]
    assert auto.init_config()[1]["classes"] == ["x", "y", "z"]


def test_sequence_accuracy_ignores_padding() -> None:
    layer = dltk.classificationLayer()
    y = torch.tensor([[[0.9, 0.1], [0.2, 0.8]], [[0.3, 0.7], [0.6, 0.4]]], dtype=torch.float64)
    t = torch.tensor([[0, 0], [1, 1]])
    assert layer.accuracy(y, t) == pytest.approx(0.5)
    assert layer.accuracy(y, t, lengths=torch.tensor([1, 1])) == pytest.approx(1.0)


# ---------------------------------------------------------------- regressionLayer
def test_regression_is_half_mse_not_divided_by_responses() -> None:
    layer = dltk.regressionLayer()
    y = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    t = torch.randn(5, 3, dtype=torch.float64)
    ref = 0.5 * F.mse_loss(y, t, reduction="sum") / 5
    close(layer.loss(y, t), ref)
    close(grad(layer.loss(y, t), y), (y - t).detach() / 5)  # MATLAB's backward (Y − T)/N
    assert not torch.isclose(layer.loss(y, t), 0.5 * F.mse_loss(y, t))  # that one divides by R too


def test_regression_sequences_images_and_padding() -> None:
    layer = dltk.regressionLayer()
    y = torch.randn(3, 6, 2, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 6, 2, dtype=torch.float64)
    close(layer.loss(y, t), 0.5 * F.mse_loss(y, t, reduction="sum") / (3 * 6))
    lengths = torch.tensor([6, 2, 3])
    keep = torch.arange(6)[None] < lengths[:, None]
    ref = 0.5 * F.mse_loss(y[keep], t[keep], reduction="sum") / lengths.sum()
    loss = layer.loss(y, t, lengths=lengths)
    close(loss, ref)
    close(grad(loss, y), grad(ref, y))
    img = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    timg = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    close(layer.loss(img, timg), 0.5 * ((img - timg) ** 2).sum() / 2)
    rec = dltk.record(layer, img, targets=timg)
    close(rec[layer.label]["loss"].mean(), rec.output)
    close(rec[layer.label]["error"], img - timg)


def test_regression_response_names_and_description() -> None:
    assert dltk.regressionLayer().description() == "mean-squared-error"
    layer = dltk.regressionLayer(ResponseNames=["a", "b", "c"])
    assert layer.description() == "mean-squared-error with 'a' and 2 other responses"
    assert dltk.regressionLayer(ResponseNames=["RUL"]).description() == "mean-squared-error with response 'RUL'"
    with pytest.raises(LayerInputError, match=r"regressionLayer 'regressionoutput'.*C is 2, expected 3"):
        layer.loss(torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(LayerInputError, match=r"expected targets \(4, 3\) BC \[MATLAB 3×4 CB\]"):
        layer.loss(torch.randn(4, 3), torch.randn(3, 4))


# ---------------------------------------------------------------- pixelClassificationLayer
def test_pixel_classification_ignores_undefined_like_ignore_index() -> None:
    w = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    layer = dltk.pixelClassificationLayer(ClassWeights=w.tolist(), Classes=["sky", "road", "car"])
    y = probs(2, 3, 5, 6, dim=1)
    t = torch.randint(-1, 3, (2, 5, 6))
    ref = F.nll_loss(torch.log(y), t, weight=w, ignore_index=-1, reduction="sum") / (t >= 0).sum()
    loss = layer.loss(y, t)
    close(loss, ref)
    close(grad(loss, y), grad(ref, y))
    rec = dltk.record(layer, y.detach(), targets=t)
    px = rec[layer.label]["pixel_loss"]
    assert px[t < 0].abs().sum() == 0 and px.shape == (2, 5, 6)
    close(px.sum() / (t >= 0).sum(), rec.output)
    assert layer.description() == "Cross-entropy loss with 'sky' and 2 other classes"


# ---------------------------------------------------------------- dicePixelClassificationLayer
def test_dice_matches_explicit_formula_and_gradient() -> None:
    layer = dltk.dicePixelClassificationLayer()
    y = probs(3, 4, 5, 5, dim=1)
    t = torch.randint(-1, 4, (3, 5, 5))
    t[0][t[0] == 2] = 1  # class 2 absent from image 0: weight 0, loss stays finite
    loss = layer.loss(y, t)
    ref = ref_dice(layer, y, t)
    close(loss, ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))
    rec = dltk.record(layer, y.detach(), targets=t)
    sig = rec[layer.label]
    assert sig["class_weights"][0, 2] == 0
    T0 = (t[0] == 1).double()
    close(sig["class_weights"][0, 1], 1 / T0.sum() ** 2)
    close(sig["intersection"][0, 1], (y.detach()[0, 1] * T0).sum())
    close(sig["loss"].mean(), rec.output)
    close(sig["loss"], 1 - sig["dice"])


def test_dice_of_a_perfect_prediction_is_zero() -> None:
    t = torch.randint(0, 3, (2, 6, 6))
    y = F.one_hot(t, 3).movedim(-1, 1).double()
    close(dltk.dicePixelClassificationLayer().loss(y, t), torch.tensor(0.0, dtype=torch.float64), atol=1e-9, rtol=0)


# ---------------------------------------------------------------- focalLossLayer
def test_focal_with_gamma_zero_is_alpha_times_cross_entropy() -> None:
    layer = dltk.focalLossLayer(Gamma=0, Alpha=0.7)
    y, t = probs(6, 4), torch.randint(0, 4, (6,))
    ref = 0.7 * F.nll_loss(torch.log(y), t)
    close(layer.loss(y, t), ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))


def test_focal_matches_one_hot_formula_with_gradient() -> None:
    layer = dltk.focalLossLayer()
    assert (layer.Alpha, layer.Gamma) == (0.25, 2.0)
    y, t = probs(2, 3, 4, 4, dim=1), torch.randint(-1, 3, (2, 4, 4))
    ref = ref_focal(layer, y, t)
    close(layer.loss(y, t), ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))
    rec = dltk.record(layer, y.detach(), targets=t)
    p = y.detach().gather(1, t.clamp(min=0)[:, None])[:, 0]
    close(rec[layer.label]["modulating_factor"], (1 - p) ** 2)
    with pytest.raises(OptionError, match="Gamma"):
        dltk.focalLossLayer(Gamma=-1)
    with pytest.raises(OptionError, match="Alpha"):
        dltk.focalLossLayer(Alpha=0)


# ---------------------------------------------------------------- custom-layer examples
def test_weighted_classification_example() -> None:
    w = [0.2, 0.8, 1.5]
    layer = dltk.weightedClassificationLayer(w, "weighted")
    assert layer.name == "weighted" and layer.description() == "Weighted cross entropy"
    y, t = probs(6, 3), torch.randint(0, 3, (6,))
    ref = F.nll_loss(torch.log(y), t, weight=torch.tensor(w, dtype=torch.float64), reduction="sum") / 6
    close(layer.loss(y, t), ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))
    rec = dltk.record(layer, y.detach(), targets=t)
    close(rec[layer.label]["class_weight_per_observation"], torch.tensor(w, dtype=torch.float64)[t])
    close(rec[layer.label]["loss"].mean(), rec.output)
    with pytest.raises(OptionError):
        dltk.weightedClassificationLayer("none")


def test_sse_and_mae_examples() -> None:
    sse = dltk.sseClassificationLayer("sse")
    y, t = probs(5, 3), torch.randint(0, 3, (5,))
    ref = F.mse_loss(y, F.one_hot(t, 3).double(), reduction="sum") / 5
    close(sse.loss(y, t), ref)
    close(grad(sse.loss(y, t), y), 2 * (y - F.one_hot(t, 3)).detach() / 5)
    mae = dltk.maeRegressionLayer("mae")
    y = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    tt = torch.randn(4, 3, dtype=torch.float64)
    close(mae.loss(y, tt), F.l1_loss(y, tt))
    close(grad(mae.loss(y, tt), y), torch.sign(y - tt).detach() / 12)  # MATLAB: sign(Y−T)/(N·R)
    assert (sse.description(), mae.description()) == ("Sum of squares error", "Mean absolute error")


def test_tversky_example() -> None:
    layer = dltk.tverskyPixelClassificationLayer("tversky", 0.3, 0.7)
    assert (layer.name, layer.alpha, layer.beta) == ("tversky", 0.3, 0.7)
    default = dltk.tverskyPixelClassificationLayer("tv")
    assert (default.Alpha, default.Beta) == (0.5, 0.5)
    y, t = probs(2, 3, 5, 4, dim=1), torch.randint(-1, 3, (2, 5, 4))
    ref = ref_tversky(layer, y, t)
    close(layer.loss(y, t), ref)
    close(grad(layer.loss(y, t), y), grad(ref, y))
    rec = dltk.record(layer, y.detach(), targets=t)
    sig = rec[layer.label]
    T = F.one_hot(t.clamp(min=0), 3).movedim(-1, 1).double() * (t >= 0)[:, None]
    close(sig["TP"], (y.detach() * T).sum((2, 3)))
    close(sig["loss"].mean(), rec.output)


@pytest.mark.parametrize(
    "front, args",
    [
        ("classificationLayer", ()),
        ("regressionLayer", ()),
        ("pixelClassificationLayer", ()),
        ("dicePixelClassificationLayer", ()),
        ("focalLossLayer", ()),
        ("weightedClassificationLayer", ([1.0, 2.0],)),
        ("sseClassificationLayer", ()),
        ("maeRegressionLayer", ()),
        ("tverskyPixelClassificationLayer", ()),
    ],
)
def test_output_layer_contract(front: str, args: tuple) -> None:
    layer = getattr(dltk, front)(*args)
    assert layer.is_output_layer and layer.output_names == () and layer.input_names == ("in",)
    assert layer.task in ("classification", "regression")
    if layer.task == "classification":
        assert layer.classes == "auto"
    assert layer.description() and "\n" not in layer.description()


def test_matlab_string_pairs() -> None:
    a = dltk.classificationLayer("Name", "out", "Classes", ["x", "y"], "ClassWeights", np.array([1.0, 4.0]))
    assert a.name == "out" and a.Classes == ["x", "y"] and a.ClassWeights.tolist() == [1.0, 4.0]
    f = dltk.focalLossLayer("Alpha", 0.5, "Gamma", 3, "Classes", ["bg", "fg"])
    assert (f.alpha, f.gamma, f.classes) == (0.5, 3.0, ["bg", "fg"])
    with pytest.raises(OptionError, match="unknown option 'Weights'"):
        dltk.classificationLayer("Weights", [1, 2])


# ---------------------------------------------------------------- in a network
def test_network_loss_through_output_layer_with_variable_length_sequences() -> None:
    net = dltk.Network(
        [
            dltk.sequenceInputLayer(3),
            dltk.lstmLayer(5),
            dltk.fullyConnectedLayer(4),
            dltk.softmaxLayer(),
            dltk.classificationLayer(),
        ]
    ).double()
    X = [
        torch.randn(6, 3, dtype=torch.float64),
        torch.randn(2, 3, dtype=torch.float64),
        torch.randn(4, 3, dtype=torch.float64),
    ]
    T = torch.randint(0, 4, (3, 6))
    y = net(X)  # (3, 6, 4), padded right
    real_y = torch.cat([y[0, :6], y[1, :2], y[2, :4]])
    real_t = torch.cat([T[0, :6], T[1, :2], T[2, :4]])
    close(net.loss(X, T), dltk.classificationLayer().loss(real_y, real_t))
    rec = dltk.record(net, X, targets=T)
    assert rec["classoutput"]["step_loss"].shape == (3, 6)
    close(rec.output, net.loss(X, T).detach())


@pytest.mark.parametrize("out", ["classificationLayer", "sseClassificationLayer", "focalLossLayer"])
def test_training_through_the_output_layer_lowers_the_loss(out: str) -> None:
    X = torch.randn(60, 2)
    labels = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    net = dltk.Network(
        [dltk.featureInputLayer(2), dltk.fullyConnectedLayer(2), dltk.softmaxLayer(), getattr(dltk, out)()]
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    first = float(net.loss(X, labels).detach())
    for _ in range(60):
        opt.zero_grad()
        net.loss(X, labels).backward()
        opt.step()
    assert float(net.loss(X, labels).detach()) < 0.5 * first
    assert net.output_layer.accuracy(net(X).detach(), labels) > 0.9
