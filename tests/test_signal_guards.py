"""Recorded signals checked against their own definition, not through a neighbouring value.

Each test here guards a signal a student reads (or a lesson grades) that other tests only saw
indirectly: a bug in the signal alone (an index off by one, a mask that does not match the output,
batch statistics of the wrong axis…) must fail here even while the layer's output stays right.
References are explicit (float64, written from the documented formula), never the layer itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dltk

D = torch.float64


# ------------------------------------------------------------------ max pooling: recorded indices
def _distinct(*shape: int) -> torch.Tensor:
    """Random values without ties, so every window has exactly one winner."""
    n = int(np.prod(shape))
    return (torch.randperm(n, dtype=D) + torch.rand(n, dtype=D) * 0.5).view(shape)


def _reference_indices(x: torch.Tensor, pool: tuple, stride: tuple, pads: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Window maxima and flat unpadded-plane indices from an explicit -inf padding (torch-order pads)."""
    n = len(pool)
    flat_pads = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    padded = F.pad(x, flat_pads, value=-float("inf"))
    fn = F.max_pool2d if n == 2 else F.max_pool3d
    y, idx = fn(padded, pool, stride, return_indices=True)
    coords = np.unravel_index(idx.numpy(), padded.shape[2:])
    coords = [c - pads[k][0] for k, c in enumerate(coords)]
    assert all((c >= 0).all() and (c < x.shape[2 + k]).all() for k, c in enumerate(coords))
    return y, torch.as_tensor(np.ravel_multi_index(coords, x.shape[2:]))


PADS_2D = [  # (Padding option, torch-order pairs)
    (0, ((0, 0), (0, 0))),
    (1, ((1, 1), (1, 1))),
    ([1, 0, 0, 2], ((1, 0), (0, 2))),  # [t b l r]
    ([0, 2, 1, 0], ((0, 2), (1, 0))),
]


@pytest.mark.parametrize(("padding", "pads"), PADS_2D)
def test_max_pool_2d_recorded_indices(padding, pads) -> None:
    x = _distinct(2, 3, 7, 6)
    kw = dict(Stride=2, Padding=padding)
    rec = dltk.record(dltk.maxPooling2dLayer(3, **kw), x)
    idx = rec["maxpool"]["indices"]
    # 1. the recorded indices are the layer's own unpooling indices
    y, unpool_idx, _ = dltk.maxPooling2dLayer(3, HasUnpoolingOutputs=True, **kw)(x)
    assert idx.dtype == torch.int64 and torch.equal(idx, unpool_idx)
    # 2. gathering the input at them gives the window maxima
    assert torch.equal(x.flatten(2).gather(2, idx.flatten(2)).view_as(y), rec.output)
    assert torch.equal(rec["maxpool"]["window_max"], rec.output)
    # 3. and they are the explicit reference's winners
    ry, ridx = _reference_indices(x, (3, 3), (2, 2), pads)
    assert torch.equal(rec.output, ry) and torch.equal(idx, ridx)
    # 4. the recorded indices of a layer with unpooling outputs are the ones it returns
    rec2 = dltk.record(dltk.maxPooling2dLayer(3, HasUnpoolingOutputs=True, **kw), x)
    assert torch.equal(rec2["maxpool"]["indices"], unpool_idx)


def test_max_pool_2d_indices_on_the_issue_example() -> None:
    x = torch.arange(16, dtype=D).view(1, 1, 4, 4)  # winners: bottom-right of each 2×2 block
    rec = dltk.record(dltk.maxPooling2dLayer(2, Stride=2), x)
    assert rec["maxpool"]["indices"].flatten().tolist() == [5, 7, 13, 15]
    x = torch.tensor([[9.0, 0, 9, 0], [0, 0, 0, 0], [9, 0, 9, 0], [0, 0, 0, 0]], dtype=D).view(1, 1, 4, 4)
    rec = dltk.record(dltk.maxPooling2dLayer(2, Stride=2), x)  # winners: top-left of each block
    assert rec["maxpool"]["indices"].flatten().tolist() == [0, 2, 8, 10]


PADS_3D = [
    (0, ((0, 0), (0, 0), (0, 0))),
    (1, ((1, 1), (1, 1), (1, 1))),
    ([[1, 0, 2], [2, 1, 1]], ((2, 1), (1, 2), (0, 1))),  # [t l f; b r k] -> torch (d, h, w)
]


