"""Input layers beyond the battery: statistics fitting, MATLAB views, defaults, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltk
from dltk.errors import LayerInputError, OptionError


def test_defaults_match_matlab() -> None:
    assert dltk.imageInputLayer([28, 28, 1]).Normalization == "zerocenter"
    assert dltk.image3dInputLayer([8, 8, 4, 1]).Normalization == "zerocenter"
    assert dltk.sequenceInputLayer(12).Normalization == "none"
    assert dltk.featureInputLayer(4).Normalization == "none"
    assert dltk.sequenceInputLayer(12).MinLength == 1
    assert dltk.imageInputLayer([28, 28]).input_size == (28, 28, 1)  # [h w] means one channel


def test_descriptions_in_matlab_style() -> None:
    assert dltk.imageInputLayer([28, 28, 3]).description() == "28×28×3 images with 'zerocenter' normalization"
    assert dltk.sequenceInputLayer(12).description() == "Sequence input with 12 dimensions"
    assert dltk.featureInputLayer(4, Normalization="zscore").description() == "4 features with 'zscore' normalization"


def test_layouts_and_examples() -> None:
    cases = [
        (dltk.sequenceInputLayer(12), "BTC", (2, 4, 12)),
        (dltk.sequenceInputLayer([6, 7, 3], MinLength=6), "BTCHW", (2, 6, 3, 6, 7)),  # T raised to MinLength
        (dltk.featureInputLayer(5), "BC", (2, 5)),
        (dltk.imageInputLayer([6, 7, 3]), "BCHW", (2, 3, 6, 7)),
        (dltk.image3dInputLayer([6, 7, 4, 2]), "BCDHW", (2, 2, 4, 6, 7)),
    ]
    for layer, layout, shape in cases:
        assert layer.is_input_layer and layer.input_names == ()
        assert layer.data_layout == layout
        ex = layer.example(batch=2, time=4)
        assert tuple(ex.shape) == shape and not ex.any()
        assert tuple(layer(ex).shape) == shape


@pytest.mark.parametrize("dim", ["auto", "channel", "element", "all"])
def test_fit_normalization_image_matches_numpy(dim: str) -> None:
    X = torch.rand(6, 3, 4, 5, dtype=torch.float64) * torch.tensor([1.0, 5, 10]).view(3, 1, 1)
    layer = dltk.imageInputLayer([4, 5, 3], Normalization="zscore", NormalizationDimension=dim).fit_normalization(X)
    x = X.numpy()
    axes = {"auto": (0, 2, 3), "channel": (0, 2, 3), "element": (0,), "all": (0, 1, 2, 3)}[dim]
    mu, sd = x.mean(axis=axes, keepdims=True)[0], x.std(axis=axes, ddof=1, keepdims=True)[0]
    np.testing.assert_allclose(layer.mean.numpy(), mu, rtol=1e-12)
    np.testing.assert_allclose(layer.std.numpy(), sd, rtol=1e-12)
    # MATLAB-shaped views: h×w×c (element) or 1×1×c (channel) or 1×1×1 (all)
    want = {"auto": (1, 1, 3), "channel": (1, 1, 3), "element": (4, 5, 3), "all": (1, 1, 1)}[dim]
    assert tuple(layer.Mean.shape) == want
    y = layer(X)
    np.testing.assert_allclose(y.numpy(), (x - mu) / sd, rtol=1e-12, atol=1e-12)


def test_fit_normalization_sequences_ignores_padding() -> None:
    seqs = [torch.randn(5, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64) + 4]
    a = dltk.sequenceInputLayer(3, Normalization="rescale-zero-one").fit_normalization(seqs)
    X, lengths = dltk.sequences.pad_sequences(seqs, value=-100.0)
    b = dltk.sequenceInputLayer(3, Normalization="rescale-zero-one").fit_normalization(X, lengths)
    both = torch.cat(seqs)
    for layer in (a, b):
        torch.testing.assert_close(layer.min, both.amin(0))
        torch.testing.assert_close(layer.max, both.amax(0))
    assert tuple(a.Min.shape) == (3, 1)  # MATLAB c×1


def test_unfitted_statistics_are_neutral_and_state_dict_carries_fitted_ones() -> None:
    x = torch.randn(4, 2, 3, 3)
    fresh = dltk.imageInputLayer([3, 3, 2], Normalization="zscore")
    torch.testing.assert_close(fresh(x), x)
    fitted = dltk.imageInputLayer([3, 3, 2], Normalization="zscore").fit_normalization(x)
    assert not torch.allclose(fitted(x), x)
    fresh.load_state_dict(fitted.state_dict())
    torch.testing.assert_close(fresh(x), fitted(x))


def test_min_length_with_lengths_names_the_layer() -> None:
    layer = dltk.sequenceInputLayer(2, MinLength=3, Name="seq")
    layer(torch.randn(2, 5, 2), lengths=torch.tensor([5, 3]))
    with pytest.raises(LayerInputError, match=r"sequenceInputLayer 'seq'.*MinLength = 3.*got a sequence of 2"):
        layer(torch.randn(2, 5, 2), lengths=torch.tensor([5, 2]))


def test_bad_options() -> None:
    with pytest.raises(OptionError, match="Normalization"):
        dltk.imageInputLayer([4, 4, 1], Normalization="zero-center")
    with pytest.raises(OptionError, match="1-D or 3-D image sequences"):
        dltk.sequenceInputLayer([4, 3])
    with pytest.raises(OptionError, match="inputSize"):
        dltk.imageInputLayer([4, 4, 1, 1])
    with pytest.raises(OptionError, match="Mean must have 1, 3"):
        dltk.imageInputLayer([4, 4, 3], Mean=np.zeros(5))
    with pytest.raises(OptionError, match="MinLength"):
        dltk.sequenceInputLayer(3, MinLength=0)


def test_roi_rows() -> None:
    roi = dltk.roiInputLayer(Name="rois")
    assert roi.is_input_layer and roi.data_layout == "ROI"
    ex = roi.example(batch=3)
    assert ex.shape == (3, 5) and ex[:, 0].tolist() == [0, 1, 2]
    with pytest.raises(LayerInputError, match="roiInputLayer 'rois'"):
        roi(torch.ones(3, 4))


def test_normalization_follows_statistics_changed_in_place_or_replaced() -> None:
    """zscore/rescale run as one cached affine map a·x + b; it must follow every change of
    the statistics and keep MATLAB's formula (float64 reference, atol 1e-12; float32 1e-6)."""
    x = torch.randn(5, 3, dtype=torch.float64)
    mu, sd = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    layer = dltk.featureInputLayer(3, Normalization="zscore", Mean=mu.tolist(), StandardDeviation=sd.tolist())
    torch.testing.assert_close(layer(x), (x - mu) / sd, atol=1e-12, rtol=0)
    torch.testing.assert_close(layer(x.float()), ((x - mu) / sd).float(), atol=1e-6, rtol=0)
    layer.mean.mul_(2)  # in place
    torch.testing.assert_close(layer(x), (x - 2 * mu) / sd, atol=1e-12, rtol=0)
    data = torch.randn(50, 3, dtype=torch.float64) * 3 + 1
    layer.fit_normalization(data)  # replaced
    torch.testing.assert_close(layer(x), (x - data.mean(0)) / data.std(0), atol=1e-12, rtol=0)
    lo, hi = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 4.0, 3.0], dtype=torch.float64)
    sym = dltk.featureInputLayer(3, Normalization="rescale-symmetric", Min=lo.tolist(), Max=hi.tolist())
    torch.testing.assert_close(sym(x), 2 * (x - lo) / (hi - lo) - 1, atol=1e-12, rtol=0)
    one = dltk.featureInputLayer(3, Normalization="rescale-zero-one", Min=lo.tolist(), Max=hi.tolist())
    torch.testing.assert_close(one(x), (x - lo) / (hi - lo), atol=1e-12, rtol=0)


def test_zero_standard_deviation_gives_matlabs_division() -> None:
    """A zero σ divides by zero as MATLAB does (±inf, NaN at x = μ), not an affine map's NaN."""
    layer = dltk.featureInputLayer(2, Normalization="zscore", Mean=[0.0, 1.0], StandardDeviation=[0.0, 1.0])
    y = layer(torch.tensor([[2.0, 3.0], [-1.0, 1.0], [0.0, 1.0]]))
    assert y[:, 0].tolist()[:2] == [float("inf"), float("-inf")] and torch.isnan(y[2, 0])
    assert y[:, 1].tolist() == [2.0, 0.0, 0.0]
