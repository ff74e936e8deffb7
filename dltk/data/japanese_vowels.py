"""The Japanese Vowels data set (MATLAB ``japaneseVowelsTrainData`` / ``…TestData``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["japanese_vowels"]

_PIP = 'pip install sktime   (or: pip install "dltk[data]")'


def _data_dir() -> Path:
    spec = importlib.util.find_spec("sktime")  # locate the package without importing it (slow)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "dltk.data.japanese_vowels: the Japanese Vowels files ship with the sktime package, which is not "
            f"installed. Install it with:\n    {_PIP}"
        )
    d = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "JapaneseVowels"
    if not d.is_dir():
        raise DataError(f"dltk.data.japanese_vowels: sktime is installed but {d} is missing; reinstall: {_PIP}")
    return d


def read_ts(path: str | Path, dtype: type = np.float32) -> tuple[list[np.ndarray], np.ndarray]:
    """Read a multivariate ``.ts`` file (sktime / UEA format) into sequences and labels.

    Returns:
        ``(X, Y)``: X a list of (T_i, C) arrays (time down the rows), Y a
        string array of class labels.
    """
    X: list[np.ndarray] = []
    Y: list[str] = []
    in_data = False
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            *dims, label = line.split(":")
            try:
                chans = [np.array(d.split(","), dtype=np.float64) for d in dims]
            except ValueError:
                raise DataError(f"read_ts: {path}, line {lineno}: a value is not a number.") from None
            if len({len(c) for c in chans}) != 1:
                raise DataError(f"read_ts: {path}, line {lineno}: the channels have different lengths.")
            X.append(np.stack(chans, axis=1).astype(dtype))
            Y.append(label.strip())
    if not X:
        raise DataError(f"read_ts: {path} holds no @data section.")
    return X, np.array(Y)


def japanese_vowels(
    dtype: type = np.float32,
) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """The Japanese Vowels speaker-recognition data set (UCI; Kudo, Toyama & Shimbo 1999).

    Nine male speakers said the vowels /ae/; each utterance became a sequence
    of 12 LPC cepstrum coefficients, 7–29 time steps long. The task: which
    speaker? This is the data of MATLAB's "Sequence Classification Using Deep
    Learning" example (``japaneseVowelsTrainData``/``japaneseVowelsTestData``).

    The files are read from the copy that ships with sktime (no download).

    Args:
        dtype: NumPy dtype of the sequences. Default: ``np.float32``.

    Returns:
        ``(XTrain, YTrain, XTest, YTest)``: 270 training and 370 test sequences,
        each a (T_i, 12) array (MATLAB stores the transpose, 12×T_i); labels are
        string arrays of ``"1"``…``"9"``.

    Raises:
        ModuleNotFoundError: sktime is missing (the message gives the ``pip install`` command).

    Example:
        >>> XTrain, YTrain, XTest, YTest = dltk.data.japanese_vowels()
        >>> len(XTrain), XTrain[0].shape, YTrain[0]
        (270, (20, 12), '1')
    """
    d = _data_dir()
    XTrain, YTrain = read_ts(d / "JapaneseVowels_TRAIN.ts", dtype)
    XTest, YTest = read_ts(d / "JapaneseVowels_TEST.ts", dtype)
    return XTrain, YTrain, XTest, YTest
