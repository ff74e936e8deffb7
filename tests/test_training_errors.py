"""The commonest training mistakes get a message naming the mistake and its fix (issue 16 items 4 and 6).

Each case used to fail with a misleading message ("12 expected, got 12", "Make
fullyConnectedLayer's OutputSize 0", a loss layer talking about a (4, 1) mini-batch) or
silently (labels 1 and "1" merged, an Inf token index embedded).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltk
from dltk.errors import DataError, LayerInputError

RNG = np.random.default_rng(0)
OPTS = dltk.trainingOptions("adam", MaxEpochs=1, MiniBatchSize=4, Verbose=False)
XSEQ = [RNG.standard_normal((7, 3)).astype(np.float32) for _ in range(12)]
XFEAT = RNG.standard_normal((12, 4)).astype(np.float32)
YSTR = np.array([str(k % 3) for k in range(12)])


def _sequence_layers(mode: str):
    return [
        dltk.sequenceInputLayer(3),
        dltk.lstmLayer(5, OutputMode=mode),
        dltk.fullyConnectedLayer(3),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]


def _feature_layers(k: int = 3):
    return [dltk.featureInputLayer(4), dltk.fullyConnectedLayer(k), dltk.softmaxLayer(), dltk.classificationLayer()]


def test_forgotten_output_mode_last_is_named():
    with pytest.raises(DataError, match=r"OutputMode='last'") as info:
        dltk.trainNetwork(XSEQ, YSTR, _sequence_layers("sequence"), OPTS)
    assert "one label per sequence" in str(info.value) and "12 expected, got 12" not in str(info.value)
    with pytest.raises(DataError, match=r"one response per sequence.*OutputMode='last'"):
        layers = [dltk.sequenceInputLayer(3), dltk.lstmLayer(5), dltk.fullyConnectedLayer(1), dltk.regressionLayer()]
        dltk.trainNetwork(XSEQ, RNG.standard_normal(12).astype(np.float32), layers, OPTS)
    net, _ = dltk.trainNetwork(XSEQ, YSTR, _sequence_layers("last"), OPTS)  # the fix works
    assert net is not None


@pytest.mark.parametrize("k", [2, 3])
def test_one_hot_labels_are_named_with_the_fix(k):
    onehot = np.eye(3)[np.arange(12) % 3]
    with pytest.raises(DataError, match=r"one-hot.*Y\.argmax\(axis=1\)") as info:
        dltk.trainNetwork(XFEAT, onehot, _feature_layers(k), OPTS)
    assert "OutputSize" not in str(info.value)
    net, _ = dltk.trainNetwork(XFEAT, onehot.argmax(axis=1), _feature_layers(3), OPTS)
    assert net is not None


@pytest.mark.parametrize("labels", [(np.arange(12) % 3).reshape(-1, 1), YSTR.reshape(-1, 1)], ids=["int", "str"])
def test_matlab_label_column_is_named_with_the_fix(labels):
    with pytest.raises(DataError, match=r"12×1.*Y\.ravel\(\)") as info:
        dltk.trainNetwork(XFEAT, labels, _feature_layers(), OPTS)
    assert "(4, 1)" not in str(info.value)
    for layers in (_sequence_layers("last"),):
        with pytest.raises(DataError, match=r"Y\.ravel\(\)"):
            dltk.trainNetwork(XSEQ, labels, layers, OPTS)


@pytest.mark.parametrize(
    "X, Y",
    [(np.zeros((0, 4), np.float32), np.array([], dtype=str)), ([], [])],
    ids=["array", "list"],
)
def test_empty_training_data_is_named(X, Y):
    layers = _feature_layers() if isinstance(X, np.ndarray) else _sequence_layers("last")
    with pytest.raises(DataError, match=r"X holds no observations") as info:
        dltk.trainNetwork(X, Y, layers, OPTS)
    assert "OutputSize" not in str(info.value)


def test_empty_regression_data_is_named():
    layers = [dltk.featureInputLayer(4), dltk.fullyConnectedLayer(1), dltk.regressionLayer()]
    with pytest.raises(DataError, match=r"X holds no observations"):
        dltk.trainNetwork(np.zeros((0, 4), np.float32), np.zeros((0, 1), np.float32), layers, OPTS)


@pytest.mark.parametrize(
    "labels",
    [[1, "1", 2] * 4, ["a", 2, "b"] * 4, [True, 1, 0] * 4, np.array([1, "2", 3] * 4, dtype=object)],
    ids=["int-text", "text-int", "bool-int", "object-array"],
)
def test_mixed_label_types_are_refused(labels):
    with pytest.raises(DataError, match=r"mix types"):
        dltk.trainNetwork(XFEAT, labels, _feature_layers(), OPTS)


def test_mixed_label_types_in_validation_data_are_refused():
    opts = dltk.trainingOptions(
        "adam", MaxEpochs=1, MiniBatchSize=4, Verbose=False, ValidationData=(XFEAT[:6], [1, "1", 2] * 2)
    )
    with pytest.raises(DataError, match=r"ValidationData.*mix types"):
        dltk.trainNetwork(XFEAT, np.arange(12) % 3, _feature_layers(), opts)


def test_one_label_type_still_trains():
    for labels in ([1, 2, 3] * 4, ["x", "y", "z"] * 4, np.array([1.0, 2.0, 3.0] * 4)):
        net, info = dltk.trainNetwork(XFEAT, labels, _feature_layers(), OPTS)
        assert info.NumIterations == 3


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_token_index_is_refused(bad):
    emb = dltk.wordEmbeddingLayer(3, 10)
    with pytest.raises(LayerInputError, match=r"wordEmbeddingLayer .*whole-number word indices.*found"):
        emb(torch.tensor([[[1.0], [bad]]]))
    assert emb(torch.tensor([[[1.0], [4.0]]])).shape == (1, 2, 3)
