"""Deepen an LSTM network one layer at a time, following MATLAB's stacking rules."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from .._config import config
from ..errors import OptionError
from ..options import choice, number, positive_int
from ..viz import style
from ..viz import style as S
from .base import DltkWidget

__all__ = ["DeepenLSTM", "stacked_lstm_layers"]

TASKS = ("sequence-to-label", "sequence-to-sequence")


def stacked_lstm_layers(
    num_features: int,
    num_responses: int,
    depth: int,
    task: str = "sequence-to-label",
    hidden: int = 100,
    dropout: float = 0.0,
    classification: bool = True,
) -> list[Any]:
    """The layer array of a ``depth``-LSTM network, built as MATLAB's docs stack LSTMs.

    Every intermediate LSTM has ``OutputMode='sequence'`` (the next LSTM needs
    a sequence); the last has ``'last'`` for sequence-to-label and
    ``'sequence'`` for sequence-to-sequence; a dropout layer follows each
    LSTM when ``dropout > 0``; then fully connected → softmax →
    classification (or fully connected → regression).
    """
    import dltk

    layers: list[Any] = [dltk.sequenceInputLayer(num_features)]
    for k in range(depth):
        last = k == depth - 1
        mode = "last" if last and task == "sequence-to-label" else "sequence"
        layers.append(dltk.lstmLayer(hidden, OutputMode=mode))
        if dropout > 0:
            layers.append(dltk.dropoutLayer(dropout))
    layers.append(dltk.fullyConnectedLayer(num_responses))
    if classification:
        layers += [dltk.softmaxLayer(), dltk.classificationLayer()]
    else:
        layers.append(dltk.regressionLayer())
    return layers


class DeepenLSTM(DltkWidget):
    """Start from one LSTM layer and deepen the network step by step.

    Each click on "add layer" inserts one more LSTM (the MATLAB rules of
    :func:`stacked_lstm_layers`); "remove layer" steps back. After each step
    the widget shows the layer array, the :func:`dltk.analyzeNetwork` table,
    a short training run with :func:`dltk.trainNetwork` (the loss curves of
    all depths tried so far, to compare) and each LSTM's hidden-state heatmap
    (units × time for one observation) side by side. Training runs in the
    button callback with a busy indicator; errors appear in the widget.

    Args:
        X: sequences — a list of (T_i, C) arrays or an (N, T, C) array.
        Y: labels (N,) for sequence-to-label; a list of per-step label arrays
            for sequence-to-sequence; float responses for regression.
        task: ``'sequence-to-label'`` or ``'sequence-to-sequence'``. Default: ``'sequence-to-label'``.
        hidden: hidden units per LSTM (MATLAB ``NumHiddenUnits``). Default: 100 (16 in fast mode).
        dropout: dropout probability after each LSTM, 0 for none (MATLAB
            ``dropoutLayer(Probability)``). Default: 0.2.
        max_epochs: epochs of each training run (MATLAB ``MaxEpochs``). Default: 4 (1 in fast mode).
        train: train after every step. Default: True.
        observation: observation whose hidden states are drawn. Default: 0.

    Attributes:
        depth, layers (the current layer array), net (trained ``Network`` or
        None), analysis (``NetworkAnalysis``), infos (``{depth: TrainingInfo}``),
        add_button, remove_button, layers_html, analysis_html, curve_fig,
        curve_lines (``{depth: Line2D}``), hidden_fig, hidden_images
        (``{layer name: AxesImage}``).

    Example:
        >>> X, Y = dltk.data.long_memory(200, T=20)
        >>> w = dltk.widgets.DeepenLSTM(X, Y, hidden=16)
        >>> w.add_button.click()   # two LSTMs: 'sequence', then 'last'
    """

    def __init__(
        self,
        X: Any,
        Y: Any,
        task: str = "sequence-to-label",
        hidden: int | None = None,
        dropout: float = 0.2,
        *,
        max_epochs: int | None = None,
        train: bool = True,
        observation: int = 0,
        interactive: bool | None = None,
    ) -> None:
        super().__init__(interactive)
        where = "DeepenLSTM"
        self.task = choice(where, "task", task, TASKS)
        self.hidden = positive_int(where, "hidden", hidden if hidden is not None else (16 if config.fast else 100))
        self.dropout = number(where, "dropout", dropout, low=0, high=1, high_open=True)
        self.max_epochs = positive_int(where, "max_epochs", max_epochs or (1 if config.fast else 4))
        self.train = bool(train)
        self.X, self.Y = X, Y
        seqs = list(X) if not isinstance(X, (np.ndarray, torch.Tensor)) or np.ndim(X) != 3 else [x for x in X]
        if not seqs:
            raise OptionError(f"{where}: X holds no sequences.")
        self.num_features = int(np.shape(seqs[0])[-1])
        ys = np.concatenate([np.asarray(y).reshape(-1) for y in Y]) if self.task == TASKS[1] else np.asarray(Y)
        self.classification = not np.issubdtype(np.asarray(ys).dtype, np.floating)
        self.num_responses = len(np.unique(ys)) if self.classification else int(np.shape(ys)[-1] if ys.ndim > 1 else 1)
        self.observation = S.check_index(where, "observation", observation, len(seqs))
        self._probe = [torch.as_tensor(np.asarray(seqs[self.observation]), dtype=torch.float32)]
        self.depth = 0
        self.net: Any = None
        self.analysis: Any = None
        self.infos: dict[int, Any] = {}
        self.add_button = self._w(W.Button(description="add layer", icon="plus", button_style="success"))
        self.remove_button = self._w(W.Button(description="remove layer", icon="minus"))
        self.layers_html = self._w(W.HTML())
        self.analysis_html = self._w(W.HTML())
        self.curve_fig = S.new_figure((5.0, 3.2))
        self.curve_ax = self.curve_fig.add_subplot(1, 1, 1)
        self.curve_ax.set_xlabel("iteration", fontsize=8)
        self.curve_ax.set_ylabel("training loss", fontsize=8)
        self.curve_ax.set_title("quick training run per depth", fontsize=9)
        self.curve_ax.tick_params(labelsize=7)
        self.curve_fig.subplots_adjust(left=0.16, bottom=0.16, right=0.97, top=0.9)
        self.curve_lines: dict[int, Any] = {}
        self.hidden_fig = style.column_figure(style.COLUMN_WIDTH_IN, 2.6)
        self.hidden_images: dict[str, Any] = {}
        self.curve_view = self._view(self.curve_fig)
        self.hidden_view = self._view(self.hidden_fig)
        self.add_button.on_click(self._guard(lambda _b: self.add_layer()))
        self.remove_button.on_click(self._guard(lambda _b: self.remove_layer()))
        buttons = W.HBox([self.add_button, self.remove_button, self.status])
        self.box = self._w(
            W.VBox(
                [
                    buttons,
                    self.error_area,
                    W.HBox([self.layers_html, self.curve_view.widget], layout=style.wrap_layout()),
                    self.analysis_html,
                    self.hidden_view.widget,
                ]
            )
        )
        self._guard(self._set_depth)(1)

    # ------------------------------------------------------------- steps
    def add_layer(self) -> None:
        """Insert one more LSTM layer (what the "add layer" button does)."""
        self._set_depth(self.depth + 1)

    def remove_layer(self) -> None:
        """Go back to one LSTM fewer (never below one)."""
        if self.depth <= 1:
            raise OptionError("DeepenLSTM: the network already has a single LSTM layer; nothing to remove.")
        self._set_depth(self.depth - 1)

    def _set_depth(self, depth: int) -> None:
        import dltk

        layers = stacked_lstm_layers(
            self.num_features, self.num_responses, depth, self.task, self.hidden, self.dropout, self.classification
        )
        noun = "LSTM layer" if depth == 1 else "LSTM layers"
        with self.working(f"building and training {depth} {noun}…", [self.add_button, self.remove_button]):
            net = dltk.Network(layers)
            analysis = dltk.analyzeNetwork(net, task=self.task)
            info = None
            if self.train:
                opts = dltk.trainingOptions(
                    "adam",
                    MaxEpochs=self.max_epochs,
                    MiniBatchSize=32,
                    Verbose=False,
                    Shuffle="every-epoch",
                    GradientThreshold=1,
                )
                net, info = dltk.trainNetwork(self.X, self.Y, layers, opts)
            rec = dltk.record(net, self._probe, signals=["hidden_state"])
        # commit only after everything succeeded: a failure leaves the previous step on screen
        self.depth, self.layers, self.net, self.analysis = depth, list(net.layers), net, analysis
        if info is not None:
            self.infos[depth] = info
        self._show_layers()
        self._show_curves()
        self._show_hidden(rec)
        self.remove_button.disabled = depth <= 1

    # ----------------------------------------------------------- display
    def _show_layers(self) -> None:
        rows = "".join(
            f"<tr><td>{k}</td><td>{html.escape(lay.name)}</td><td>{html.escape(lay.type_name)}</td>"
            f"<td>{html.escape(lay.description())}</td></tr>"
            for k, lay in enumerate(self.layers, 1)
        )
        self.layers_html.value = (
            f"<b>{self.depth} LSTM layer{'s' if self.depth > 1 else ''}</b> ({self.task})"
            f"<table><tr><th></th><th>Name</th><th>Type</th><th>Description</th></tr>{rows}</table>"
        )
        ok = "no issues" if self.analysis.ok else f"{len(self.analysis.errors)} error(s)"
        self.analysis_html.value = f"<b>analyzeNetwork</b>: {ok}" + self.analysis._repr_html_()

    def _show_curves(self) -> None:
        ax = self.curve_ax
        for d in [d for d in self.curve_lines if d not in self.infos]:
            self.curve_lines.pop(d).remove()
        for d, info in sorted(self.infos.items()):
            y = np.asarray(info.TrainingLoss, dtype=float)
            x = np.arange(1, len(y) + 1)
            if d in self.curve_lines:
                self.curve_lines[d].set_data(x, y)
            else:
                self.curve_lines[d] = ax.plot(
                    x, y, lw=1.4, marker="o", ms=2.5, label=f"{d} LSTM{'s' if d > 1 else ''}"
                )[0]
            self.curve_lines[d].set_linewidth(2.4 if d == self.depth else 1.0)
        if self.curve_lines:
            ax.relim()
            ax.autoscale_view()
            ax.legend(fontsize=7)
        self.curve_view.refresh(full=True)

    def _show_hidden(self, rec: Any) -> None:
        fig = self.hidden_fig
        for ax in list(fig.axes):
            ax.remove()
        names = [lay.name for lay in self.layers if lay.type_name == "LSTM" and lay.name in rec]
        self.hidden_images = {}
        axes = []
        for k, name in enumerate(names):
            ax = fig.add_subplot(1, len(names), k + 1, sharey=axes[0] if axes else None)
            h = S.to_numpy(rec[name]["hidden_state"][0]).T  # (H, T)
            self.hidden_images[name] = ax.imshow(
                h,
                aspect="auto",
                origin="lower",
                cmap=S.ACTIVATION_CMAP,
                norm=S.ACTIVATION_NORM,
                interpolation="nearest",
            )
            mode = self.net.layer(name).OutputMode
            ax.set_title(f"{name} (OutputMode '{mode}')", fontsize=8)
            ax.set_xlabel("time step t", fontsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
            ax.tick_params(labelsize=6, labelleft=k == 0)
            axes.append(ax)
        if names:
            axes[0].set_ylabel("hidden unit", fontsize=7)
            style.colorbar(fig, self.hidden_images[names[0]], axes, "h (−1 … 1)", shrink=1.0)
        fig.suptitle(f"hidden state h_t of each LSTM, observation {self.observation}", fontsize=9)
        self.hidden_view.refresh(full=True)
