"""Synthetic sequence data sets, each built to teach one idea (all seeded, no download).

Every generator returns plain NumPy data in dltk's layout: a list of (T_i, C)
sequences and labels (a string array, or per-step arrays for
sequence-to-sequence tasks). ``n=None`` picks a lesson-sized default that
shrinks in fast mode (``DLTK_FAST=1``, :data:`dltk.config.fast`).
"""

from __future__ import annotations

import numpy as np

from .._config import config
from ..options import number, positive_int

__all__ = ["forecasting_series", "long_memory", "sequence_labelling", "waveforms"]


def _n(n: int | None, full: int, fast: int, where: str) -> int:
    return positive_int(where, "n", n) if n is not None else (fast if config.fast else full)


def long_memory(
    n: int | None = None,
    T: int = 30,
    gap: int | None = None,
    noise: float = 0.5,
    seed: int = 0,
    dtype: type = np.float32,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Remember one marked value across a long gap — what the LSTM forget gate is for.

    Each sequence has two channels. Channel 1 (*value*) is Gaussian noise
    (std ``noise``) except at the *cue* step, where it is +1 (class ``"A"``) or
    −1 (class ``"B"``). Channel 2 (*marker*) is 1 at the cue step and 0
    elsewhere. The cue sits ``gap`` steps before the last step, so the label
    depends only on a value seen long ago: a recurrent network must open its
    input gate at the marker and then hold the value (forget gate ≈ 1) for
    ``gap`` steps while ignoring the distractors. A plain RNN struggles as the
    gap grows; an LSTM solves it.

    Args:
        n: number of sequences. Default: 600 (200 in fast mode).
        T: length of every sequence. Default: 30.
        gap: steps between the cue and the last step (0 ≤ gap < T). Default: T − 1
            (the cue is the first step).
        noise: std of the distractor values. Default: 0.5.
        seed: random seed. Default: 0.
        dtype: NumPy dtype. Default: ``np.float32``.

    Returns:
        ``(X, Y)``: X a list of n (T, 2) arrays, Y a string array of ``"A"``/``"B"``.

    Example:
        >>> X, Y = dltk.data.long_memory(100, T=20)
        >>> X[0].shape, sorted(set(Y))
        ((20, 2), ['A', 'B'])
    """
    where = "long_memory"
    n = _n(n, 600, 200, where)
    T = positive_int(where, "T", T)
    gap = T - 1 if gap is None else positive_int(where, "gap", gap, allow_zero=True)
    if gap >= T:
        from ..errors import OptionError

        raise OptionError(f"{where}: gap must be smaller than T ({T}), got {gap}.")
    noise = number(where, "noise", noise, low=0)
    rng = np.random.default_rng(seed)
    cue = T - 1 - gap
    sign = rng.choice([-1.0, 1.0], size=n)
    X = np.zeros((n, T, 2))
    X[:, :, 0] = noise * rng.standard_normal((n, T))
    X[:, cue, 0] = sign
    X[:, cue, 1] = 1.0
    Y = np.where(sign > 0, "A", "B")
    return [x.astype(dtype) for x in X], Y


_WAVES = ("sawtooth", "sine", "square", "triangle")


def _wave(kind: str, phase: np.ndarray) -> np.ndarray:
    frac = np.mod(phase / (2 * np.pi), 1.0)
    if kind == "sine":
        return np.sin(phase)
    if kind == "square":
        return np.where(frac < 0.5, 1.0, -1.0)
    if kind == "sawtooth":
        return 2 * frac - 1
    return 1 - 4 * np.abs(frac - 0.5)  # triangle


def waveforms(
    n: int | None = None,
    length: tuple[int, int] = (40, 120),
    channels: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    dtype: type = np.float32,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Classify the shape of a noisy periodic signal: sine, square, sawtooth or triangle.

    Like MATLAB's WaveformData example (4 classes, 3 channels, variable
    length). Each sequence has its own length, period (8–30 steps), amplitude
    and per-channel phase, so a network must recognise the *shape*, not a
    position — and must cope with sequences of different lengths (padding,
    ``SequenceLength``, ``OutputMode='last'``).

    Args:
        n: number of sequences. Default: 800 (200 in fast mode).
        length: (shortest, longest) sequence length. Default: (40, 120).
        channels: channels per sequence. Default: 3.
        noise: std of added Gaussian noise. Default: 0.1.
        seed: random seed. Default: 0.
        dtype: NumPy dtype. Default: ``np.float32``.

    Returns:
        ``(X, Y)``: X a list of (T_i, channels) arrays, Y a string array of
        ``"sawtooth"``, ``"sine"``, ``"square"``, ``"triangle"``.
    """
    where = "waveforms"
    n = _n(n, 800, 200, where)
    lo, hi = (positive_int(where, "length", v) for v in length)
    channels = positive_int(where, "channels", channels)
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for _ in range(n):
        kind = _WAVES[rng.integers(len(_WAVES))]
        T = int(rng.integers(lo, hi + 1))
        period = rng.uniform(8, 30)
        amp = rng.uniform(0.5, 1.5)
        t = np.arange(T)[:, None]
        phase = 2 * np.pi * t / period + rng.uniform(0, 2 * np.pi, size=(1, channels))
        X.append((amp * _wave(kind, phase) + noise * rng.standard_normal((T, channels))).astype(dtype))
        Y.append(kind)
    return X, np.array(Y)


def sequence_labelling(
    n: int | None = None,
    length: tuple[int, int] = (40, 100),
    segment: tuple[int, int] = (8, 25),
    noise: float = 0.2,
    seed: int = 0,
    dtype: type = np.float32,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Label every time step with the regime it belongs to (sequence-to-sequence).

    A sequence is a chain of segments (``segment`` steps each); in each
    segment one of three regimes ``"slow"``, ``"medium"``, ``"fast"`` drives
    a sine of period 16, 8 or 4 steps (plus noise). The label of a step is
    its regime. One step alone is ambiguous — the network must use the last
    few steps (its memory) to tell the frequency, and it must switch when
    the regime changes: the task of MATLAB's HumanActivity example, in
    miniature. Train with ``OutputMode='sequence'``.

    Args:
        n: number of sequences. Default: 300 (100 in fast mode).
        length: (shortest, longest) sequence length. Default: (40, 100).
        segment: (shortest, longest) regime duration. Default: (8, 25).
        noise: std of added Gaussian noise. Default: 0.2.
        seed: random seed. Default: 0.
        dtype: NumPy dtype. Default: ``np.float32``.

    Returns:
        ``(X, Y)``: X a list of (T_i, 1) arrays, Y a list of (T_i,) string arrays.
    """
    where = "sequence_labelling"
    n = _n(n, 300, 100, where)
    lo, hi = (positive_int(where, "length", v) for v in length)
    slo, shi = (positive_int(where, "segment", v) for v in segment)
    names = np.array(["slow", "medium", "fast"])
    periods = np.array([16.0, 8.0, 4.0])
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for _ in range(n):
        T = int(rng.integers(lo, hi + 1))
        lab = np.empty(T, dtype=np.int64)
        t = 0
        while t < T:
            d = int(rng.integers(slo, shi + 1))
            lab[t : t + d] = rng.integers(3)
            t += d
        # phase accumulates so the signal is continuous across regime changes
        phase = np.cumsum(2 * np.pi / periods[lab]) + rng.uniform(0, 2 * np.pi)
        x = np.sin(phase) + noise * rng.standard_normal(T)
        X.append(x[:, None].astype(dtype))
        Y.append(names[lab])
    return X, Y


def forecasting_series(
    n: int | None = None,
    T: int = 100,
    noise: float = 0.05,
    seed: int = 0,
    dtype: type = np.float32,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Predict the next value of a series (sequence-to-sequence regression, forecasting).

    Each series is the sum of two sines with random periods (10–40 steps),
    amplitudes and phases, plus noise. The responses are the same series one
    step ahead: ``Y[i][t] = s[t+1]`` for the predictors ``X[i][t] = s[t]``.
    After training, :func:`dltk.predictAndUpdateState` can forecast step by
    step (closed loop: feed each prediction back as the next input), as in
    MATLAB's "Time Series Forecasting Using Deep Learning" example.

    Args:
        n: number of series. Default: 200 (60 in fast mode).
        T: number of predictor steps per series. Default: 100.
        noise: std of added Gaussian noise. Default: 0.05.
        seed: random seed. Default: 0.
        dtype: NumPy dtype. Default: ``np.float32``.

    Returns:
        ``(X, Y)``: two lists of n (T, 1) arrays.
    """
    where = "forecasting_series"
    n = _n(n, 200, 60, where)
    T = positive_int(where, "T", T)
    rng = np.random.default_rng(seed)
    t = np.arange(T + 1)
    X, Y = [], []
    for _ in range(n):
        s = sum(
            rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * t / rng.uniform(10, 40) + rng.uniform(0, 2 * np.pi))
            for _ in range(2)
        )
        s = s + noise * rng.standard_normal(T + 1)
        X.append(s[:-1, None].astype(dtype))
        Y.append(s[1:, None].astype(dtype))
    return X, Y
