"""DeepenLSTM's training panel over several seeds: mean curve, min–max band, spread in the legend."""

from __future__ import annotations

import numpy as np

import dltk
from dltk.widgets import DeepenLSTM


def test_seeds_give_a_mean_curve_a_band_and_a_spread():
    X, Y = dltk.data.long_memory(24, T=8)
    before = np.random.get_state()[1].copy()
    w = DeepenLSTM(X, Y, hidden=3, dropout=0.0, max_epochs=1, seeds=2, learn_rate=0.01, interactive=False)
    w.add_layer()
    assert not w.errors, w.error_area.value
    assert set(w.runs) == {1, 2} and all(len(r) == 2 for r in w.runs.values())
    assert w.infos[2] is w.runs[2][0]
    losses = np.stack([r.TrainingLoss for r in w.runs[2]])
    assert not np.allclose(losses[0], losses[1])  # two seeds, two different runs
    np.testing.assert_allclose(w.curve_lines[2].get_ydata(), losses.mean(0))
    assert set(w.curve_bands) == {1, 2}
    assert "±" in w.curve_lines[2].get_label() and "2 seeds" in w.curve_ax.get_title()
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # the kernel's NumPy stream is untouched
    w.remove_layer()
    assert set(w.curve_bands) == {1, 2} and w.depth == 1  # runs of every depth tried stay, to compare
    w.close()
