"""classify / predict / activations / stateful prediction: batching, padding and order never matter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltk
from dltk.errors import NetworkError, OptionError


@pytest.fixture(scope="module")
def seq_net():
    torch.manual_seed(0)
    X, Y = dltk.data.waveforms(27, length=(5, 30), channels=2, seed=3)
    layers = [
        dltk.sequenceInputLayer(2),
        dltk.lstmLayer(7, OutputMode="last", Name="lstm"),
        dltk.fullyConnectedLayer(4),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    opts = dltk.trainingOptions("adam", MaxEpochs=2, MiniBatchSize=9, Verbose=False)
    net, _ = dltk.trainNetwork(X, Y, layers, opts)
    return net, X, Y


def test_predictions_do_not_depend_on_batching_or_order(seq_net):
    net, X, _ = seq_net
    one = dltk.predict(net, X, MiniBatchSize=1)
    many = dltk.predict(net, X, MiniBatchSize=27)
    np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-6)
    perm = np.random.default_rng(0).permutation(len(X))
    shuffled = dltk.predict(net, [X[i] for i in perm], MiniBatchSize=5)
    np.testing.assert_allclose(shuffled, many[perm], rtol=1e-5, atol=1e-6)
    left = dltk.predict(net, X, MiniBatchSize=27, SequencePaddingDirection="left", SequencePaddingValue=7)
    np.testing.assert_allclose(left, many, rtol=1e-5, atol=1e-6)
    chunked = dltk.predict(net, X, MiniBatchSize=10, SequenceLength=4)  # state carried across chunks
    np.testing.assert_allclose(chunked, many, rtol=1e-5, atol=1e-6)
    labels, scores = dltk.classify(net, X, MiniBatchSize=4)
    np.testing.assert_allclose(scores, many, rtol=1e-5, atol=1e-6)
    assert labels.dtype.kind == "U" and set(labels) <= set(net.classes)
    np.testing.assert_array_equal(labels, np.array(net.classes)[many.argmax(1)])


def test_sequence_outputs_are_trimmed_per_observation():
    torch.manual_seed(0)
    layers = [dltk.sequenceInputLayer(3), dltk.lstmLayer(5), dltk.fullyConnectedLayer(2)]
    net = dltk.Network(layers)
    X = [np.random.default_rng(i).standard_normal((t, 3)).astype(np.float32) for i, t in enumerate([4, 9, 6])]
    full = dltk.predict(net, X)
    assert [f.shape for f in full] == [(4, 2), (9, 2), (6, 2)]
    for x, f in zip(X, full):
        alone = net(torch.as_tensor(x)[None]).detach().numpy()[0]
        np.testing.assert_allclose(f, alone, rtol=1e-5, atol=1e-6)
    chunked = dltk.predict(net, X, SequenceLength=3, MiniBatchSize=2)
    for a, b in zip(full, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_activations_match_record(seq_net):
    net, X, _ = seq_net
    act = dltk.activations(net, X, "fc", MiniBatchSize=5)
    rec = dltk.record(net, X[:1], layers=["fc"])
    np.testing.assert_allclose(act[0], rec["fc"]["output"].numpy()[0], rtol=1e-5, atol=1e-6)
    assert act.shape == (27, 4)
    by_index = dltk.activations(net, X, 3)  # 1-based index of 'fc'
    np.testing.assert_allclose(by_index, act, rtol=1e-5, atol=1e-6)
    with pytest.raises(NetworkError, match="no layer named 'nope'"):
        dltk.activations(net, X, "nope")
    with pytest.raises(NetworkError, match="has no output 'cell'"):
        dltk.activations(net, X, "lstm/cell")


def test_activations_of_a_state_output_port():
    torch.manual_seed(0)
    lstm = dltk.lstmLayer(5, HasStateOutputs=True, Name="lstm")
    lg = dltk.layerGraph([dltk.sequenceInputLayer(2, Name="in"), lstm, dltk.fullyConnectedLayer(3, Name="fc")])
    net = dltk.Network(lg)
    X = [np.ones((4, 2), np.float32), np.zeros((6, 2), np.float32)]
    cell = dltk.activations(net, X, "lstm/cell")
    hid = dltk.activations(net, X, "lstm/hidden")
    seq = dltk.activations(net, X, "lstm")
    assert cell.shape == (2, 5) and hid.shape == (2, 5)
    np.testing.assert_allclose(hid[0], seq[0][-1], rtol=1e-5, atol=1e-6)  # final hidden state = last output


def test_predict_and_update_state_in_pieces_equals_all_at_once():
    torch.manual_seed(0)
    X, Y = dltk.data.forecasting_series(6, T=24)
    layers = [dltk.sequenceInputLayer(1), dltk.lstmLayer(6), dltk.fullyConnectedLayer(1), dltk.regressionLayer()]
    net, _ = dltk.trainNetwork(X, Y, layers, dltk.trainingOptions("adam", MaxEpochs=2, MiniBatchSize=3, Verbose=False))
    whole = dltk.predict(net, X)
    state_net, first = dltk.predictAndUpdateState(net, [x[:10] for x in X], MiniBatchSize=4)
    state_net, rest = dltk.predictAndUpdateState(state_net, [x[10:] for x in X], MiniBatchSize=4)
    for w, a, b in zip(whole, first, rest):
        np.testing.assert_allclose(np.concatenate([a, b]), w, rtol=1e-5, atol=1e-6)
    assert net["lstm"].HiddenState is None  # the original network is unchanged
    assert state_net["lstm"].HiddenState.shape == (6, 6)  # n×N, one column per observation
    # step by step (one time step per call), as in closed-loop forecasting
    step_net = net
    outs = []
    for t in range(5):
        step_net, y = dltk.predictAndUpdateState(step_net, [X[0][t : t + 1]])
        outs.append(y[0])
    np.testing.assert_allclose(np.concatenate(outs), whole[0][:5], rtol=1e-5, atol=1e-6)
    reset = dltk.resetState(state_net)
    assert reset["lstm"].HiddenState is None and state_net["lstm"].HiddenState is not None
    np.testing.assert_allclose(dltk.predict(reset, X)[0], whole[0], rtol=1e-6)


def test_classify_and_update_state(seq_net):
    net, X, _ = seq_net
    new, labels, scores = dltk.classifyAndUpdateState(net, X[:3])
    ref_labels, ref_scores = dltk.classify(net, X[:3])
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    assert new["lstm"].HiddenState.shape == (7, 3)


def test_inference_errors():
    net = dltk.Network([dltk.featureInputLayer(2), dltk.fullyConnectedLayer(2)])
    with pytest.raises(NetworkError, match="no recurrent layer"):
        dltk.predictAndUpdateState(net, np.zeros((3, 2)))
    with pytest.raises(NetworkError, match="not a trained classification network"):
        dltk.classify(net, np.zeros((3, 2)))
    with pytest.raises(NetworkError, match="expected a trained network"):
        dltk.predict([dltk.featureInputLayer(2)], np.zeros((3, 2)))
    with pytest.raises(OptionError, match="unknown option 'MiniBatch'"):
        dltk.predict(net, np.zeros((3, 2)), MiniBatch=3)
    assert dltk.predict(net, np.zeros((3, 2)), "MiniBatchSize", 2).shape == (3, 2)


def test_shortest_truncates_at_the_padding_side():
    torch.manual_seed(0)
    net = dltk.Network([dltk.sequenceInputLayer(1), dltk.lstmLayer(3, OutputMode="last")])
    X = [np.arange(3, dtype=np.float32)[:, None], np.arange(5, dtype=np.float32)[:, None] / 5]
    right = dltk.predict(net, X, SequenceLength="shortest")
    left = dltk.predict(net, X, SequenceLength="shortest", SequencePaddingDirection="left")
    np.testing.assert_allclose(right, dltk.predict(net, [x[:3] for x in X]), rtol=1e-6)
    np.testing.assert_allclose(left, dltk.predict(net, [x[-3:] for x in X]), rtol=1e-6)
    assert np.abs(right[1] - left[1]).max() > 1e-4
