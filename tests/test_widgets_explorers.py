"""The lesson explorers of dltk.widgets, headless: build, operate the controls, compare with the layers, close.

Every explorer's plotted data must equal an independent computation (PyTorch functionals or
the formula), its figure must fit the 800 px notebook column (≤ 8 in at 100 dpi), pixel grids
carry integer ticks at pixel centres, and ``close()`` closes its controls.
"""

from __future__ import annotations

import math

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dltk
from dltk.widgets import (
    ActivationExplorer,
    BatchStatisticsExplorer,
    ConvExplorer,
    DropoutExplorer,
    LossExplorer,
    NormalizationExplorer,
    PoolingExplorer,
    ProposalExplorer,
)
from dltk.widgets.conv_explorer import SOBEL_X


@pytest.fixture(autouse=True)
def _no_figure_leak():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


@pytest.fixture(scope="module")
def digits():
    return dltk.data.digits()


def _closed(w: W.Widget) -> bool:
    return w.comm is None


def _fits_column(widget) -> None:
    for view in widget.views:
        w_px = view.fig.get_size_inches()[0] * view.fig.dpi
        assert w_px <= 800 + 1e-6, f"{type(widget).__name__}: figure {w_px:.0f} px wide"


def _integer_pixel_ticks(ax, h: int, w: int) -> None:
    assert ax.get_xlim() == pytest.approx((-0.5, w - 0.5)) and ax.get_ylim() == pytest.approx((h - 0.5, -0.5))
    for ticks, n in ((ax.get_xticks(), w), (ax.get_yticks(), h)):
        assert len(ticks) and all(float(t).is_integer() and 0 <= t < n for t in ticks), ticks


def _close_and_check(widget, controls) -> None:
    assert not widget.errors, widget.errors
    widget.close()
    assert widget.closed and all(_closed(c) for c in controls)


# ------------------------------------------------------------------ pooling (lesson 9)
def test_pooling_explorer_shows_what_the_pooling_layers_compute(digits):
    x = torch.as_tensor(digits[2][5:6])
    w = PoolingExplorer(digits[2][5, 0], interactive=False)
    _fits_column(w)
    assert torch.equal(torch.as_tensor(w.output), F.max_pool2d(x, 2, 2)[0, 0])
    _integer_pixel_ticks(w.ax_out, 4, 4)
    w.size.value, w.stride.value = 3, 1  # overlapping windows
    assert torch.equal(torch.as_tensor(w.output), F.max_pool2d(x, 3, 1)[0, 0])
    _, idx = F.max_pool2d(x, 3, 1, return_indices=True)
    counts = torch.bincount(idx.flatten(), minlength=64).reshape(8, 8)
    assert np.array_equal(w.signals["switch_mask"][0, 0].numpy(), counts.numpy())
    assert np.array_equal(w.im_sw.get_array(), counts.numpy())
    w.kind.value = "average"
    assert torch.allclose(torch.as_tensor(w.output), F.avg_pool2d(x, 3, 1)[0, 0])
    w.same.value, w.stride.value = True, 2  # 'same': ceil(8 / 2)
    assert w.output.shape == (4, 4) and "= 4$" in w.info.value
    _integer_pixel_ticks(w.ax_out, 4, 4)
    _close_and_check(w, [w.size, w.stride, w.same, w.kind])


def test_pooling_explorer_says_when_every_window_has_the_same_maximum():
    img = np.zeros((8, 8), np.float32)
    img[::3, ::3] = 1.0  # rows and columns 0, 3, 6: a bright pixel in every 4×4 window at stride 1
    w = PoolingExplorer(img, size=4, stride=1, interactive=False)
    assert np.all(w.output == 1.0)
    assert w.note.get_visible() and "every window's maximum" in w.note.get_text() and "1.0" in w.note.get_text()
    w.size.value = 1  # pool size 1: the output is the image itself, not constant
    assert not w.note.get_visible()
    w.close()


