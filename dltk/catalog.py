"""``dltk.catalog()``: every MATLAB layer of the catalog, its dltk class and its PyTorch counterpart.

The families and MATLAB names follow the reference catalog (input, convolution
and fully connected, recurrent, sequence utility, activation, normalization/
dropout/cropping/resizing, pooling, combination, output layers, with the
custom-layer examples MATLAB's documentation builds). A MATLAB layer that has
no dltk class yet is listed with the mark ``MISSING``; a dltk layer class that
the list does not know is added under "other".

Example:
    >>> cat = dltk.catalog()
    >>> cat["lstmLayer"].torch_equivalent
    'torch.nn.LSTM'
    >>> print(cat.to_markdown())        # the README table
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

__all__ = ["catalog", "Catalog", "CatalogEntry", "FAMILIES"]

#: MATLAB family -> MATLAB layer constructors, in the reference's order
FAMILIES: dict[str, tuple[str, ...]] = {
    "input": ("imageInputLayer", "image3dInputLayer", "sequenceInputLayer", "featureInputLayer", "roiInputLayer"),
    "convolution and fully connected": (
        "convolution2dLayer",
        "convolution3dLayer",
        "groupedConvolution2dLayer",
        "transposedConv2dLayer",
        "transposedConv3dLayer",
        "fullyConnectedLayer",
    ),
    "recurrent": ("lstmLayer", "bilstmLayer", "gruLayer"),
    "sequence utility": ("sequenceFoldingLayer", "sequenceUnfoldingLayer", "flattenLayer", "wordEmbeddingLayer"),
    "activation": (
        "reluLayer",
        "leakyReluLayer",
        "clippedReluLayer",
        "eluLayer",
        "tanhLayer",
        "sigmoidLayer",
        "softmaxLayer",
        "preluLayer",
    ),
    "normalization, dropout, cropping, resizing": (
        "batchNormalizationLayer",
        "groupNormalizationLayer",
        "crossChannelNormalizationLayer",
        "dropoutLayer",
        "crop2dLayer",
        "crop3dLayer",
        "resize2dLayer",
        "resize3dLayer",
    ),
    "pooling": (
        "averagePooling2dLayer",
        "averagePooling3dLayer",
        "maxPooling2dLayer",
        "maxPooling3dLayer",
        "globalAveragePooling2dLayer",
        "globalAveragePooling3dLayer",
        "globalMaxPooling2dLayer",
        "globalMaxPooling3dLayer",
        "maxUnpooling2dLayer",
        "roiMaxPooling2dLayer",
    ),
    "combination": (
        "additionLayer",
        "multiplicationLayer",
        "depthConcatenationLayer",
        "concatenationLayer",
        "weightedAdditionLayer",
    ),
    "output": (
        "classificationLayer",
        "regressionLayer",
        "pixelClassificationLayer",
        "dicePixelClassificationLayer",
        "focalLossLayer",
        "rpnSoftmaxLayer",
        "rpnClassificationLayer",
        "rcnnBoxRegressionLayer",
        "weightedClassificationLayer",
        "tverskyPixelClassificationLayer",
        "sseClassificationLayer",
        "maeRegressionLayer",
    ),
}

MISSING = "MISSING"
_COLUMNS = ("family", "MATLAB", "dltk class", "PyTorch counterpart", "signals")


@dataclass(frozen=True)
class CatalogEntry:
    """One row: a MATLAB layer and what dltk offers for it (``dltk_class`` None when missing)."""

    family: str
    matlab_name: str
    dltk_class: type | None
    torch_equivalent: str
    signals: tuple[str, ...]

    @property
    def missing(self) -> bool:
        return self.dltk_class is None

    def cells(self) -> tuple[str, str, str, str, str]:
        cls = f"dltk.layers.{self.dltk_class.__name__}" if self.dltk_class else f"{MISSING}"
        return (self.family, self.matlab_name, cls, self.torch_equivalent or "—", ", ".join(self.signals) or "—")


class Catalog:
    """The catalog table: iterate over :class:`CatalogEntry` rows, index by MATLAB name.

    Renders as text (``str``), HTML in notebooks and markdown (:meth:`to_markdown`).
    """

    def __init__(self, entries: list[CatalogEntry]) -> None:
        self.entries = entries
        self._by_name = {e.matlab_name: e for e in entries}

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, matlab_name: str) -> CatalogEntry:
        try:
            return self._by_name[matlab_name]
        except KeyError:
            raise KeyError(f"{matlab_name!r} is not in the dltk catalog; see dltk.catalog().names") from None

    @property
    def names(self) -> list[str]:
        """MATLAB names, in catalog order."""
        return [e.matlab_name for e in self.entries]

    @property
    def missing(self) -> list[str]:
        """MATLAB layers of the catalog without a dltk class."""
        return [e.matlab_name for e in self.entries if e.missing]

    def _summary(self) -> str:
        n, m = len(self), len(self.missing)
        return f"{n} MATLAB layers, {n - m} in dltk" + (f", {m} {MISSING}: {', '.join(self.missing)}" if m else "")

    def to_markdown(self) -> str:
        """A GitHub markdown table (what the README shows)."""

        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        for e in self.entries:
            fam, name, cls, torch_eq, sig = e.cells()
            cls = f"**{MISSING}**" if e.missing else f"`{cls}`"
            lines.append(f"| {esc(fam)} | `{name}` | {cls} | {esc(torch_eq)} | {esc(sig)} |")
        return "\n".join(lines) + f"\n\n{self._summary()}\n"

    def __str__(self) -> str:
        rows = [_COLUMNS] + [e.cells() for e in self.entries]
        widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS) - 1)]
        out = []
        for k, r in enumerate(rows):
            out.append("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1])
            if k == 0:
                out.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
        return "\n".join(out) + "\n" + self._summary()

    def __repr__(self) -> str:
        return f"<dltk catalog: {self._summary()}>"

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{escape(c)}</th>" for c in _COLUMNS)
        body = []
        for e in self.entries:
            cells = [escape(c) for c in e.cells()]
            if e.missing:
                cells[2] = f"<b style='color:#b00'>{MISSING}</b>"
            else:
                cells[2] = f"<code>{cells[2]}</code>"
            cells[1] = f"<code>{cells[1]}</code>"
            body.append("<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>")
        return (
            f"<p><b>dltk layer catalog</b>: {escape(self._summary())}</p>"
            f"<table class='dltk-catalog'><tr>{head}</tr>{''.join(body)}</table>"
        )


def catalog() -> Catalog:
    """Every MATLAB layer of the catalog with its dltk class, PyTorch counterpart and signals.

    Returns:
        A :class:`Catalog` (text with ``print``, an HTML table in notebooks,
        ``to_markdown()`` for documents); ``catalog().missing`` lists MATLAB
        layers without a dltk class.
    """
    from .layers import all_layer_classes

    classes = {c.matlab_name: c for c in all_layer_classes()}
    entries = []
    for family, names in FAMILIES.items():
        for name in names:
            cls = classes.pop(name, None)
            entries.append(_entry(family, name, cls))
    for name, cls in sorted(classes.items(), key=lambda kv: kv[0].lower()):
        entries.append(_entry("other", name, cls))
    return Catalog(entries)


def _entry(family: str, name: str, cls: type | None) -> CatalogEntry:
    if cls is None:
        return CatalogEntry(family, name, None, "", ())
    signals = cls.signals if isinstance(cls.signals, tuple) else ()
    return CatalogEntry(family, name, cls, cls.torch_equivalent, tuple(signals))
