"""Small data sets for the lessons, and :func:`seed_everything`.

* :func:`japanese_vowels` — MATLAB's sequence-classification example data (from sktime's copy);
* :func:`digits` — scikit-learn's 8×8 handwritten digits as (N, 1, 8, 8) images;
* synthetic generators, each teaching one idea: :func:`long_memory`,
  :func:`sequence_labelling`, :func:`waveforms`, :func:`forecasting_series`.
"""

from .digits import digits
from .japanese_vowels import japanese_vowels, read_ts
from .seed import seed_everything
from .synthetic import forecasting_series, long_memory, sequence_labelling, waveforms

__all__ = [
    "digits",
    "forecasting_series",
    "japanese_vowels",
    "long_memory",
    "read_ts",
    "seed_everything",
    "sequence_labelling",
    "waveforms",
]
