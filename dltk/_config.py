"""Process-wide settings read from the environment.

``DLTK_FAST=1`` puts lessons and examples in *fast mode* (used by the tests):
fewer epochs, smaller data, so every lesson runs in under a minute.

``DLTK_RECORD_BUDGET_MB`` sets the default byte budget of one recording
(``dltk.record``, default 512 MB) and ``DLTK_LOAD_LIMIT_MB`` the most tensor
data ``dltk.load`` accepts from one file (default 1024 MB). A value that is
not a positive number never stops ``import dltk``: it is reported once with a
warning and the default is used.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from .errors import OptionError

DEFAULT_RECORD_BUDGET_MB = 512
DEFAULT_LOAD_LIMIT_MB = 1024

_warned: set[str] = set()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _positive_mb(value: Any) -> float | None:
    """``value`` as a positive finite number of MB, or None when it is not one (text is not a number)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    v = float(value)
    return v if math.isfinite(v) and v > 0 else None


def _env_mb(name: str, default: float) -> int:
    """Bytes from the environment variable ``name`` (in MB); a bad value warns once and gives the default."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return int(default * 2**20)
    try:
        mb = _positive_mb(float(raw))
    except ValueError:
        mb = None
    if mb is None:
        if name not in _warned:
            _warned.add(name)
            warnings.warn(
                f"dltk: the environment variable {name}={raw!r} is not a positive number of MB; "
                f"using the default {default:g} MB.",
                RuntimeWarning,
                stacklevel=2,
            )
        return int(default * 2**20)
    return int(mb * 2**20)


def mb_to_bytes(value: Any, where: str, option: str, default_bytes: Any) -> int:
    """A per-call size limit in MB (``budget_mb=``, ``max_mb=``) as bytes; ``None`` gives ``default_bytes``.

    Raises:
        OptionError: the value (or the default from :data:`config`) is not a
            positive finite number: text such as ``"10"``, NaN, Inf, zero or negative.
    """
    if value is None:
        if isinstance(default_bytes, numbers.Integral) and not isinstance(default_bytes, bool) and default_bytes > 0:
            return int(default_bytes)
        raise OptionError(
            f"{where}: the default from dltk.config must be a positive number of bytes, got {default_bytes!r}."
        )
    mb = _positive_mb(value)
    if mb is None:
        fix = f" Give a number, e.g. {option}={value.strip()}." if isinstance(value, str) else ""
        raise OptionError(
            f"{where}: {option} must be a positive number of megabytes (e.g. {option}=64), got {value!r}.{fix}"
        )
    return max(1, int(mb * 2**20))


def budget_bytes(budget_mb: Any) -> int:
    """The byte budget of one recording: ``budget_mb=`` checked, or :attr:`Config.record_budget_bytes`."""
    return mb_to_bytes(budget_mb, "dltk.record", "budget_mb", config.record_budget_bytes)


@dataclass
class Config:
    #: fast mode for CI and tests (``DLTK_FAST=1``)
    fast: bool = field(default_factory=lambda: _env_flag("DLTK_FAST"))
    #: default byte budget of one recording (``dltk.record``): 512 MB (``DLTK_RECORD_BUDGET_MB``)
    record_budget_bytes: int = field(default_factory=lambda: _env_mb("DLTK_RECORD_BUDGET_MB", DEFAULT_RECORD_BUDGET_MB))
    #: the most tensor bytes ``dltk.load`` reads from one file: 1024 MB (``DLTK_LOAD_LIMIT_MB``)
    load_limit_bytes: int = field(default_factory=lambda: _env_mb("DLTK_LOAD_LIMIT_MB", DEFAULT_LOAD_LIMIT_MB))


config = Config()
