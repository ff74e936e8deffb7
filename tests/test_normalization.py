"""Batch, group and cross-channel normalization against torch modules (outputs, gradients, running statistics)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

import dltk
from dltk.errors import LayerInputError, OptionError

D = torch.float64


def _grads(module, x, *params):
    x = x.clone().requires_grad_(True)
    y = module(x)
    torch.manual_seed(11)
    (y * torch.randn_like(y)).sum().backward()
    return [y.detach(), x.grad] + [p.grad for p in params]


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recorded"])
def test_batchnorm_training_and_running_statistics_match_torch(record: bool) -> None:
    layer = dltk.batchNormalizationLayer(Offset=[0.1, 0.2, -0.3], Scale=[1.0, 2.0, 0.5], NumChannels=3).double()
    ref = nn.BatchNorm2d(3, eps=1e-5, momentum=0.1).double()
    with torch.no_grad():
        ref.weight.copy_(layer.scale)
        ref.bias.copy_(layer.offset)
    for step in range(3):
        x = torch.randn(4, 3, 5, 2, dtype=D) * (step + 1) + step
        got = _grads(
            lambda t: dltk.record(layer, t, keep_graph=True).output if record else layer(t),
            x,
            layer.scale,
            layer.offset,
        )
        want = _grads(ref, x, ref.weight, ref.bias)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
        for p in (layer.scale, layer.offset, ref.weight, ref.bias):
            p.grad = None
        if record:  # a recording never moves the running statistics (issue 16)
            assert torch.equal(layer.running_mean, torch.zeros(3, dtype=D))
            assert torch.equal(layer.running_var, torch.ones(3, dtype=D))
            continue
        torch.testing.assert_close(layer.running_mean, ref.running_mean, atol=1e-14, rtol=0)
        torch.testing.assert_close(layer.running_var, ref.running_var, atol=1e-14, rtol=0)
    if record:
        return
    layer.eval(), ref.eval()
    x = torch.randn(2, 3, 5, 2, dtype=D)
    torch.testing.assert_close(layer(x), ref(x), atol=1e-12, rtol=0)


def test_batchnorm_sequences_use_every_time_step_and_different_decays() -> None:
    layer = dltk.batchNormalizationLayer(MeanDecay=0.3, VarianceDecay=0.05).double()
    x = torch.randn(4, 7, 3, dtype=D)  # (B, T, C)
    rec = dltk.record(layer, x)
    flat = x.reshape(-1, 3)  # all B·T elements of each channel
    m = flat.mean(0)
    torch.testing.assert_close(rec["batchnorm"]["batch_mean"], m)
    torch.testing.assert_close(rec["batchnorm"]["batch_variance"], flat.var(0, correction=0))
    torch.testing.assert_close(layer.running_mean, 0.3 * m)  # μ* = λ μ_B + (1 − λ) μ*, μ* starts at 0
    torch.testing.assert_close(layer.running_var, 0.05 * flat.var(0, correction=1) + 0.95)
    torch.testing.assert_close(rec["batchnorm"]["running_variance"], layer.running_var)
    # the plain path (no recording) does the same update when the decays differ
    other = dltk.batchNormalizationLayer(MeanDecay=0.3, VarianceDecay=0.05).double()
    torch.testing.assert_close(other(x), rec.output)
    torch.testing.assert_close(other.running_var, layer.running_var)


def test_batchnorm_auto_channels_matlab_views_and_state_dict_into_fresh_layer() -> None:
    layer = dltk.batchNormalizationLayer()
    assert layer.NumChannels == "auto" and layer.description() == "Batch normalization" and layer.Scale is None
    layer(torch.randn(4, 6))
    assert layer.NumChannels == 6 and layer.description() == "Batch normalization with 6 channels"
    assert tuple(layer.TrainedMean.shape) == (6, 1) and tuple(layer.Offset.shape) == (6, 1)  # C×1 for CB
    img = dltk.batchNormalizationLayer()
    img(torch.randn(2, 4, 3, 3))
    assert tuple(img.TrainedVariance.shape) == (1, 1, 4) and tuple(img.Scale.shape) == (1, 1, 4)  # 1×1×C
    vol = dltk.batchNormalizationLayer()
    vol(torch.randn(2, 2, 3, 3, 3))
    assert tuple(vol.TrainedMean.shape) == (1, 1, 1, 2)
    img.TrainedMean = [1.0, 2.0, 3.0, 4.0]
    assert img.running_mean.tolist() == [1.0, 2.0, 3.0, 4.0]
    fresh = dltk.batchNormalizationLayer()
    fresh.load_state_dict(img.state_dict())
    img.eval(), fresh.eval()
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(fresh(x), img(x))


def test_batchnorm_options() -> None:
    bn = dltk.batchNormalizationLayer()
    assert (bn.Epsilon, bn.MeanDecay, bn.VarianceDecay) == (1e-5, 0.1, 0.1)
    assert (bn.OffsetL2Factor, bn.ScaleL2Factor, bn.OffsetLearnRateFactor) == (1.0, 1.0, 1.0)
    with pytest.raises(OptionError, match="batchNormalizationLayer: Epsilon must be >= 1e-05"):
        dltk.batchNormalizationLayer(Epsilon=1e-6)
    with pytest.raises(OptionError, match="MeanDecay"):
        dltk.batchNormalizationLayer(MeanDecay=1.5)
    with pytest.raises(OptionError, match="ScaleInitializer"):
        dltk.batchNormalizationLayer(ScaleInitializer="glorious")
    bn = dltk.batchNormalizationLayer(NumChannels=3, ScaleInitializer="zeros", ScaleL2Factor=0)
    assert bn.scale.tolist() == [0.0, 0.0, 0.0] and bn.learn_factors()["scale"] == (1.0, 0.0)
    with pytest.raises(LayerInputError, match="more than one value per channel"):
        dltk.batchNormalizationLayer().train()(torch.randn(1, 5))
    assert dltk.batchNormalizationLayer().eval()(torch.randn(1, 5)).shape == (1, 5)  # fine at prediction


@pytest.mark.parametrize("groups, c", [(2, 4), ("all-channels", 3), ("channel-wise", 3), (3, 6)])
def test_groupnorm_matches_torch_with_gradients(groups, c) -> None:
    layer = dltk.groupNormalizationLayer(groups, NumChannels=c, Epsilon=1e-4).double()
    g = {"all-channels": 1, "channel-wise": c}.get(groups, groups)
    ref = nn.GroupNorm(g, c, eps=1e-4).double()
    with torch.no_grad():
        layer.scale.uniform_(0.5, 1.5)
        layer.offset.normal_()
        ref.weight.copy_(layer.scale)
        ref.bias.copy_(layer.offset)
    x = torch.randn(3, c, 4, 2, dtype=D) * 2 + 1
    for a, b in zip(_grads(layer, x, layer.scale, layer.offset), _grads(ref, x, ref.weight, ref.bias)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    rec = dltk.record(layer, x)
    torch.testing.assert_close(rec.output, ref(x), atol=1e-12, rtol=1e-10)
    xg = x.reshape(3, g, -1)
    torch.testing.assert_close(rec["groupnorm"]["group_mean"], xg.mean(-1))
    torch.testing.assert_close(rec["groupnorm"]["group_variance"], xg.var(-1, correction=0))


def test_groupnorm_options_and_errors() -> None:
    gn = dltk.groupNormalizationLayer(4)
    assert gn.description() == "Group normalization with 4 groups"
    gn(torch.randn(2, 8, 3, 3))
    assert gn.description() == "Group normalization with 8 channels split into 4 groups"
    with pytest.raises(OptionError, match="numGroups 3 must divide NumChannels 8"):
        dltk.groupNormalizationLayer(3, NumChannels=8)
    with pytest.raises(LayerInputError, match="groupNormalizationLayer 'groupnorm'.*divisible by numGroups 3, got 8"):
        dltk.groupNormalizationLayer(3)(torch.randn(2, 8, 3, 3))
    with pytest.raises(OptionError, match="Allowed values: 'all-channels', 'channel-wise'"):
        dltk.groupNormalizationLayer("all")


def test_cross_channel_window_is_asymmetric_for_even_sizes() -> None:
    x = torch.randn(2, 6, 3, 3, dtype=D)
    odd = dltk.crossChannelNormalizationLayer(5, Alpha=0.5, K=1.0)
    torch.testing.assert_close(odd(x), nn.LocalResponseNorm(5, 0.5, 0.75, 1.0)(x), atol=1e-14, rtol=0)
    even = dltk.crossChannelNormalizationLayer(4, Alpha=0.5, K=1.0)
    # MATLAB: channel c sees channels c-1 … c+2 (previous floor(3/2) = 1, next 2); torch sees c-2 … c+1
    ss = (x[:, 0:3] ** 2).sum(1)  # channel 0: itself and the next two
    torch.testing.assert_close(even(x)[:, 0], x[:, 0] / (1.0 + 0.5 * ss / 4) ** 0.75)
    assert not torch.allclose(even(x), F.local_response_norm(x, 4, 0.5, 0.75, 1.0))
    rec = dltk.record(even, x)
    torch.testing.assert_close(rec.output, x / rec["crossnorm"]["scale"])


def test_cross_channel_gradients_match_torch_and_options() -> None:
    layer = dltk.crossChannelNormalizationLayer(3, Alpha=0.2, Beta=0.6, K=1.5)
    x = torch.randn(2, 5, 3, 2, dtype=D)
    for a, b in zip(_grads(layer, x), _grads(nn.LocalResponseNorm(3, 0.2, 0.6, 1.5), x)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    d = dltk.crossChannelNormalizationLayer(5)
    assert (d.Alpha, d.Beta, d.K, d.WindowChannelSize) == (1e-4, 0.75, 2.0, 5)
    assert d.description() == "cross channel normalization with 5 channels per element"
    with pytest.raises(OptionError, match="windowChannelSize must be at most 16"):
        dltk.crossChannelNormalizationLayer(17)
