"""The README's pictures are what the code draws now (``make pictures`` redraws them).

``tools/pictures.py`` draws them again into a temporary folder; each must
match the committed PNG in ``docs/img`` pixel for pixel, up to a small
tolerance for font rasterising and float rounding on another machine (at most
:data:`MAX_CHANGED` of the pixels differ by more than :data:`LEVEL` of 255),
so PNG encoder metadata never matters and a changed title, layout or
colour does.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

ROOT = Path(__file__).resolve().parents[1]
MAX_CHANGED = 0.002
LEVEL = 24 / 255


def _tool():
    spec = importlib.util.spec_from_file_location("pictures", ROOT / "tools" / "pictures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pixels whose RGB differ by more than LEVEL (1.0 when the sizes differ)."""
    if a.shape[:2] != b.shape[:2]:
        return 1.0
    return float((np.abs(a[..., :3] - b[..., :3]).max(-1) > LEVEL).mean())


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("pictures")
    _tool().main(out)
    return out


@pytest.mark.parametrize("name", ["lstm_cell.png", "gate_heatmaps.png", "deepen_lstm.png"])
def test_readme_picture_is_current(fresh, name):
    committed = ROOT / "docs" / "img" / name
    assert committed.exists(), f"docs/img/{name} is missing: run make pictures"
    diff = changed_fraction(imread(committed), imread(fresh / name))
    assert diff <= MAX_CHANGED, f"docs/img/{name} is out of date ({diff:.2%} of the pixels differ): run make pictures"


def test_readme_shows_the_pictures_near_the_top():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r'src="(docs/img/[a-z_]+\.png)"', readme)
    assert shown == [f"docs/img/{n}" for n in _tool().NAMES], shown
    assert readme.index(shown[0]) < readme.index("## Quickstart"), "the pictures belong above the Quickstart"


def test_the_comparison_sees_a_change():
    img = np.ones((100, 200, 4))
    other = img.copy()
    other[40:50, 10:60, :3] = 0  # a word of a title, about 2.5 % of the pixels
    assert changed_fraction(img, img) == 0.0
    assert changed_fraction(img, other) > MAX_CHANGED
    assert changed_fraction(img, img[:, :150]) == 1.0
