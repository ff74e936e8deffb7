"""Freed memory kept for the next recording (glibc only).

A recording keeps every signal alive, so each one is written to memory the
allocator has just taken from the operating system, and every 4 KB page of it
costs a page fault on its first write: about 1,000 faults (2–3 ms, more than
the recording's own arithmetic) for the 9 MB recording of a small CNN. glibc
returns freed memory to the system once more than ``M_TRIM_THRESHOLD`` of it
lies free at the top of its heap, and serves every block above
``M_MMAP_THRESHOLD`` with a fresh ``mmap``, so a notebook that records again
and again would pay those faults every time, and how many it pays would depend
on what ran before (the run-to-run spread of the recording benchmarks).

On the first recording, :func:`keep_freed_memory` sets the mmap threshold to
32 MB (the value glibc itself moves to in a long-running process) and keeps up
to ``DLTK_KEEP_FREED_MB`` (default 256) of freed memory for reuse. The peak
memory does not grow — freed memory is reused before new memory is asked for —
but the process gives up to that much back to the system only when it needs it
again. ``DLTK_KEEP_FREED_MB=0`` leaves glibc's defaults. Other C libraries
(macOS, Windows, musl) are left as they are.
"""

from __future__ import annotations

import ctypes
import os
import platform

#: glibc's mallopt parameters
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
DEFAULT_KEEP_FREED_MB = 256
MMAP_THRESHOLD_BYTES = 32 * 2**20

_done: list[bool] = []


def keep_freed_mb() -> int:
    """``DLTK_KEEP_FREED_MB`` as a whole number of MB ≥ 0 (anything else: the default)."""
    raw = os.environ.get("DLTK_KEEP_FREED_MB", "").strip()
    try:
        mb = int(float(raw)) if raw else DEFAULT_KEEP_FREED_MB
    except ValueError:
        mb = DEFAULT_KEEP_FREED_MB
    return mb if mb >= 0 else DEFAULT_KEEP_FREED_MB


def keep_freed_memory() -> bool:
    """Once per process: ask glibc to keep freed memory for reuse (see the module docstring).

    Returns whether the settings are in force (False: not glibc, or ``DLTK_KEEP_FREED_MB=0``).
    """
    if not _done:
        _done.append(_apply(keep_freed_mb()))
    return _done[0]


def _apply(mb: int) -> bool:
    if mb == 0 or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = max(mb * 2**20, MMAP_THRESHOLD_BYTES)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(libc.mallopt(M_TRIM_THRESHOLD, trim))
    except (OSError, AttributeError):
        return False
