"""Process-wide settings read from the environment.

``DLTK_FAST=1`` puts lessons and examples in *fast mode* (used by the tests):
fewer epochs, smaller data, so every lesson runs in under a minute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class Config:
    #: fast mode for CI and tests (``DLTK_FAST=1``)
    fast: bool = field(default_factory=lambda: _env_flag("DLTK_FAST"))
    #: default byte budget of one recording (``dltk.record``): 512 MB
    record_budget_bytes: int = field(
        default_factory=lambda: int(float(os.environ.get("DLTK_RECORD_BUDGET_MB", "512")) * 2**20)
    )


config = Config()
