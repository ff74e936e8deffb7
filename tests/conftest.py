"""Shared pytest setup: float64 references, seeded runs, headless matplotlib."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

os.environ.setdefault("DLTK_FAST", "1")
# small tensors: one thread avoids OpenMP hand-offs (and oversubscription when the machine is busy)
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    # dltk.seed_everything switches PyTorch to deterministic algorithms (warn_only); a test (or a
    # module-scoped fixture) that calls it must not leave the switch on for the next test: ops without
    # a deterministic kernel (max_unpool2d) would warn. Every test starts with PyTorch's default.
    torch.use_deterministic_algorithms(False)
    yield
    torch.use_deterministic_algorithms(False)
