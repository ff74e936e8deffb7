"""Battery cases for batch, group and cross-channel normalization.

References: ``F.batch_norm``, ``F.group_norm``, ``F.local_response_norm`` (odd
windows) and an explicit float64 loop for MATLAB's asymmetric even window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import img

_OFF3, _SC3 = [0.1, -0.2, 0.3], [1.5, 0.5, 2.0]
_OFF4, _SC4 = [0.1, -0.2, 0.3, 0.0], [1.5, 0.5, 2.0, -1.0]
_BN_TRAIN = ("batch_mean", "batch_variance", "normalized", "running_mean", "running_variance")


def _bn_train(layer, x):
    """Training-mode batch norm of (B, C, …) data: statistics of this batch."""
    return F.batch_norm(x, None, None, layer.scale, layer.offset, True, 0.0, layer.epsilon)


def _bn_eval(layer, x):
    return F.batch_norm(x, layer.running_mean, layer.running_var, layer.scale, layer.offset, False, 0.0, layer.epsilon)


def _bn_train_seq(layer, x):  # (B, T, C): channels to axis 1 for torch
    return _bn_train(layer, x.transpose(1, 2)).transpose(1, 2)


def _bn_train_image_seq(layer, x):  # (B, T, C, H, W): every frame is an observation
    return _bn_train(layer, x.flatten(0, 1)).unflatten(0, x.shape[:2])


def _gn(layer, x):
    return F.group_norm(x, layer.groups, layer.scale, layer.offset, layer.epsilon)


def _gn_seq(layer, x):
    return _gn(layer, x.transpose(1, 2)).transpose(1, 2)


def _lrn_torch(layer, x):
    return F.local_response_norm(x, layer.window_channel_size, layer.alpha, layer.beta, layer.k)


def _lrn_explicit(layer, x):
    """MATLAB's formula channel by channel: previous floor((w-1)/2), next floor(w/2) channels."""
    w, c = layer.window_channel_size, x.shape[1]
    y = torch.empty_like(x)
    for i in range(c):
        lo, hi = max(0, i - (w - 1) // 2), min(c - 1, i + w // 2)
        ss = (x[:, lo : hi + 1] ** 2).sum(1)
        y[:, i] = x[:, i] / (layer.k + layer.alpha * ss / w) ** layer.beta
    return y


def _image_sequence(layer):
    layer.input_layout = "BTCHW"
    return layer


CASES = [
    LayerCase(
        id="batchNormalizationLayer-image-train",
        make=lambda: dltk.batchNormalizationLayer(NumChannels=3, Offset=_OFF3, Scale=_SC3),
        inputs=lambda: [torch.randn(4, 3, 3, 2) * 2 + 1],
        reference=_bn_train,
        train=True,
        signal_shapes={
            "batch_mean": (3,),
            "batch_variance": (3,),
            "normalized": (4, 3, 3, 2),
            "running_mean": (3,),
            "running_variance": (3,),
        },
        bad_inputs=[
            ([torch.randn(4, 2, 3, 2)], "C is 2, expected 3"),
            ([torch.randn(1, 3, 1, 1)], "more than one value per channel"),
        ],
        bench=Bench(
            make=lambda: dltk.batchNormalizationLayer(), torch=lambda: nn.BatchNorm2d(16), inputs=lambda: [img()]
        ),
    ),
    LayerCase(
        id="batchNormalizationLayer-image-eval",
        make=lambda: dltk.batchNormalizationLayer(
            Offset=_OFF3, Scale=_SC3, NumChannels=3, TrainedMean=[0.5, -1.0, 0.0], TrainedVariance=[2.0, 0.5, 1.5]
        ),
        inputs=lambda: [torch.randn(2, 3, 2, 2)],
        reference=_bn_eval,
        signal_shapes={"normalized": (2, 3, 2, 2), "running_mean": (3,)},
        absent_signals=("batch_mean", "batch_variance"),
        bad_inputs=[([torch.randn(2, 4, 2, 2)], "C is 4, expected 3")],
    ),
    LayerCase(
        id="batchNormalizationLayer-auto-features-train",
        make=lambda: dltk.batchNormalizationLayer(),
        inputs=lambda: [torch.randn(6, 4)],
        reference=_bn_train,
        train=True,
        signal_shapes={"batch_mean": (4,), "normalized": (6, 4)},
        bad_inputs=[([torch.randn(6, 5)], "C is 5, expected 4")],
    ),
    LayerCase(
        id="batchNormalizationLayer-sequence-train-decays",
        make=lambda: dltk.batchNormalizationLayer(
            MeanDecay=0.3, VarianceDecay=0.05, Epsilon=1e-3, Offset=_OFF3, Scale=_SC3
        ),
        inputs=lambda: [torch.randn(2, 5, 3)],
        reference=_bn_train_seq,
        train=True,
        signal_shapes={"batch_variance": (3,), "normalized": (2, 5, 3), "running_variance": (3,)},
    ),
    LayerCase(
        id="batchNormalizationLayer-image3d-eval",
        make=lambda: dltk.batchNormalizationLayer(
            NumChannels=2, TrainedMean=[1.0, 2.0], TrainedVariance=[0.5, 3.0], Scale=[2.0, 0.5]
        ),
        inputs=lambda: [torch.randn(2, 2, 2, 3, 2)],
        reference=_bn_eval,
        absent_signals=("batch_mean", "batch_variance"),
    ),
    LayerCase(
        id="batchNormalizationLayer-image-sequence-train",
        make=lambda: _image_sequence(dltk.batchNormalizationLayer(Offset=_OFF3, Scale=_SC3, NumChannels=3)),
        inputs=lambda: [torch.randn(2, 3, 3, 2, 2)],
        reference=_bn_train_image_seq,
        train=True,
        signal_shapes={"batch_mean": (3,), "normalized": (2, 3, 3, 2, 2)},
    ),
    LayerCase(
        id="groupNormalizationLayer-2groups-image",
        make=lambda: dltk.groupNormalizationLayer(2, Offset=_OFF4, Scale=_SC4),
        inputs=lambda: [torch.randn(3, 4, 3, 2) * 3 - 1],
        reference=_gn,
        signal_shapes={"group_mean": (3, 2), "group_variance": (3, 2), "normalized": (3, 4, 3, 2)},
        bad_inputs=[([torch.randn(3, 5, 3, 2)], "C is 5, expected 4"), ([torch.randn(4)], "rank 1")],
        bench=Bench(
            make=lambda: dltk.groupNormalizationLayer(4), torch=lambda: nn.GroupNorm(4, 16), inputs=lambda: [img()]
        ),
    ),
    LayerCase(
        id="groupNormalizationLayer-all-channels-sequence",
        make=lambda: dltk.groupNormalizationLayer("all-channels", NumChannels=3, Offset=_OFF3, Scale=_SC3),
        inputs=lambda: [torch.randn(2, 4, 3)],
        reference=_gn_seq,
        signal_shapes={"group_mean": (2, 1), "normalized": (2, 4, 3)},
    ),
    LayerCase(
        id="groupNormalizationLayer-channel-wise-image",
        make=lambda: dltk.groupNormalizationLayer("channel-wise", Epsilon=1e-4, Scale=_SC3, Offset=_OFF3),
        inputs=lambda: [torch.randn(2, 3, 3, 3)],
        reference=_gn,
        signal_shapes={"group_mean": (2, 3), "group_variance": (2, 3)},
    ),
    LayerCase(
        id="groupNormalizationLayer-features",
        make=lambda: dltk.groupNormalizationLayer(2, NumChannels=4, Scale=_SC4),
        inputs=lambda: [torch.randn(3, 4)],
        reference=_gn,
        signal_shapes={"group_mean": (3, 2), "normalized": (3, 4)},
    ),
    LayerCase(
        id="crossChannelNormalizationLayer-odd-vs-torch",
        make=lambda: dltk.crossChannelNormalizationLayer(5, Alpha=0.3, Beta=0.75, K=1.0),
        inputs=lambda: [torch.randn(2, 7, 3, 3)],
        reference=_lrn_torch,
        signal_shapes={"scale": (2, 7, 3, 3)},
        bad_inputs=[([torch.randn(2, 7)], "rank 2"), ([torch.ones(2, 3, 2, 2, dtype=torch.int64)], "floating-point")],
        bench=Bench(
            make=lambda: dltk.crossChannelNormalizationLayer(5),
            torch=lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            inputs=lambda: [img()],
        ),
    ),
    LayerCase(
        id="crossChannelNormalizationLayer-default-odd",
        make=lambda: dltk.crossChannelNormalizationLayer(3),
        inputs=lambda: [torch.randn(2, 4, 2, 2) * 10],
        reference=_lrn_explicit,
        signal_shapes={"scale": (2, 4, 2, 2)},
    ),
    LayerCase(
        id="crossChannelNormalizationLayer-even-explicit",
        make=lambda: dltk.crossChannelNormalizationLayer(4, Alpha=0.5, Beta=0.6, K=1.5),
        inputs=lambda: [torch.randn(2, 6, 2, 3)],
        reference=_lrn_explicit,
        signal_shapes={"scale": (2, 6, 2, 3)},
    ),
    LayerCase(
        id="crossChannelNormalizationLayer-volume",
        make=lambda: dltk.crossChannelNormalizationLayer(3, Alpha=0.2),
        inputs=lambda: [torch.randn(2, 4, 2, 2, 2)],
        reference=_lrn_torch,
        signal_shapes={"scale": (2, 4, 2, 2, 2)},
    ),
]