@pytest.mark.parametrize(("padding", "pads"), PADS_3D)
def test_max_pool_3d_recorded_indices(padding, pads) -> None:
    x = _distinct(2, 2, 5, 6, 4)
    rec = dltk.record(dltk.maxPooling3dLayer([3, 2, 3], Stride=2, Padding=padding), x)
    idx = rec["maxpool"]["indices"]
    assert idx.dtype == torch.int64 and idx.shape == rec.output.shape
    assert torch.equal(x.flatten(2).gather(2, idx.flatten(2)).view_as(rec.output), rec.output)
    ry, ridx = _reference_indices(x, (3, 3, 2), (2, 2, 2), pads)  # pool [h w d] -> torch (d, h, w)
    assert torch.equal(rec.output, ry) and torch.equal(idx, ridx)


@pytest.mark.parametrize("n", [2, 3])
def test_max_pool_switch_mask_is_the_count_of_recorded_indices(n) -> None:
    x = _distinct(2, 3, 6, 7) if n == 2 else _distinct(1, 2, 5, 4, 6)
    layer = dltk.maxPooling2dLayer(3, Padding=[1, 0, 0, 1]) if n == 2 else dltk.maxPooling3dLayer(3, Padding=1)
    s = dltk.record(layer, x)["maxpool"]
    counts = torch.zeros(x.shape[:2].numel(), x.shape[2:].numel(), dtype=D)
    flat = s["indices"].flatten(2).flatten(0, 1)
    counts.scatter_add_(1, flat, torch.ones(flat.shape, dtype=D))
    assert torch.equal(s["switch_mask"], counts.view_as(x))
    assert s["switch_mask"].sum() == s["indices"].numel()


# ------------------------------------------------------------------ output layers: per-observation signals
def test_classification_per_observation_loss_and_probability() -> None:
    """Each observation's own loss, not only their mean (a permuted or shifted loss keeps the mean)."""
    layer = dltk.classificationLayer()
    y = torch.softmax(torch.randn(6, 4, dtype=D), -1)
    t = torch.tensor([0, 3, 1, 1, 2, 0])
    s = dltk.record(layer, y, targets=t)[layer.label]
    p = torch.stack([y[b, t[b]] for b in range(6)])
    assert torch.equal(s["true_class_probability"], p)
    torch.testing.assert_close(s["loss"], -torch.log(p), rtol=1e-12, atol=0)
    assert torch.equal(s["predicted"], y.argmax(1)) and torch.equal(s["correct"], y.argmax(1) == t)


def test_sequence_classification_per_observation_loss_over_real_steps() -> None:
    layer = dltk.classificationLayer()
    y = torch.softmax(torch.randn(3, 5, 4, dtype=D), -1)
    t = torch.randint(0, 4, (3, 5))
    lengths = torch.tensor([5, 2, 4])
    s = dltk.record(layer, y, targets=t, lengths=lengths)[layer.label]
    for b, n in enumerate(lengths.tolist()):
        ref = -torch.log(y[b, torch.arange(n), t[b, :n]]).mean()
        torch.testing.assert_close(s["loss"][b], ref, rtol=1e-12, atol=0)
        assert torch.equal(s["true_class_probability"][b, :n], y[b, torch.arange(n), t[b, :n]])


def test_regression_error_and_per_observation_loss() -> None:
    layer = dltk.regressionLayer()
    y, t = torch.randn(5, 3, dtype=D), torch.randn(5, 3, dtype=D)
    rec = dltk.record(layer, y, targets=t)
    s = rec[layer.label]
    assert torch.equal(s["error"], y - t)  # sign: prediction minus target, as documented
    torch.testing.assert_close(s["loss"], 0.5 * ((y - t) ** 2).sum(1), rtol=1e-12, atol=0)
    torch.testing.assert_close(rec.output, 0.5 * ((y - t) ** 2).sum() / 5, rtol=1e-12, atol=0)


