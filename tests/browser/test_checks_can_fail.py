"""The browser checks can fail: a broken widget front end is caught.

A second JupyterLab is started with the ipywidgets front end (the
``@jupyter-widgets/jupyterlab-manager`` lab extension) disabled in its
isolated ``labconfig/page_config.json`` — what ``jupyter labextension
disable`` does, and what a mismatched front end amounts to: the kernel
sends widget views that nothing in the page can render. A tiny generated
notebook showing one slider must then fail :func:`assert_notebook_healthy`
(the lesson test's check), while the same notebook passes on the normal
server (so the failure comes from the broken front end, not from the probe).

The other kind of mismatch — a kernel-side widget asking for a version of
``@jupyter-widgets/controls`` the page does not have — runs on the normal
server: ipywidgets then draws a sized "Click to show javascript error."
placeholder, which the checks must not count as a rendered widget (this test
found that they did, and they were fixed).
"""

from __future__ import annotations

import nbformat
import pytest

from .jupyterlab import horizontal_overflow, open_notebook, problems, run_all, wait_idle, widget_views
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


FUTURE = (
    "import ipywidgets as W, traitlets as T\n"
    "class Future(W.IntSlider):  # a kernel-side widget newer than the page's widget front end\n"
    '    _model_module_version = T.Unicode("99.0.0").tag(sync=True)\n'
    '    _view_module_version = T.Unicode("99.0.0").tag(sync=True)\n'
    'Future(value=3, description="probe")'
)


def test_mismatched_front_end_version_is_caught(lab, page):
    """The other half of a mismatched front end: the kernel's widget asks for a version of
    ``@jupyter-widgets/controls`` the page does not have (as with an ipywidgets 9 kernel
    beside a JupyterLab built for 8). The page can load no view, and the checks must say so."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FUTURE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "future.ipynb")
    open_notebook(page, lab, "future.ipynb")
    run_all(page, timeout_ms=120_000)
    wait_idle(page)
    views = widget_views(page)
    assert views["declared"] == 1 and views["rendered"] == 0, views  # the sized error placeholder is no view
    assert any("widget:" in p for p in problems(page)), problems(page)
    with pytest.raises(AssertionError, match="future.ipynb"):
        assert_notebook_healthy(page, "future.ipynb")


WIDE = (
    "import ipywidgets as W\n"
    "from IPython.display import display\n"
    'display(W.IntSlider(value=3, description="probe"))\n'
    "import matplotlib\n"
    "matplotlib.use('Agg')\n"
    "from matplotlib.figure import Figure\n"
    "from matplotlib.backends.backend_agg import FigureCanvasAgg\n"
    "import io\n"
    "fig = Figure(figsize=(14, 2), dpi=100); FigureCanvasAgg(fig); fig.add_subplot().plot([0, 1])\n"
    "buf = io.BytesIO(); fig.savefig(buf, format='png')\n"
    "display(W.Image(value=buf.getvalue(), layout=W.Layout(width='1400px')))  # a widget figure 1400 px wide"
)


def test_output_wider_than_the_column_is_caught(lab, page):
    """A 1400 px wide widget figure (as an unfixed widget showed) makes the output area scroll: caught."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(WIDE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "wide.ipynb")
    open_notebook(page, lab, "wide.ipynb")
    run_all(page, timeout_ms=120_000)
    wait_idle(page)
    assert widget_views(page)["rendered"] == 2
    wide = horizontal_overflow(page)
    assert len(wide) == 1 and "scrolls sideways" in wide[0], wide
    with pytest.raises(AssertionError, match="wider than the notebook column"):
        assert_notebook_healthy(page, "wide.ipynb")
