"""Environment report and fast-mode banner for the first cell of every lesson."""

from __future__ import annotations

import platform
import sys

from ._config import config


def env_report() -> None:
    """Print the versions of Python and the main libraries, the device and the thread count."""
    import matplotlib
    import numpy
    import torch

    try:
        import ipywidgets

        widgets = ipywidgets.__version__
    except ImportError:  # pragma: no cover
        widgets = "not installed"
    from . import __version__

    lines = [
        f"dltk {__version__} | Python {sys.version.split()[0]} on {platform.system()}",
        f"torch {torch.__version__} | numpy {numpy.__version__} | matplotlib {matplotlib.__version__} "
        f"| ipywidgets {widgets}",
        f"device: {'cuda (' + torch.cuda.get_device_name(0) + ')' if torch.cuda.is_available() else 'cpu'} "
        f"| threads: {torch.get_num_threads()} | backend: {matplotlib.get_backend()}",
    ]
    if config.fast:
        lines.append("FAST MODE (DLTK_FAST=1): smaller data and fewer epochs than a real run.")
    print("\n".join(lines))