# ------------------------------------------------------------------ batch normalization: the normalized signal
def test_batch_norm_normalized_signal_in_training_and_prediction() -> None:
    x = torch.randn(4, 3, 5, 5, dtype=D) * 3 + 1
    net = dltk.network.Network([dltk.imageInputLayer([5, 5, 3], Normalization="none"), dltk.batchNormalizationLayer()])
    net = net.double()
    bn = net["batchnorm"]
    with torch.no_grad():
        bn.scale.copy_(torch.tensor([1.5, -2.0, 0.5], dtype=D))
        bn.offset.copy_(torch.tensor([0.1, 0.2, -0.3], dtype=D))
    eps = bn.epsilon
    net.train()
    before_mean, before_var = bn.running_mean.clone(), bn.running_var.clone()
    s = dltk.record(net, x)["batchnorm"]
    mean = x.mean((0, 2, 3))
    var = ((x - mean.view(1, -1, 1, 1)) ** 2).mean((0, 2, 3))  # biased, over B, H, W
    ref = (x - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + eps)
    torch.testing.assert_close(s["normalized"], ref, rtol=1e-10, atol=1e-12)
    # the running statistics after this step's update (MATLAB: unbiased variance in the running estimate)
    m = x.numel() // 3
    ref_mean = before_mean + bn.mean_decay * (mean - before_mean)
    ref_var = before_var + bn.variance_decay * (var * m / (m - 1) - before_var)
    torch.testing.assert_close(s["running_mean"], ref_mean, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(s["running_variance"], ref_var, rtol=1e-12, atol=1e-14)
    net.eval()
    s = dltk.record(net, x)["batchnorm"]
    rm, rv = bn.running_mean.view(1, -1, 1, 1), bn.running_var.view(1, -1, 1, 1)
    torch.testing.assert_close(s["normalized"], (x - rm) / torch.sqrt(rv + eps), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        s["output"], bn.scale.view(1, -1, 1, 1) * s["normalized"] + bn.offset.view(1, -1, 1, 1), rtol=1e-10, atol=1e-12
    )


# ------------------------------------------------------------------ fully connected: input_flat and pre_bias
@pytest.mark.parametrize("shape", [(4, 6), (2, 5, 6), (2, 3, 4, 2)])
def test_fully_connected_input_flat_and_pre_bias(shape) -> None:
    x = torch.randn(*shape, dtype=D)
    layer = dltk.fullyConnectedLayer(3, BiasInitializer="narrow-normal").double()
    rec = dltk.record(layer, x)
    assert bool((layer.bias != 0).all())  # a zero bias would hide a pre_bias that includes it
    s = rec["fc"]
    if len(shape) == 4:  # image (B, C, H, W): MATLAB column-major, height fastest, then width, then channel
        B, C, H, W = shape
        flat = torch.empty(B, C * H * W, dtype=D)
        for c in range(C):
            for w in range(W):
                for h in range(H):
                    flat[:, h + H * w + H * W * c] = x[:, c, h, w]
    else:
        flat = x
    assert torch.equal(s["input_flat"], flat)
    pre = flat @ layer.weight.T
    torch.testing.assert_close(s["pre_bias"], pre, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(rec.output, pre + layer.bias, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ convolution: padded_input and pre_bias
@pytest.mark.parametrize("value", [0, 2.5, "replicate", "symmetric-include-edge"])
def test_convolution_padded_input_and_pre_bias(value) -> None:
    layer = dltk.convolution2dLayer(3, 2, Padding=[1, 0, 0, 1], PaddingValue=value, BiasInitializer="narrow-normal")
    layer = layer.double()
    x = torch.randn(2, 3, 4, 5, dtype=D)
    rec = dltk.record(layer, x)
    assert bool((layer.bias != 0).all())
    pad = (0, 1, 1, 0)  # [t b l r] = [1 0 0 1] -> F.pad's (left, right, top, bottom)
    if value == "replicate":
        ref = F.pad(x, pad, mode="replicate")
    elif value == "symmetric-include-edge":  # mirror including the edge: the padded row repeats the first row
        ref = torch.cat([x[:, :, :1], x], 2)
        ref = torch.cat([ref, ref[:, :, :, -1:]], 3)
    else:
        ref = F.pad(x, pad, value=float(value))
    assert torch.equal(rec["conv"]["padded_input"], ref)
    pre = F.conv2d(ref, layer.weight)
    torch.testing.assert_close(rec["conv"]["pre_bias"], pre, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(rec.output, pre + layer.bias.view(1, -1, 1, 1), rtol=1e-12, atol=1e-13)
