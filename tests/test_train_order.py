"""The mini-batch order trainNetwork really uses, observed directly: the observations each training
step sees, per epoch, for Shuffle 'never', 'once' and 'every-epoch'."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltk

N, BS, EPOCHS = 14, 4, 5  # 3 full mini-batches per epoch; 2 observations dropped each epoch (as MATLAB)


def _orders(shuffle: str, seed: int = 0) -> list[list[int]]:
    """The observation ids seen by each epoch's training steps, in order."""
    torch.manual_seed(seed)
    X = np.arange(N, dtype=np.float64).reshape(N, 1)  # the predictor is the observation's id
    Y = np.zeros((N, 1))
    fc = dltk.fullyConnectedLayer(1, Name="fc")
    seen: list[list[int]] = []

    def spy(mod, args):  # noqa: ANN001, ANN202
        if mod.training:  # training steps only, not validation or prediction
            seen.append([int(v) for v in args[0].detach().reshape(-1).tolist()])

    fc.register_forward_pre_hook(spy)
    layers = [dltk.featureInputLayer(1, Normalization="none"), fc, dltk.regressionLayer()]
    opts = dltk.trainingOptions("sgdm", MaxEpochs=EPOCHS, MiniBatchSize=BS, Shuffle=shuffle, Verbose=False)
    dltk.trainNetwork(X, Y, layers, opts)
    steps = N // BS
    assert len(seen) == EPOCHS * steps and all(len(b) == BS for b in seen)
    return [sum(seen[e * steps : (e + 1) * steps], []) for e in range(EPOCHS)]


def test_never_keeps_the_data_order():
    orders = _orders("never")
    assert all(o == list(range(N - N % BS)) for o in orders)


def test_once_shuffles_before_the_first_epoch_only():
    orders = _orders("once")
    assert orders[0] != list(range(N - N % BS)) and len(set(orders[0])) == len(orders[0])
    assert all(o == orders[0] for o in orders)
    assert _orders("once", seed=1)[0] != orders[0]  # the shuffle follows the seed


def test_every_epoch_shuffles_each_epoch():
    orders = _orders("every-epoch")
    for a, b in zip(orders, orders[1:]):
        assert a != b
    assert all(len(set(o)) == len(o) for o in orders)  # each epoch a permutation (no repeats)
    assert orders[0] != list(range(N - N % BS))
    # the dropped remainder changes too: over the epochs every observation is seen
    assert set().union(*map(set, orders)) == set(range(N))
    assert _orders("every-epoch") == orders  # reproducible under the same seed


@pytest.mark.parametrize("shuffle", ["once", "every-epoch"])
def test_shuffled_batches_still_pair_predictors_with_their_responses(shuffle):
    """A shuffle that permutes X but not Y would train on wrong pairs: the fit must stay exact."""
    torch.manual_seed(0)
    X = np.linspace(-1, 1, 16).reshape(16, 1)
    Y = 3 * X - 0.5
    layers = [dltk.featureInputLayer(1), dltk.fullyConnectedLayer(1), dltk.regressionLayer()]
    opts = dltk.trainingOptions(
        "sgdm", MaxEpochs=150, MiniBatchSize=4, Shuffle=shuffle, InitialLearnRate=0.1, Verbose=False
    )
    net, _ = dltk.trainNetwork(X, Y, layers, opts)
    np.testing.assert_allclose(dltk.predict(net, X), Y, atol=2e-2)
