"""Regenerate the README's layer catalog table from ``dltk.catalog()``.

``python tools/catalog_table.py``          prints the markdown table;
``python tools/catalog_table.py --write``  replaces the block between
``<!-- CATALOG -->`` and ``<!-- /CATALOG -->`` in README.md (the end marker is
added after the first one when missing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import dltk

START, END = "<!-- CATALOG -->", "<!-- /CATALOG -->"


def block() -> str:
    return f"{START}\n\n## Layer catalog\n\n{dltk.catalog().to_markdown()}\n{END}"


def update(readme: Path) -> bool:
    """Rewrite the catalog block of ``readme``; True when the file changed."""
    text = readme.read_text(encoding="utf-8")
    if START not in text:
        raise SystemExit(f"{readme}: no {START} marker")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1] if END in rest else rest
    new = head + block() + tail
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str]) -> None:
    if "--write" in argv:
        readme = Path(__file__).resolve().parents[1] / "README.md"
        print(f"{readme}: {'updated' if update(readme) else 'already up to date'}")
    else:
        print(dltk.catalog().to_markdown())


if __name__ == "__main__":
    main(sys.argv[1:])
