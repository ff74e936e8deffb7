"""Battery cases for the input layers.

References are explicit float64 formulas on the MATLAB-shaped statistics
(numpy arrays in MATLAB's h×w×c / c×1 order, transposed here by hand), so a
wrong axis order in the layer's MATLAB ↔ dltk conversion fails the match.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import dltk
from dltk.testing import Bench, LayerCase

from ._bench import feat, img, seq, standardize, vol

RNG = np.random.default_rng(7)
MU_C = RNG.normal(size=(12, 1))  # c×1
SD_C = RNG.uniform(0.5, 2.0, size=(12, 1))
MU_IMG = RNG.normal(size=(1, 1, 3))  # 1×1×c
LO_IMG = RNG.normal(size=(4, 5, 3)) - 2  # h×w×c
HI_IMG = LO_IMG + RNG.uniform(1, 3, size=(4, 5, 3))
MU_SEQ_IMG = RNG.normal(size=(4, 5, 2))  # h×w×c per element
MU_3D = RNG.normal(size=(1, 1, 1, 2))
SD_3D = RNG.uniform(0.5, 2.0, size=(1, 1, 1, 2))
LO_F, HI_F = RNG.normal(size=(6, 1)), RNG.normal(size=(6, 1)) + 4


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float64)


def _hwc_to_chw(a: np.ndarray) -> torch.Tensor:
    return _t(np.transpose(a, (2, 0, 1)))


def _hwdc_to_cdhw(a: np.ndarray) -> torch.Tensor:
    return _t(np.transpose(a, (3, 2, 0, 1)))


def _zscore_seq(layer, x):
    return (x - _t(MU_C[:, 0])) / _t(SD_C[:, 0])


def _zerocenter_img(layer, x):
    return x - _hwc_to_chw(MU_IMG)


def _rescale_sym_img(layer, x):
    lo, hi = _hwc_to_chw(LO_IMG), _hwc_to_chw(HI_IMG)
    return 2 * (x - lo) / (hi - lo) - 1


def _seq_img(layer, x):
    return x - _hwc_to_chw(MU_SEQ_IMG)  # (B, T, C, H, W) - (C, H, W)


def _zscore_3d(layer, x):
    return (x - _hwdc_to_cdhw(MU_3D)) / _hwdc_to_cdhw(SD_3D)


def _zero_one_feat(layer, x):
    return (x - _t(LO_F[:, 0])) / (_t(HI_F[:, 0]) - _t(LO_F[:, 0]))


def _double(x):
    return 2 * x + 1


CASES = [
    LayerCase(
        id="sequenceInputLayer-none",
        make=lambda: dltk.sequenceInputLayer(12, MinLength=3),
        inputs=lambda: [torch.randn(2, 5, 12)],
        reference=lambda layer, x: x,
        signal_shapes={"raw": (2, 5, 12), "normalized": (2, 5, 12)},
        bad_inputs=[
            ([torch.randn(2, 5, 11)], "C is 11, expected 12"),
            ([torch.randn(2, 12)], "rank 2"),
            ([torch.randn(2, 2, 12)], "MinLength = 3"),
            ([torch.ones(2, 5, 12, dtype=torch.int64)], "floating-point"),
        ],
        bench=Bench(
            make=lambda: dltk.sequenceInputLayer(64, Normalization="zscore"),
            torch=lambda: standardize(64),
            inputs=lambda: [seq()],
        ),
    ),
    LayerCase(
        id="sequenceInputLayer-zscore",
        make=lambda: dltk.sequenceInputLayer(12, Normalization="zscore", Mean=MU_C, StandardDeviation=SD_C),
        inputs=lambda: [torch.randn(3, 4, 12)],
        reference=_zscore_seq,
        signal_shapes={"raw": (3, 4, 12), "normalized": (3, 4, 12)},
    ),
    LayerCase(
        id="sequenceInputLayer-images-element",
        make=lambda: dltk.sequenceInputLayer(
            [4, 5, 2], Normalization="zerocenter", NormalizationDimension="element", Mean=MU_SEQ_IMG
        ),
        inputs=lambda: [torch.randn(2, 3, 2, 4, 5)],
        reference=_seq_img,
        signal_shapes={"raw": (2, 3, 2, 4, 5), "normalized": (2, 3, 2, 4, 5)},
        bad_inputs=[([torch.randn(2, 3, 2, 5, 4)], "H is 5, expected 4")],
    ),
    LayerCase(
        id="featureInputLayer-rescale-zero-one",
        make=lambda: dltk.featureInputLayer(6, Normalization="rescale-zero-one", Min=LO_F, Max=HI_F),
        inputs=lambda: [torch.randn(4, 6)],
        reference=_zero_one_feat,
        signal_shapes={"raw": (4, 6), "normalized": (4, 6)},
        bad_inputs=[([torch.randn(4, 5)], "C is 5, expected 6"), ([torch.randn(4, 2, 6)], "rank 3")],
        bench=Bench(
            make=lambda: dltk.featureInputLayer(256, Normalization="zscore"),
            torch=lambda: standardize(256),
            inputs=lambda: [feat()],
        ),
    ),
    LayerCase(
        id="featureInputLayer-function",
        make=lambda: dltk.featureInputLayer(3, Normalization=_double),
        inputs=lambda: [torch.randn(4, 3)],
        reference=lambda layer, x: _double(x),
    ),
    LayerCase(
        id="imageInputLayer-zerocenter",
        make=lambda: dltk.imageInputLayer([4, 5, 3], Mean=MU_IMG),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        reference=_zerocenter_img,
        signal_shapes={"raw": (2, 3, 4, 5), "normalized": (2, 3, 4, 5)},
        bad_inputs=[
            ([torch.randn(2, 1, 4, 5)], "C is 1, expected 3"),
            ([torch.randn(2, 3, 5, 4)], "H is 5, expected 4"),
            ([torch.randn(3, 4, 5)], "rank 3"),
        ],
        bench=Bench(
            make=lambda: dltk.imageInputLayer([28, 28, 16], Normalization="zscore"),
            torch=lambda: standardize(16, 1, 1),
            inputs=lambda: [img()],
        ),
    ),
    LayerCase(
        id="imageInputLayer-rescale-symmetric-element",
        make=lambda: dltk.imageInputLayer(
            [4, 5, 3], Normalization="rescale-symmetric", NormalizationDimension="element", Min=LO_IMG, Max=HI_IMG
        ),
        inputs=lambda: [torch.randn(2, 3, 4, 5)],
        reference=_rescale_sym_img,
    ),
    LayerCase(
        id="image3dInputLayer-zscore",
        make=lambda: dltk.image3dInputLayer([4, 5, 3, 2], Normalization="zscore", Mean=MU_3D, StandardDeviation=SD_3D),
        inputs=lambda: [torch.randn(2, 2, 3, 4, 5)],
        reference=_zscore_3d,
        signal_shapes={"raw": (2, 2, 3, 4, 5), "normalized": (2, 2, 3, 4, 5)},
        bad_inputs=[([torch.randn(2, 2, 4, 4, 5)], "D is 4, expected 3")],
        bench=Bench(
            make=lambda: dltk.image3dInputLayer([16, 16, 16, 8], Normalization="zscore"),
            torch=lambda: standardize(8, 1, 1, 1),
            inputs=lambda: [vol()],
        ),
    ),
    LayerCase(
        id="roiInputLayer",
        make=lambda: dltk.roiInputLayer(),
        inputs=lambda: [torch.tensor([[0.0, 1, 1, 4, 3], [1, 2, 5, 2, 2]])],
        reference=lambda layer, x: x,
        signal_shapes={"raw": (2, 5)},
        bad_inputs=[
            ([torch.ones(2, 4)], "(R, 5)"),
        ],
        bench=Bench(
            make=lambda: dltk.roiInputLayer(), torch=lambda: nn.Identity(), inputs=lambda: [torch.rand(64, 5) * 16]
        ),
    ),
]
