"""Small handwritten digits (scikit-learn's 8×8 copy of the UCI optdigits test set)."""

from __future__ import annotations

import numpy as np

__all__ = ["digits"]


def digits(
    test_fraction: float = 0.25, seed: int = 0, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """1,797 grayscale 8×8 images of the digits 0–9, split into training and test sets.

    A small stand-in for MATLAB's ``DigitDataset`` (28×28) that ships with
    scikit-learn, so no download is needed. Pixel values are scaled to [0, 1].
    The split is stratified (same class proportions in both parts) and fixed
    by ``seed``.

    Args:
        test_fraction: share of each class held out for testing. Default: 0.25.
        seed: seed of the split. Default: 0.
        dtype: NumPy dtype of the images. Default: ``np.float32``.

    Returns:
        ``(XTrain, YTrain, XTest, YTest)``: images (N, 1, 8, 8) BCHW [MATLAB
        8×8×1×N SSCB], labels int64 arrays of 0–9.

    Example:
        >>> XTrain, YTrain, XTest, YTest = dltk.data.digits()
        >>> XTrain.shape
        (1347, 1, 8, 8)
    """
    try:
        from sklearn.datasets import load_digits
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "dltk.data.digits needs scikit-learn. Install it with:\n"
            '    pip install scikit-learn   (or: pip install "dltk[data]")'
        ) from None
    if not 0 < test_fraction < 1:
        from ..errors import OptionError

        raise OptionError(f"digits: test_fraction must be between 0 and 1 (exclusive), got {test_fraction!r}.")
    d = load_digits()
    X = (d.images / 16.0).astype(dtype)[:, None]  # (N, 1, 8, 8)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        test[idx[: int(round(test_fraction * len(idx)))]] = True
    return X[~test], y[~test], X[test], y[test]
