"""The browser checks can fail: a broken widget front end is caught.

A second JupyterLab is started with the ipywidgets front end (the
``@jupyter-widgets/jupyterlab-manager`` lab extension) disabled in its
isolated ``labconfig/page_config.json`` — what ``jupyter labextension
disable`` does, and what a mismatched front end amounts to: the kernel
sends widget views that nothing in the page can render. A tiny generated
notebook showing one slider must then fail :func:`assert_notebook_healthy`
(the lesson test's check), while the same notebook passes on the normal
server (so the failure comes from the broken front end, not from the probe).
"""

from __future__ import annotations

import nbformat
import pytest

from .jupyterlab import open_notebook, problems, run_all, wait_idle, widget_views
from .test_lessons_browser import assert_notebook_healthy

PROBE = 'import ipywidgets as W\nW.IntSlider(value=3, description="probe")'


def _probe(server) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, server.root / "probe.ipynb")
    return "probe.ipynb"


def _run(page, server) -> None:
    open_notebook(page, server, _probe(server))
    run_all(page, timeout_ms=120_000)
    wait_idle(page)


def test_probe_passes_with_working_widgets(lab, page):
    _run(page, lab)
    assert_notebook_healthy(page, "probe.ipynb")
    assert widget_views(page)["rendered"] == 1


def test_disabled_widget_manager_is_caught(broken_lab, page):
    _run(page, broken_lab)
    views = widget_views(page)
    assert views["declared"] == 1 and views["rendered"] == 0, views
    assert any("IntSlider(" in p for p in problems(page)), problems(page)
    with pytest.raises(AssertionError, match="probe.ipynb"):
        assert_notebook_healthy(page, "probe.ipynb")
