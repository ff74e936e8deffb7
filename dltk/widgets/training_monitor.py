"""The training-progress monitor as a widget (wraps :class:`dltk.train.monitor.TrainingPlot`)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ..viz import style
from .base import DltkWidget

__all__ = ["TrainingMonitor"]


class TrainingMonitor(DltkWidget):
    """MATLAB's training-progress window in a notebook: curves, progress bar, info.

    The figure is the training engineer's :class:`~dltk.train.monitor.TrainingPlot`
    (accuracy or RMSE on top, loss below, raw/smoothed/validation lines, epoch
    shading), built once and shown through a :class:`FigureView`; an
    ``IntProgress`` bar and a status line sit above it. It speaks the same
    protocol as ``TrainingPlot`` — :meth:`update` (throttled) and
    :meth:`finish` with the training-state dict — so the trainer can drive
    either. Stop training with the kernel's interrupt (■): a button cannot be
    serviced while the training loop blocks the kernel.

    Args:
        classification: accuracy panel (else RMSE).
        total_iterations, iterations_per_epoch, max_epochs: the run's extent.
        hardware: text for the info panel. Default: ``''``.
        smoothing: EMA weight on the past. Default: 0.6.
        interval: minimum seconds between redraws. Default: 0.25.
        interactive: ipympl canvas (default under ``%matplotlib widget``) or PNG.

    Attributes:
        plot (the ``TrainingPlot``; its ``lines``, ``text``), progress
        (``IntProgress``), view, iterations (points shown so far), finished.

    Example:
        >>> net, info = dltk.trainNetwork(X, Y, layers, opts)
        >>> dltk.widgets.TrainingMonitor.from_info(info)
    """

    def __init__(
        self,
        classification: bool,
        total_iterations: int,
        iterations_per_epoch: int,
        max_epochs: int,
        hardware: str = "",
        smoothing: float = 0.6,
        interval: float = 0.25,
        *,
        interactive: bool | None = None,
    ) -> None:
        super().__init__(interactive)
        from ..train.monitor import TrainingPlot

        self.plot = TrainingPlot(
            classification,
            total_iterations,
            iterations_per_epoch,
            max_epochs,
            hardware,
            smoothing,
            interval,
            display="none",
        )
        self.plot.fig.set_size_inches(style.COLUMN_WIDTH_IN, 4.6)  # the notebook column (TrainingPlot draws 10 in)
        self.view = self._view(self.plot.fig)
        self.progress = self._w(W.IntProgress(0, 0, max(1, total_iterations), description="iteration"))
        self.iterations = 0
        self.finished = False
        self.box = self._w(W.VBox([W.HBox([self.progress, self.status]), self.error_area, self.view.widget]))

    def _show(self, state: dict[str, Any]) -> None:
        self.iterations = len(state["iteration"])
        self.progress.value = min(self.iterations, self.progress.max)
        self.view.refresh(full=True)

    def update(self, state: dict[str, Any], force: bool = False) -> bool:
        """Redraw from the training state if enough time has passed; True if redrawn."""
        if not self.plot.update(state, force):
            return False
        self._show(state)
        self.status.value = "<span style='color:#a15c00'>training… (■ interrupt the kernel to stop)</span>"
        return True

    def finish(self, state: dict[str, Any]) -> None:
        """Final picture and stop reason."""
        self.plot.set_data(state)
        self._show(state)
        self.finished = True
        reason = state.get("reason") or "finished"
        self.status.value = f"<b>{html.escape(str(reason))}</b>"

    @classmethod
    def from_info(cls, info: Any, *, interactive: bool | None = None) -> TrainingMonitor:
        """A finished run's monitor from ``trainNetwork``'s ``info``."""
        from ..train.trainer import _plot_state

        extra = getattr(info, "_extra", {})
        n = info.NumIterations
        mon = cls(
            info.TrainingAccuracy is not None,
            n,
            int(extra.get("iterations_per_epoch", max(1, n))),
            int(info.Epoch[-1]) if n else 0,
            extra.get("hardware", ""),
            interactive=interactive,
        )
        mon.finish(_plot_state(info, extra.get("hardware", ""), info.StopReason))
        return mon
