"""``seed_everything``: make a run bit-repeatable on the CPU."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int = 0, *, deterministic: bool = True) -> int:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and CUDA) with ``seed``.

    With ``deterministic=True`` PyTorch is also asked for deterministic
    algorithms (``torch.use_deterministic_algorithms(True, warn_only=True)``,
    cuDNN benchmarking off), so that two runs of the same code on the same
    CPU give bit-identical results. GPU runs are repeatable only as far as
    the CUDA kernels allow. MATLAB equivalent: ``rng(seed)``.

    Args:
        seed: a non-negative integer. Default: 0.
        deterministic: also switch PyTorch to deterministic algorithms. Default: True.

    Returns:
        The seed.

    Example:
        >>> dltk.seed_everything(42)
        42
    """
    from ..options import positive_int

    seed = positive_int("seed_everything", "seed", seed, allow_zero=True)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return seed
