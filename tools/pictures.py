"""The README's three pictures, drawn by dltk itself (``make pictures``).

``python -m tools.pictures [DIR]`` writes, into ``docs/img`` by default:

* ``lstm_cell.png`` — the LSTM cell at the step where a trained network sees
  the cue of :func:`dltk.data.long_memory` (input gate open, forget gate
  near 1), three hidden units annotated;
* ``gate_heatmaps.png`` — the gates and states of the same network over the
  whole sequence, cursor on the cue step;
* ``deepen_lstm.png`` — the :class:`dltk.widgets.DeepenLSTM` widget after
  two clicks on "add layer": its layer table, the loss curves of 1, 2 and 3
  LSTMs and each LSTM's hidden state, as the widget shows them.

Everything is seeded and trained on the CPU in seconds; the files are drawn
with the Agg backend at a fixed resolution and saved without metadata, so
the same code gives the same pixels. ``tests/test_readme_pictures.py``
redraws them into a temporary folder and compares.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
#: resolution of the saved files: 1.5 × the notebook's 100 dpi (sharp where the README shows them 800 px wide)
DPI = 150
NAMES = ("lstm_cell.png", "gate_heatmaps.png", "deepen_lstm.png")

#: the long-memory task: the cue (±1 with a marker) comes CUE steps into a T-step sequence
T, GAP = 16, 9
CUE = T - 1 - GAP
#: epochs of each DeepenLSTM training run (the widget's adam, learning rate 0.001)
DEEPEN_EPOCHS = 40


def _seed(seed: int = 0) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def _trained_lstm() -> tuple[object, torch.Tensor]:
    """A small LSTM classifier trained on long_memory (a few seconds), and one test batch."""
    import dltk

    _seed(0)
    X, Y = dltk.data.long_memory(240, T=T, gap=GAP, seed=1)
    layers = [
        dltk.sequenceInputLayer(2),
        dltk.lstmLayer(6, OutputMode="last", Name="lstm"),
        dltk.fullyConnectedLayer(2),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]
    opts = dltk.trainingOptions(
        "adam", MaxEpochs=25, MiniBatchSize=24, InitialLearnRate=0.02, Shuffle="never", Verbose=False
    )
    net, _info = dltk.trainNetwork(X, Y, layers, opts)
    Xt, _Yt = dltk.data.long_memory(4, T=T, gap=GAP, seed=7)
    return net, torch.as_tensor(np.stack(Xt))


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI, facecolor="white", metadata={"Software": None})


def lstm_pictures(out: Path) -> None:
    import dltk

    net, X = _trained_lstm()
    rec = dltk.record(net, X)
    cell = dltk.viz.lstm_cell(rec, "lstm", t=CUE, observation=0, units=(0, 1, 2), x=X)
    _save(cell, out / "lstm_cell.png")
    heat = dltk.viz.gate_heatmaps(rec, "lstm", observation=0, t=CUE, units=(0, 1, 2))
    _save(heat, out / "gate_heatmaps.png")


def deepen_picture(out: Path) -> None:
    """The DeepenLSTM widget after two "add layer" clicks, drawn as one figure."""
    import dltk
    from dltk.viz import style

    _seed(0)
    X, Y = dltk.data.long_memory(128, T=12, gap=5, noise=0.3, seed=2)
    w = dltk.widgets.DeepenLSTM(X, Y, hidden=6, dropout=0.0, max_epochs=DEEPEN_EPOCHS, interactive=False)
    try:
        w.add_button.click()
        w.add_button.click()
        if w.errors:
            raise RuntimeError(f"DeepenLSTM failed: {w.errors[-1]!r}")
        fig = style.new_figure((style.COLUMN_WIDTH_IN, 6.4), dpi=style.DPI, layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=(1.15, 1.0))
        left, right = top.subfigures(1, 2, width_ratios=(1.25, 1.0))
        # the layer table, as the widget lists it
        ax = left.add_subplot()
        ax.set_axis_off()
        rows = [[str(k), lay.name, lay.type_name] for k, lay in enumerate(w.layers, 1)]
        table = ax.table(
            cellText=rows,
            colLabels=["", "Name", "Type"],
            colWidths=[0.08, 0.4, 0.52],
            loc="upper center",
            cellLoc="left",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(7.5)
        table.scale(1.0, 1.12)
        for (r, _c), cell in table.get_celld().items():
            cell.set_edgecolor("#cccccc")
            if r == 0:
                cell.set_facecolor("#eeeeee")
                cell.set_text_props(weight="bold")
            elif "LSTM" in rows[r - 1][2]:
                cell.set_facecolor("#cfe2f3")
        modes = ", ".join(f"'{lay.OutputMode}'" for lay in w.layers if lay.type_name == "LSTM")
        ok = "no issues" if w.analysis.ok else "errors"
        ax.set_title(f"{w.depth} LSTM layers — OutputMode {modes}\nanalyzeNetwork: {ok}", fontsize=8.5)
        # the loss curves of every depth tried
        cax = right.add_subplot()
        for d, line in sorted(w.curve_lines.items()):
            cax.plot(*line.get_data(), lw=2.2 if d == w.depth else 1.2, label=line.get_label())
        cax.set_xlabel("iteration", fontsize=8)
        cax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        cax.set_ylabel("training loss", fontsize=8)
        cax.set_title("quick training run per depth", fontsize=9)
        cax.tick_params(labelsize=7)
        cax.legend(fontsize=7)
        # each LSTM's hidden state, from the widget's own images
        axes = bottom.subplots(1, len(w.hidden_images), sharey=True)
        for k, (a, im) in enumerate(zip(np.atleast_1d(axes), w.hidden_images.values())):
            a.imshow(im.get_array(), aspect="auto", origin="lower", cmap=im.get_cmap(), norm=im.norm)
            a.set_title(im.axes.get_title(), fontsize=8)
            a.set_xlabel("time step t", fontsize=8)
            a.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5, integer=True))
            a.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5, integer=True))
            a.tick_params(labelsize=7)
            if k == 0:
                a.set_ylabel("hidden unit", fontsize=8)
        style.colorbar(bottom, a.images[0], list(np.atleast_1d(axes)), "h (−1 … 1)", shrink=1.0)
        bottom.suptitle(f"hidden state h_t of each LSTM (units × time), observation {w.observation}", fontsize=9)
        fig.suptitle("DeepenLSTM after two clicks on “add layer”", fontsize=11, weight="bold")
        _save(fig, out / "deepen_lstm.png")
    finally:
        w.close()


def main(out: Path = OUT) -> list[Path]:
    """Draw the three pictures into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    lstm_pictures(out)
    deepen_picture(out)
    return [out / n for n in NAMES]


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(p)
