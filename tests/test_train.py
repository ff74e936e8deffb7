"""trainNetwork: solver semantics against hand computations, stopping, bad input, sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dltk
from dltk.errors import DataError, NetworkError, NonFiniteError, OptionError

# ----------------------------------------------------------- tiny linear model
X4 = np.array([[1.0, -2.0, 0.5], [0.3, 0.8, -1.2], [-0.7, 0.1, 2.0], [1.5, 1.1, -0.4]])
T4 = np.array([[0.5, -1.0], [2.0, 0.1], [-0.3, 0.7], [1.2, 1.8]])
# float32-exact, since the layer is built in float32 and then converted with .double()
W0 = np.array([[0.25, -0.125, 0.375], [0.3125, 0.5, -0.625]])
B0 = np.array([0.125, -0.25])


def _linear_layers(**fc):
    fc_layer = dltk.fullyConnectedLayer(2, InputSize=3, Weights=W0, Bias=B0, **fc).double()
    return [dltk.featureInputLayer(3), fc_layer, dltk.regressionLayer()]


def _reference(solver, iters, lr=0.1, l2=0.0, thr=math.inf, method="l2norm", wl2=1.0, blr=1.0, sched=None, **hp):
    """Hand-written MATLAB update rules in float64 NumPy (one full batch per iteration)."""
    W, b = W0.copy(), B0.copy()
    state = {}
    lrs = []
    for k in range(1, iters + 1):
        base = lr * (sched[0] ** ((k - 1) // sched[1]) if sched else 1.0)
        lrs.append(base)
        E = X4 @ W.T + b - T4  # (N, R); loss Σ ½E² / N
        gW, gb = E.T @ X4 / len(X4), E.sum(0) / len(X4)
        if method == "l2norm":
            gW, gb = (g * min(1.0, thr / np.linalg.norm(g)) for g in (gW, gb))
        elif method == "global-l2norm":
            s = min(1.0, thr / math.sqrt(np.sum(gW**2) + np.sum(gb**2)))
            gW, gb = gW * s, gb * s
        else:
            gW, gb = np.clip(gW, -thr, thr), np.clip(gb, -thr, thr)
        gW = gW + l2 * wl2 * W  # biases: L2 factor 0
        for name, p, g, a in (("W", W, gW, base), ("b", b, gb, base * blr)):
            st = state.setdefault(name, {})
            if solver == "sgdm":
                st["v"] = hp.get("mom", 0.9) * st.get("v", 0) - a * g
                p += st["v"]
            elif solver == "adam":
                b1, b2, eps = 0.9, 0.999, 1e-8
                st["m"] = b1 * st.get("m", 0) + (1 - b1) * g
                st["s"] = b2 * st.get("s", 0) + (1 - b2) * g * g
                p -= a * (st["m"] / (1 - b1**k)) / (np.sqrt(st["s"] / (1 - b2**k)) + eps)
            else:
                st["s"] = 0.9 * st.get("s", 0) + 0.1 * g * g
                p -= a * g / (np.sqrt(st["s"]) + 1e-8)
    return W, b, lrs


@pytest.mark.parametrize(
    ("solver", "opts", "ref"),
    [
        ("sgdm", {"L2Regularization": 0}, {}),
        ("sgdm", {"L2Regularization": 0.05, "Momentum": 0.5}, {"l2": 0.05, "mom": 0.5}),
        ("adam", {"L2Regularization": 0.01}, {"l2": 0.01}),
        ("rmsprop", {"L2Regularization": 0}, {}),
        ("sgdm", {"L2Regularization": 0, "GradientThreshold": 0.3}, {"thr": 0.3}),
        (
            "sgdm",
            {"L2Regularization": 0, "GradientThreshold": 0.3, "GradientThresholdMethod": "global-l2norm"},
            {"thr": 0.3, "method": "global-l2norm"},
        ),
        (
            "adam",
            {"L2Regularization": 0, "GradientThreshold": 0.05, "GradientThresholdMethod": "absolute-value"},
            {"thr": 0.05, "method": "absolute-value"},
        ),
        (
            "sgdm",
            {
                "LearnRateSchedule": "piecewise",
                "LearnRateDropFactor": 0.5,
                "LearnRateDropPeriod": 2,
                "L2Regularization": 0.02,
            },
            {"sched": (0.5, 2), "l2": 0.02},
        ),
    ],
)
def test_solver_matches_hand_computation(solver, opts, ref):
    opts = dltk.trainingOptions(
        solver, InitialLearnRate=0.1, MaxEpochs=5, MiniBatchSize=4, Shuffle="never", Verbose=False, **opts
    )
    net, info = dltk.trainNetwork(X4, T4, _linear_layers(), opts)
    W, b, lrs = _reference(solver, 5, **ref)
    fc = net["fc"]
    assert fc.weight.dtype == torch.float64
    np.testing.assert_allclose(fc.weight.detach().numpy(), W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fc.bias.detach().numpy(), b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(info.BaseLearnRate, lrs)


def test_per_parameter_factors():
    """WeightL2Factor scales λ for the weights; BiasLearnRateFactor scales the bias step; 0 freezes."""
    opts = dltk.trainingOptions(
        "sgdm",
        InitialLearnRate=0.1,
        MaxEpochs=3,
        MiniBatchSize=4,
        Shuffle="never",
        Verbose=False,
        L2Regularization=0.05,
    )
    net, _ = dltk.trainNetwork(X4, T4, _linear_layers(WeightL2Factor=3, BiasLearnRateFactor=0.5), opts)
    W, b, _ = _reference("sgdm", 3, l2=0.05, wl2=3.0, blr=0.5)
    np.testing.assert_allclose(net["fc"].weight.detach().numpy(), W, rtol=1e-12)
    np.testing.assert_allclose(net["fc"].bias.detach().numpy(), b, rtol=1e-12)
    frozen, _ = dltk.trainNetwork(X4, T4, _linear_layers(WeightLearnRateFactor=0), opts)
    np.testing.assert_array_equal(frozen["fc"].weight.detach().numpy(), W0)


def test_layers_are_not_changed_and_net_is_in_eval_mode():
    layers = _linear_layers()
    opts = dltk.trainingOptions("sgdm", MaxEpochs=2, MiniBatchSize=2, Verbose=False)
    net, info = dltk.trainNetwork(X4, T4, layers, opts)
    np.testing.assert_array_equal(layers[1].weight.detach().numpy(), W0)
    assert not net.training and len(info.TrainingLoss) == 4 and info.TrainingRMSE is not None
    assert info.TrainingAccuracy is None and info.training_loss is info.TrainingLoss
    assert info.StopReason == "Max epochs completed" and info.OutputNetworkIteration == 4


def test_leftover_observations_are_dropped_each_epoch():
    opts = dltk.trainingOptions("sgdm", MaxEpochs=3, MiniBatchSize=3, Verbose=False)
    _, info = dltk.trainNetwork(X4, T4, _linear_layers(), opts)
    assert len(info.TrainingLoss) == 3  # 4 observations, batches of 3: one iteration per epoch
    np.testing.assert_array_equal(info.Epoch, [1, 2, 3])


# --------------------------------------------------------------- stopping
def test_keyboard_interrupt_returns_what_was_trained(capsys):
    def stop_at_3(state):
        if state["Iteration"] == 3 and state["State"] == "iteration":
            raise KeyboardInterrupt

    opts = dltk.trainingOptions("sgdm", MaxEpochs=10, MiniBatchSize=2, Verbose=False, OutputFcn=stop_at_3)
    net, info = dltk.trainNetwork(X4, T4, _linear_layers(), opts)
    assert len(info.TrainingLoss) == 3 and "manually" in info.StopReason
    assert "interrupted at iteration 3" in capsys.readouterr().out
    assert not net.training and not np.array_equal(net["fc"].weight.detach().numpy(), W0)


def test_output_fcn_can_stop_training():
    seen = []

    def fn(state):
        seen.append(state["State"])
        return state["Iteration"] >= 2

    opts = dltk.trainingOptions("adam", MaxEpochs=10, MiniBatchSize=2, Verbose=False, OutputFcn=fn)
    _, info = dltk.trainNetwork(X4, T4, _linear_layers(), opts)
    assert len(info.TrainingLoss) == 2 and info.StopReason == "Stopped by OutputFcn" and seen[-1] == "done"


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.standard_normal((n, 2)) * 0.4 + np.array([[0, 2], [2, -1], [-2, -1]])[y]
    return X.astype(np.float32), y


def _cls_layers(k=3, **out):
    return [
        dltk.featureInputLayer(2),
        dltk.fullyConnectedLayer(k),
        dltk.softmaxLayer(),
        dltk.classificationLayer(**out),
    ]


def test_validation_patience_and_best_network():
    X, y = _blobs(90)
    opts = dltk.trainingOptions(
        "sgdm",
        InitialLearnRate=0.5,
        MaxEpochs=200,
        MiniBatchSize=30,
        Verbose=False,
        ValidationData=(X[:30], y[:30]),
        ValidationFrequency=1,
        ValidationPatience=3,
    )
    net, info = dltk.trainNetwork(X[30:], y[30:], _cls_layers(), opts)
    assert info.StopReason == "Met validation criterion" and len(info.TrainingLoss) < 600
    v = info.ValidationLoss[np.isfinite(info.ValidationLoss)]
    assert len(v) == len(info.TrainingLoss)  # validated every iteration
    best = int(np.nanargmin(info.ValidationLoss)) + 1
    assert info.OutputNetworkIteration == best  # OutputNetwork 'auto' with validation data -> best
    assert info.FinalValidationLoss == pytest.approx(np.nanmin(info.ValidationLoss), rel=1e-5)
    assert info.FinalValidationAccuracy > 90


def test_learning_happens_and_labels_keep_their_type():
    X, y = _blobs(90)
    opts = dltk.trainingOptions("adam", InitialLearnRate=0.05, MaxEpochs=30, MiniBatchSize=30, Verbose=False)
    net, info = dltk.trainNetwork(X, y, _cls_layers(), opts)
    assert info.TrainingLoss[-1] < 0.5 * info.TrainingLoss[0] and info.TrainingAccuracy[-1] > 90
    assert net.classes == ["0", "1", "2"]
    pred, scores = dltk.classify(net, X)
    assert pred.dtype.kind == "i" and (pred == y).mean() > 0.9 and scores.shape == (90, 3)
    names = np.array(["cat", "ant", "bee"])[y]
    net2, _ = dltk.trainNetwork(X, names, _cls_layers(), opts)
    assert net2.classes == ["ant", "bee", "cat"]  # sorted like MATLAB categorical
    given, _ = dltk.trainNetwork(X, names, _cls_layers(Classes=["cat", "bee", "ant"]), opts)
    assert given.classes == ["cat", "bee", "ant"]
    assert (dltk.classify(given, X)[0] == names).mean() > 0.9


def test_verbose_table_is_matlab_like(capsys):
    opts = dltk.trainingOptions(
        "sgdm", MaxEpochs=2, MiniBatchSize=2, VerboseFrequency=2, ValidationData=(X4, T4), ValidationFrequency=3
    )
    dltk.trainNetwork(X4, T4, _linear_layers(), opts)
    out = capsys.readouterr().out
    assert "|  Epoch  |  Iteration  |  Time Elapsed  |  Mini-batch  |  Mini-batch  |  Validation  |" in out
    assert "RMSE" in out and "Base Learning" in out and "Training finished: Max epochs completed." in out
    rows = [line for line in out.splitlines() if line.startswith("|") and line.split("|")[1].strip().isdigit()]
    assert [int(r.split("|")[2]) for r in rows] == [1, 2, 3, 4]


# -------------------------------------------------------------- bad input
def test_bad_data_raises_clear_errors():
    opts = dltk.trainingOptions("sgdm", MaxEpochs=1, MiniBatchSize=2, Verbose=False)
    bad = X4.copy()
    bad[2, 1] = np.nan
    with pytest.raises(DataError, match=r"observation 2 \(0-based\) contains NaN"):
        dltk.trainNetwork(bad, T4, _linear_layers(), opts)
    with pytest.raises(DataError, match="4 observations but 3 responses"):
        dltk.trainNetwork(X4, T4[:3], _linear_layers(), opts)
    X, y = _blobs(12)
    with pytest.raises(DataError, match=r"label 'dog' of observation 5 is not one of the 3 classes"):
        names = np.array(["a", "b", "c"])[y].astype(object)
        names[5] = "dog"
        dltk.trainNetwork(X, names, _cls_layers(Classes=["a", "b", "c"]), opts)
    with pytest.raises(DataError, match="predicts 2 classes .* labels have 3 classes"):
        dltk.trainNetwork(X, y, _cls_layers(k=2), opts)
    with pytest.raises(OptionError, match="options must come from dltk.trainingOptions"):
        dltk.trainNetwork(X4, T4, _linear_layers(), {"MaxEpochs": 1})
    with pytest.raises(NetworkError, match="needs an output layer"):
        dltk.trainNetwork(X4, T4, _linear_layers()[:2], opts)


def test_sequence_errors_name_the_cause():
    seqs = [np.zeros((5, 2)), np.ones((2, 2)), np.zeros((4, 2))]
    layers = [
        dltk.sequenceInputLayer(2, MinLength=3),
        dltk.lstmLayer(4, OutputMode="last"),
        dltk.fullyConnectedLayer(2),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    opts = dltk.trainingOptions("adam", MaxEpochs=1, MiniBatchSize=3, Verbose=False)
    with pytest.raises(DataError, match="sequence 1 has 2 time step.*MinLength 3"):
        dltk.trainNetwork(seqs, ["a", "b", "a"], layers, opts)
    seqs[1] = np.ones((3, 2))
    seqs[2] = seqs[2].copy()
    seqs[2][1, 0] = np.inf
    with pytest.raises(DataError, match=r"sequence 2 \(0-based\) contains NaN or Inf"):
        dltk.trainNetwork(seqs, ["a", "b", "a"], layers, opts)


def test_nan_loss_names_iteration_and_layer():
    opts = dltk.trainingOptions(
        "sgdm", InitialLearnRate=1e30, MaxEpochs=5, MiniBatchSize=4, Verbose=False, L2Regularization=0
    )
    layers = [dltk.featureInputLayer(3), dltk.fullyConnectedLayer(2, Name="fc_big"), dltk.regressionLayer()]
    with pytest.raises(NonFiniteError) as e:
        dltk.trainNetwork(X4 * 1e6, T4, layers, opts)
    msg = str(e.value)
    assert "iteration 2 (epoch 2)" in msg and "layer 'fc_big'" in msg


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpu_without_cuda_is_a_clear_error():
    opts = dltk.trainingOptions("sgdm", ExecutionEnvironment="gpu", Verbose=False)
    with pytest.raises(OptionError, match="ExecutionEnvironment 'gpu' needs a CUDA GPU"):
        dltk.trainNetwork(X4, T4, _linear_layers(), opts)


# --------------------------------------------------------------- sequences
def _seq_data(n=24, seed=0):
    X, Y = dltk.data.waveforms(n, length=(6, 14), channels=2, seed=seed)
    return X, Y


def _seq_layers(mode="last", h=6, k=4, **inp):
    return [
        dltk.sequenceInputLayer(2, **inp),
        dltk.lstmLayer(h, OutputMode=mode),
        dltk.fullyConnectedLayer(k),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]


def test_masking_makes_padding_direction_irrelevant():
    X, Y = _seq_data()
    first = {}
    for d in ("right", "left"):
        torch.manual_seed(0)
        opts = dltk.trainingOptions(
            "adam", MaxEpochs=2, MiniBatchSize=8, Shuffle="never", Verbose=False, SequencePaddingDirection=d
        )
        net, info = dltk.trainNetwork(X, Y, _seq_layers(), opts)
        first[d] = (info.TrainingLoss, dltk.predict(net, X))
    np.testing.assert_allclose(first["right"][0], first["left"][0], rtol=1e-5)
    np.testing.assert_allclose(first["right"][1], first["left"][1], rtol=1e-4, atol=1e-6)


def test_without_masking_last_with_right_padding_sees_padding():
    X, Y = _seq_data()
    torch.manual_seed(0)
    opts = dltk.trainingOptions("adam", MaxEpochs=1, MiniBatchSize=8, Verbose=False)
    net, _ = dltk.trainNetwork(X, Y, _seq_layers(), opts)
    masked = dltk.predict(net, X, MiniBatchSize=24)
    raw_right = dltk.predict(net, X, MiniBatchSize=24, SequenceMasking=False)
    raw_left = dltk.predict(net, X, MiniBatchSize=24, SequenceMasking=False, SequencePaddingDirection="left")
    alone = np.concatenate([dltk.predict(net, [x], SequenceMasking=False) for x in X])
    np.testing.assert_allclose(alone, masked, rtol=1e-4, atol=1e-6)  # one sequence: no padding
    np.testing.assert_allclose(raw_left, masked, rtol=1e-3, atol=1e-4)  # zeros before the data barely matter
    assert np.abs(raw_right - masked).max() > 1e-3  # 'last' reads a padded step: the trap


def _s2s_layers():
    return [
        dltk.sequenceInputLayer(1),
        dltk.lstmLayer(8),
        dltk.fullyConnectedLayer(3),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]


def test_sequence_to_sequence_classification_and_chunks():
    X, Y = dltk.data.sequence_labelling(16, length=(10, 20), segment=(4, 8))
    opts = dltk.trainingOptions("adam", InitialLearnRate=0.02, MaxEpochs=4, MiniBatchSize=8, Verbose=False)
    net, info = dltk.trainNetwork(X, Y, _s2s_layers(), opts)
    labels, scores = dltk.classify(net, X)
    assert [len(a) for a in labels] == [len(x) for x in X] and scores[0].shape == (len(X[0]), 3)
    assert set(np.concatenate(labels)) <= {"slow", "medium", "fast"}
    chunked = dltk.trainingOptions(
        "adam", InitialLearnRate=0.02, MaxEpochs=4, MiniBatchSize=8, Verbose=False, SequenceLength=5
    )
    _, info2 = dltk.trainNetwork(X, Y, _s2s_layers(), chunked)
    assert len(info2.TrainingLoss) == len(info.TrainingLoss)  # one update per mini-batch, chunks or not
    assert np.isfinite(info2.TrainingLoss).all()


def test_chunked_gradient_equals_full_when_chunk_covers_sequence():
    X, Y = _seq_data(16)
    res = []
    for L in ("longest", 40):
        torch.manual_seed(1)
        opts = dltk.trainingOptions(
            "sgdm", MaxEpochs=2, MiniBatchSize=8, Shuffle="never", Verbose=False, SequenceLength=L
        )
        net, info = dltk.trainNetwork(X, Y, _seq_layers(), opts)
        res.append(info.TrainingLoss)
    np.testing.assert_allclose(res[0], res[1], rtol=1e-5)


def test_regression_sequence_to_sequence_and_normalization():
    X, Y = dltk.data.forecasting_series(12, T=20)
    layers = [
        dltk.sequenceInputLayer(1, Normalization="zscore"),
        dltk.lstmLayer(8),
        dltk.fullyConnectedLayer(1),
        dltk.regressionLayer(),
    ]
    opts = dltk.trainingOptions("adam", InitialLearnRate=0.02, MaxEpochs=10, MiniBatchSize=6, Verbose=False)
    net, info = dltk.trainNetwork(X, Y, layers, opts)
    allx = np.concatenate(X)
    np.testing.assert_allclose(net.input_layers[0].Mean.numpy().ravel(), allx.mean(0), rtol=1e-4, atol=1e-6)
    assert info.TrainingRMSE[-1] < info.TrainingRMSE[0]
    pred = dltk.predict(net, X)
    assert [p.shape for p in pred] == [(20, 1)] * 12


# ------------------------------------------------------------ progress figure
def test_training_progress_plot_and_info_plot(monkeypatch):
    shown = []

    class Handle:
        def update(self, fig):
            shown.append(("update", fig))

    def fake_display(obj, display_id=False):
        shown.append(("display", obj))
        return Handle()

    import IPython.display

    from dltk.train import monitor

    monkeypatch.setattr(IPython.display, "display", fake_display)
    monkeypatch.setattr(monitor, "_display_mode", lambda: "inline")
    X, y = _blobs(60)
    opts = dltk.trainingOptions(
        "sgdm",
        MaxEpochs=3,
        MiniBatchSize=20,
        Verbose=False,
        Plots="training-progress",
        ValidationData=(X[:20], y[:20]),
        ValidationFrequency=2,
    )
    net, info = dltk.trainNetwork(X, y, _cls_layers(), opts)
    assert shown[0][0] == "display" and shown[-1][0] == "update"  # one display, then in-place updates
    assert all(isinstance(obj, IPython.display.Image) and obj.data[:4] == b"\x89PNG" for _, obj in shown)
    fig = info._extra["figure"]
    raw, smooth, val = fig.axes[0].lines[:3]  # accuracy panel: raw, smoothed, validation
    np.testing.assert_allclose(raw.get_ydata(), info.TrainingAccuracy)
    assert len(val.get_xdata()) == np.isfinite(info.ValidationAccuracy).sum() == 6  # it 1, 2, 4, 6, 8, 9
    text = fig.axes[2].texts[0].get_text()
    assert "Epoch:      3 of 3" in text and "Max epochs completed" in text and "Final validation" in text
    static = info.plot()
    np.testing.assert_allclose(static.axes[1].lines[0].get_ydata(), info.TrainingLoss)


def test_ema_is_debiased():
    from dltk.train.monitor import ema

    np.testing.assert_allclose(ema(np.array([2.0, 2.0, 2.0])), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(ema(np.array([1.0, np.nan, 3.0]), 0.5), [1.0, 1.0, (0.25 * 1 + 0.5 * 3) / 0.75])
