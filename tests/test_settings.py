"""Settings never crash ``import dltk``; bad per-call sizes give a clear error."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import dltk
from dltk import _config
from dltk.errors import OptionError

PROBE = (
    "import warnings, sys\n"
    "with warnings.catch_warnings(record=True) as w:\n"
    "    warnings.simplefilter('always')\n"
    "    import dltk\n"
    "    from dltk._config import Config\n"
    "    Config(); Config()\n"  # a second read of the setting does not warn again
    "print(dltk.config.record_budget_bytes, dltk.config.load_limit_bytes, len(w))\n"
    "for x in w: print(x.category.__name__, x.message)\n"
)


def _probe(**env: str) -> list[str]:
    full = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_bad_environment_values_warn_once_and_use_the_default():
    lines = _probe(DLTK_RECORD_BUDGET_MB="abc", DLTK_LOAD_LIMIT_MB="nan")
    budget, limit, n = (int(v) for v in lines[0].split())
    assert budget == 512 * 2**20 and limit == 1024 * 2**20 and n == 2
    assert "DLTK_RECORD_BUDGET_MB='abc' is not a positive number of MB; using the default 512 MB" in lines[1]
    assert "DLTK_LOAD_LIMIT_MB='nan'" in lines[2] and lines[1].startswith("RuntimeWarning")


@pytest.mark.parametrize("raw", ["nan", "inf", "-5", "0", "", "  ", "1e400"])
def test_env_values_parsed_in_process(monkeypatch, raw):
    monkeypatch.setattr(_config, "_warned", set())
    monkeypatch.setenv("DLTK_RECORD_BUDGET_MB", raw)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert _config.Config().record_budget_bytes == 512 * 2**20
        _config.Config()
    assert len(w) == (1 if raw.strip() else 0)


def test_good_environment_values():
    budget, limit, n = (int(v) for v in _probe(DLTK_RECORD_BUDGET_MB=" 64 ", DLTK_LOAD_LIMIT_MB="0.5")[0].split())
    assert budget == 64 * 2**20 and limit == 2**19 and n == 0


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (math.nan, "got nan"),
        (math.inf, "got inf"),
        ("10", r"got '10'\. Give a number, e\.g\. budget_mb=10\."),
        (-1, "got -1"),
        (0, "got 0"),
        (True, "got True"),
        ([10], r"got \[10\]"),
        (torch.tensor(10.0), "got tensor"),
    ],
)
def test_bad_budget_mb_is_a_clear_error(value, match):
    with pytest.raises(OptionError, match=f"dltk.record: budget_mb must be .*{match}"):
        dltk.record(dltk.reluLayer(), torch.randn(2, 3), budget_mb=value)


def test_good_budget_mb_and_a_bad_config_default(monkeypatch):
    rec = dltk.record(dltk.reluLayer(), torch.randn(2, 3), budget_mb=np.float32(0.5))
    assert rec.budget == 2**19
    assert dltk.record(dltk.reluLayer(), torch.randn(2, 3), budget_mb=1).budget == 2**20
    monkeypatch.setattr(dltk.config, "record_budget_bytes", "abc")
    with pytest.raises(OptionError, match="default from dltk.config must be a positive number of bytes, got 'abc'"):
        dltk.record(dltk.reluLayer(), torch.randn(2, 3))


FAULTS = (
    "import resource, torch\n"
    "from torch import nn\n"
    "import dltk\n"
    "torch.set_num_threads(1)\n"
    "m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),\n"
    "                  nn.Linear(8 * 14 * 14, 10)).eval()\n"
    "x = torch.randn(32, 1, 28, 28)\n"
    "with torch.no_grad():\n"
    "    for _ in range(3):\n"
    "        dltk.record(m, x)\n"
    "    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
    "    for _ in range(10):\n"
    "        dltk.record(m, x)\n"
    "    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 10)\n"
)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or __import__("platform").libc_ver()[0] != "glibc", reason="glibc only"
)
def test_recording_again_reuses_freed_memory_without_page_faults():
    """A recording writes ~3 MB of signals here. glibc is started with small fixed thresholds (every freed
    block over 128 KB handed back to the system): by default dltk's settings replace them on the first
    recording, and a repeated recording reuses the memory the last one freed (no page faults); with
    ``DLTK_KEEP_FREED_MB=0`` glibc keeps them and each recording faults its pages in. (Under glibc's own
    defaults either can happen, depending on what the process allocated before.)"""
    eager = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}

    def faults(**env: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", FAULTS],
            env={**os.environ, **eager, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        return float(out.stdout.strip().splitlines()[-1])

    kept, fresh = faults(), faults(DLTK_KEEP_FREED_MB="0")
    assert kept < 50, kept
    assert fresh > 200, fresh  # the test can tell: without the setting, the pages fault in every time
