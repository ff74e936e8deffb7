"""Build a lesson notebook from a percent-format script (authoring helper).

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown; each line's
leading ``# `` is removed). Optional cell tags: ``# %% tags=["hide-input"]``.
The notebook is written without outputs (as lessons are committed).

    python tools/nb_from_py.py lesson.py lessons/02_deeper_lstm.ipynb
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat


def convert(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    blocks = re.split(r"^# %%(.*)$", text, flags=re.M)
    for header, body in zip(blocks[1::2], blocks[2::2]):
        body = body.strip("\n")
        tags = []
        m = re.search(r"tags=(\[.*?\])", header)
        if m:
            tags = json.loads(m.group(1))
        if "[markdown]" in header:
            src = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cell = nbformat.v4.new_markdown_cell(src)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i:03d}"
    return nb


if __name__ == "__main__":
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    nbformat.write(convert(src.read_text()), dst)
    print(f"wrote {dst} ({len(convert(src.read_text()).cells)} cells)")