# ------------------------------------------------------------------ convolution (lesson 6)
def test_conv_explorer_feature_map_equals_conv2d(digits):
    x = torch.as_tensor(digits[2][3:4])
    k = SOBEL_X.reshape(1, 1, 3, 3)
    w = ConvExplorer(digits[2][3, 0], interactive=False)
    _fits_column(w)
    assert torch.allclose(torch.as_tensor(w.output), F.conv2d(x, k)[0, 0], atol=1e-6)
    _integer_pixel_ticks(w.ax_out, 6, 6)
    w.stride.value, w.padding.value, w.dilation.value = 2, 1, 2
    assert torch.allclose(torch.as_tensor(w.output), F.conv2d(x, k, stride=2, padding=1, dilation=2)[0, 0], atol=1e-6)
    lo, hi = w.im_out.get_clim()
    assert lo == pytest.approx(-hi) and hi == pytest.approx(np.abs(w.output).max())  # diverging around 0
    w.same.value = True  # MATLAB 'same' with stride 2: ceil(8 / 2)
    assert w.output.shape == (4, 4) and w.padding.disabled
    _close_and_check(w, [w.stride, w.padding, w.dilation, w.same])


def test_conv_explorer_says_when_the_dilated_filter_does_not_fit():
    w = ConvExplorer(np.ones((5, 5), np.float32), interactive=False)
    w.dilation.value = 3  # effective size 7 > 5
    assert w.layer is None and "does not fit" in w.formula.value and not w.errors
    w.padding.value = 1  # 7 pixels: fits again, one output pixel
    assert w.output.shape == (1, 1)
    w.close()


def test_conv_explorer_colour_scale_is_centred_at_zero_for_one_signed_responses():
    edge = np.zeros((6, 6), np.float32)
    edge[:, :3] = 1.0  # bright left, dark right: the Sobel filter responds >= 0 only
    w = ConvExplorer(edge, interactive=False)
    top = float(w.output.max())
    assert w.output.min() >= 0 and top > 0
    assert w.im_out.get_clim() == pytest.approx((-top, top))
    w.close()


# ------------------------------------------------------------------ input normalization (lesson 5)
def test_normalization_explorer_matches_the_formulas(digits):
    X = digits[0]
    w = NormalizationExplorer(X, n_show=50, interactive=False)
    _fits_column(w)
    x = X[:50].astype(np.float64)
    assert np.allclose(w.normalized, x - X.mean(), atol=1e-5)  # 'zerocenter', one mean per channel
    w.normalization.value, w.dimension.value = "rescale-zero-one", "all"
    assert np.allclose(w.normalized, (x - X.min()) / (X.max() - X.min()), atol=1e-5)
    w.normalization.value, w.dimension.value = "zscore", "element"
    assert np.isnan(w.normalized).any() and "NaN" in w.ax_hist.get_title()  # constant corner pixels: σ = 0
    assert "StandardDeviation 8×8×1" in w.stats.value
    _close_and_check(w, [w.normalization, w.dimension])


# ------------------------------------------------------------------ activations (lesson 7)
def test_activation_explorer_curve_and_regimes():
    pre = torch.randn(20, 8, 5, 5, generator=torch.Generator().manual_seed(0))
    w = ActivationExplorer(pre, interactive=False)
    _fits_column(w)
    xs = torch.linspace(-4, 4, 401, dtype=torch.float64)
    assert np.allclose(w.line_f.get_ydata(), F.leaky_relu(xs, 0.1).numpy())
    assert np.allclose(w.line_g.get_ydata(), np.where(xs.numpy() > 0, 1.0, 0.1))
    w.kind.value = "clippedReluLayer"
    w.param.value = 0.4
    assert w.param.description == "Ceiling"
    assert w.shares["clipped_high"] == pytest.approx(float((pre >= 0.4).float().mean()))
    assert w.shares["clipped_low"] == pytest.approx(float((pre < 0).float().mean()))
    w.kind.value = "tanhLayer"
    assert w.param.disabled and np.allclose(w.line_f.get_ydata(), torch.tanh(xs).numpy())
    _close_and_check(w, [w.kind, w.param])


