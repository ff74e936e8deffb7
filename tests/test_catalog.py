"""dltk.catalog(): the MATLAB layer catalog against the reference file, and its renderings."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import dltk
from dltk.catalog import FAMILIES, Catalog

#: where the reference catalog lives (the team's shared notes; a clean clone may not have it)
REFERENCE_CANDIDATES = [
    os.environ.get("DLTK_MATLAB_REFERENCE", ""),
    # the team's shared/ folder sits beside the repository (as in CI)
    str(Path(__file__).resolve().parents[2] / "shared" / "reference" / "matlab-layers.md"),
]
#: layers the reference names only in prose (not in a heading or table of §1–§9)
PROSE_NAMES = {"roiMaxPooling2dLayer"}

LAYER_NAME = re.compile(r"\b[a-z][A-Za-z0-9]*Layer\b")


def reference_text() -> str:
    for p in REFERENCE_CANDIDATES:
        if p and Path(p).is_file():
            return Path(p).read_text(encoding="utf-8")
    pytest.skip("reference file matlab-layers.md not found (set DLTK_MATLAB_REFERENCE)")


def parse_catalog(text: str) -> dict[int, list[str]]:
    """Layer names used as headings or in the first column of tables, per section §1–§9."""
    found: dict[int, list[str]] = {}
    section = None
    for line in text.splitlines():
        m = re.match(r"^## (\d+)\. ", line)
        if m:
            section = int(m.group(1))
            continue
        if section is None or not 1 <= section <= 9:
            continue
        if line.startswith("### "):
            head = re.sub(r"\(.*", "", line[4:])  # names come before any "(R2019a; …)" remark
            names = LAYER_NAME.findall(head)
        elif line.startswith("|"):
            cells = [c.strip(" `") for c in line.strip("|").split("|")]
            m = LAYER_NAME.match(cells[0]) if cells else None  # "eluLayer (R2019a)" -> eluLayer
            names = [m.group(0)] if m else []
        else:
            continue
        for n in names:
            if n not in found.setdefault(section, []):
                found[section].append(n)
    return found


def reference_names() -> list[str]:
    parsed = parse_catalog(reference_text())
    return [n for sec in sorted(parsed) for n in parsed[sec]] + sorted(PROSE_NAMES)


def test_parser_finds_every_section_and_table() -> None:
    parsed = parse_catalog(reference_text())
    assert sorted(parsed) == list(range(1, 10))
    assert {"reluLayer", "eluLayer", "preluLayer"} <= set(parsed[5])  # table rows and a heading
    assert "globalMaxPooling3dLayer" in parsed[7] and "maxUnpooling2dLayer" in parsed[7]
    assert {"sequenceFoldingLayer", "sequenceUnfoldingLayer"} <= set(parsed[4])  # "a / b" heading
    assert {"rpnSoftmaxLayer", "rcnnBoxRegressionLayer"} <= set(parsed[9])  # "a, b, c" heading
    assert sum(map(len, parsed.values())) >= 60


def test_catalog_list_matches_the_reference() -> None:
    listed = [n for names in FAMILIES.values() for n in names]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(set(reference_names()))


def test_every_reference_layer_is_in_dltk_and_in_the_catalog() -> None:
    cat = dltk.catalog()
    names = reference_names()
    not_front = [n for n in names if not callable(getattr(dltk, n, None))]
    not_listed = [n for n in names if n not in cat]
    assert not not_front, f"missing dltk.<name> for {len(not_front)} reference layers: {not_front}"
    assert not not_listed, f"not in dltk.catalog(): {not_listed}"
    assert cat.missing == [], f"catalog marks as missing: {cat.missing}"


def test_entries_carry_class_torch_counterpart_and_signals() -> None:
    cat = dltk.catalog()
    fc = cat["fullyConnectedLayer"]
    assert fc.dltk_class is dltk.layers.FullyConnected
    assert fc.torch_equivalent == "torch.nn.Linear"
    assert fc.signals == ("input_flat", "pre_bias") and fc.family == "convolution and fully connected"
    for e in cat:
        if not e.missing:
            assert getattr(dltk, e.matlab_name).layer_class is e.dltk_class
            assert e.torch_equivalent, f"{e.matlab_name}: {e.dltk_class.__name__}.torch_equivalent is empty"
    with pytest.raises(KeyError, match="not in the dltk catalog"):
        cat["noSuchLayer"]


def test_renderings_show_every_row_and_mark_missing_layers() -> None:
    cat = dltk.catalog()
    fake = Catalog([*cat.entries[:2], type(cat.entries[0])("input", "fancyNewLayer", None, "", ())])
    for text in (str(fake), fake.to_markdown(), fake._repr_html_()):
        assert cat.entries[0].matlab_name in text and "fancyNewLayer" in text and "MISSING" in text
    assert fake.missing == ["fancyNewLayer"]
    md = cat.to_markdown().splitlines()
    assert md[0].startswith("| family | MATLAB | dltk class | PyTorch counterpart | signals |")
    assert len([line for line in md if line.startswith("| ")]) == len(cat) + 1
    assert str(cat).count("\n") >= len(cat) + 1 and "<table" in cat._repr_html_()
    assert repr(cat).startswith("<dltk catalog:")
