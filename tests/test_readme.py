"""The README stays true to the code: its catalog table is the one dltk.catalog() renders,
its Quickstart is the two commands, and the lessons index lists every lesson."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _catalog_tool():
    spec = importlib.util.spec_from_file_location("catalog_table", ROOT / "tools" / "catalog_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_catalog_table_is_generated_from_the_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _catalog_tool().block() in readme, "regenerate it: python tools/catalog_table.py --write"


def test_readme_quickstart_is_make_lab_and_make_test():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in quick.splitlines()[1:] if line.strip()]
    assert commands == ["make lab", "make test"]


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_benchmark_tables_live_in_benchmarks_readme_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bench = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert "](benchmarks/README.md)" in readme
    assert "| layer | input | dltk ms | torch ms |" not in readme, "the long tables belong in benchmarks/README.md"
    for table_head in ("| (B, T, D, H) | layers |", "| layer | input | dltk ms | torch ms |"):
        assert table_head in bench