# ------------------------------------------------------------------ dropout and batch statistics (lesson 8)
def test_dropout_explorer_mask_and_scaling(digits):
    w = DropoutExplorer(digits[2][:4], interactive=False)
    _fits_column(w)
    strip = w.strip[0, 0].numpy()
    w.p.value = 0.8
    assert np.allclose(w.output, w.mask * strip / 0.2, atol=1e-6)
    assert abs(w.mask.mean() - 0.2) < 0.1
    before = w.mask.copy()
    w.new_mask.click()
    assert not np.array_equal(before, w.mask)
    w.p.value = 0.0  # no dropout: the output is the input
    assert np.array_equal(w.output, strip)
    _close_and_check(w, [w.p, w.new_mask])


def test_batch_statistics_explorer_batch_mean():
    feats = torch.randn(300, 4, 3, 3, generator=torch.Generator().manual_seed(1)) + 1
    w = BatchStatisticsExplorer(feats, interactive=False)
    _fits_column(w)
    for size in (2, 64):
        w.batch_size.value = size
        assert len(w.indices) == size
        assert w.batch_mean == pytest.approx(float(feats[w.indices, 0].mean()), abs=1e-6)
    assert w.full_mean == pytest.approx(float(feats[:, 0].mean()))
    _close_and_check(w, [w.batch_size, w.draw])


# ------------------------------------------------------------------ losses (lesson 11)
def test_loss_explorer_dots_follow_the_formulas():
    w = LossExplorer(interactive=False)
    _fits_column(w)
    w.p.value = 0.25
    assert w.dots["cross-entropy"].get_ydata()[0] == pytest.approx(-math.log(0.25), rel=1e-6)
    assert w.dots["weighted CE (W=2)"].get_ydata()[0] == pytest.approx(-2 * math.log(0.25), rel=1e-6)
    w.p.value = 0.9
    ce, factor, focal = w.focal_terms(0.9)
    assert factor == pytest.approx(0.01, rel=1e-6) and focal == pytest.approx(0.01 * -math.log(0.9), rel=1e-6)
    w.gamma.value = 0.0  # focal = cross-entropy
    assert w.curves["focal (alpha=1)"].get_ydata() == pytest.approx(w.curves["cross-entropy"].get_ydata())
    w.error.value = 2.0
    assert [d.get_ydata()[0] for d in w.rdots] == pytest.approx([0.5 * 4, 2.0, 2.0 - 0.5])
    _close_and_check(w, [w.p, w.gamma, w.error])


# ------------------------------------------------------------------ detector proposals (lesson 13)
def test_proposal_explorer_shows_the_chosen_proposal():
    rng = np.random.default_rng(0)
    K, n = 3, 2
    dets = []
    for _ in range(n):
        props = np.c_[rng.uniform(0, 10, (K, 2)), rng.uniform(4, 8, (K, 2))]
        probs = rng.dirichlet(np.ones(3), K)
        dets.append(dict(proposals=props, objectness=rng.uniform(size=K), probs=probs,
                         deltas=rng.normal(size=(K, 4)), refined=props + 1))  # fmt: skip
    feats = torch.rand(n * K, 16, 4, 4)
    X = rng.normal(size=(n, 1, 32, 32))
    w = ProposalExplorer(X, dets, feats, ["square", "circle"], interactive=False)
    _fits_column(w)
    w.image.value, w.proposal.value = 1, 2
    p = dets[1]["proposals"][2]
    assert w.sel.get_xy() == pytest.approx((p[0] - 0.5, p[1] - 0.5)) and w.sel.get_width() == pytest.approx(p[2])
    assert [b.get_height() for b in w.cls_bars] == pytest.approx(list(dets[1]["probs"][2]))
    tiled = w.feat.get_array()
    assert tiled.shape == (2 * 4, 8 * 4) and np.allclose(tiled[4:8, 4:8], feats[1 * K + 2, 9].numpy())
    assert w.classes[int(np.argmax(dets[1]["probs"][2]))] in w.title.get_text()
    _close_and_check(w, [w.image, w.proposal])
