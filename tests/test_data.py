"""Data sets: shapes, labels, seeds; seed_everything makes runs repeatable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltk
from dltk.data import digits, forecasting_series, japanese_vowels, long_memory, sequence_labelling, waveforms
from dltk.errors import OptionError


def test_japanese_vowels_matches_matlab_description():
    XTrain, YTrain, XTest, YTest = japanese_vowels()
    assert (len(XTrain), len(XTest)) == (270, 370)
    assert all(x.shape[1] == 12 and x.dtype == np.float32 for x in XTrain + XTest)
    assert sorted(set(YTrain)) == [str(i) for i in range(1, 10)] and sorted(set(YTest)) == sorted(set(YTrain))
    lens = [len(x) for x in XTrain]
    assert (min(lens), max(lens)) == (7, 26)  # MATLAB: training sequences are 7–26 steps
    assert max(len(x) for x in XTest) == 29
    assert np.bincount(YTrain.astype(int))[1:].tolist() == [30] * 9
    assert XTrain[0].shape == (20, 12) and XTrain[0][0, 0] == pytest.approx(1.860936)


def test_japanese_vowels_missing_package(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sktime" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install sktime"):
        japanese_vowels()


def test_digits():
    XTrain, YTrain, XTest, YTest = digits()
    assert XTrain.shape[1:] == (1, 8, 8) and len(XTrain) + len(XTest) == 1797
    assert 0 <= XTrain.min() and XTrain.max() <= 1 and YTrain.dtype == np.int64
    assert set(YTest) == set(range(10)) and abs(len(XTest) / 1797 - 0.25) < 0.01
    with pytest.raises(OptionError, match="test_fraction"):
        digits(test_fraction=1.5)


def test_long_memory_label_lives_at_the_cue():
    X, Y = long_memory(50, T=12, gap=8, seed=1)
    cue = 12 - 1 - 8
    for x, y in zip(X, Y):
        assert x.shape == (12, 2) and x[cue, 1] == 1 and x[:, 1].sum() == 1
        assert x[cue, 0] == (1.0 if y == "A" else -1.0)
    assert set(Y) == {"A", "B"}
    with pytest.raises(OptionError, match="gap must be smaller than T"):
        long_memory(5, T=5, gap=5)


def test_generators_are_seeded_and_shaped():
    a, b = waveforms(10, seed=4), waveforms(10, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0])) and np.array_equal(a[1], b[1])
    assert not np.array_equal(waveforms(10, seed=5)[0][0][:5], a[0][0][:5])
    assert all(x.shape[1] == 3 and 40 <= len(x) <= 120 for x in a[0])
    X, Y = sequence_labelling(5, seed=0)
    assert all(len(x) == len(y) and x.shape[1] == 1 for x, y in zip(X, Y))
    assert set(np.concatenate(Y)) <= {"slow", "medium", "fast"}
    X, Y = forecasting_series(4, T=30)
    assert all(np.array_equal(x[1:], y[:-1]) for x, y in zip(X, Y))


def test_fast_mode_shrinks_defaults(monkeypatch):
    monkeypatch.setattr(dltk.config, "fast", True)
    assert len(long_memory()[0]) == 200
    monkeypatch.setattr(dltk.config, "fast", False)
    assert len(long_memory()[0]) == 600


def test_seed_everything_repeats_training_bit_for_bit():
    X, Y = long_memory(24, T=8)
    layers = [
        dltk.sequenceInputLayer(2),
        dltk.lstmLayer(4, OutputMode="last"),
        dltk.fullyConnectedLayer(2),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    opts = dltk.trainingOptions("adam", MaxEpochs=2, MiniBatchSize=8, Shuffle="every-epoch", Verbose=False)
    runs = []
    for _ in range(2):
        assert dltk.seed_everything(7) == 7
        net, info = dltk.trainNetwork(X, Y, [type(lay)(**lay.init_config()[1]) for lay in layers], opts)
        runs.append((info.TrainingLoss, net["fc"].weight.detach().clone()))
    torch.use_deterministic_algorithms(False)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert torch.equal(runs[0][1], runs[1][1])
