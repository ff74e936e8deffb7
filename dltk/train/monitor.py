"""The live training-progress figure (``trainingOptions(Plots='training-progress')``).

Pure matplotlib: :class:`TrainingPlot` builds one figure — accuracy (or RMSE)
on top, loss below, an information panel on the right — and updates its
artists in place. Raw mini-batch values are thin lines, an exponential moving
average (debiased, weight ``smoothing`` on the past) thick lines, validation
values black dots joined by a dashed line; epochs are shaded alternately.

Display: with the ipympl backend (``%matplotlib widget``) the canvas is shown
once and redrawn; in any other Jupyter kernel the figure is re-rendered into
one IPython display handle; outside Jupyter nothing is shown live (the figure
is still built, e.g. for ``info.plot()`` or saving). Redraws are throttled
(at most every ``interval`` seconds, and never more than about a quarter of
the time spent training). At the end the figure stays as a static image.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["TrainingPlot", "ema"]


def ema(values: np.ndarray, smoothing: float = 0.6) -> np.ndarray:
    """Debiased exponential moving average; NaN entries are skipped (carried)."""
    out = np.full(len(values), np.nan)
    acc, w = 0.0, 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            acc = smoothing * acc + (1 - smoothing) * v
            w = smoothing * w + (1 - smoothing)
        out[i] = acc / w if w else np.nan
    return out


def _display_mode() -> str:
    import matplotlib

    backend = matplotlib.get_backend().lower()
    if "ipympl" in backend or "widget" in backend:
        return "widget"
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover
        return "none"
    return "inline" if ip is not None and hasattr(ip, "kernel") else "none"


class TrainingPlot:
    """A live loss/accuracy figure.

    Args:
        classification: accuracy panel (else RMSE).
        total_iterations: x-axis extent.
        iterations_per_epoch: for the epoch shading.
        max_epochs: shown as "epoch i of N".
        hardware: text for the info panel (e.g. ``"CPU (2 threads)"``).
        smoothing: EMA weight on the past. Default: 0.6.
        interval: minimum seconds between redraws. Default: 0.25.
        display: show live (``'auto'`` detects Jupyter; ``'none'`` never).

    Attributes:
        fig: the matplotlib Figure; ``lines`` ({'metric'|'loss': (raw, smoothed,
            validation)}), ``text`` (info panel), ``mode`` (``'widget'``,
            ``'inline'`` — PNG frames in one display handle — or ``'none'``).
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
        display: str = "auto",
    ) -> None:
        self.classification = classification
        self.total = max(1, total_iterations)
        self.per_epoch = max(1, iterations_per_epoch)
        self.max_epochs = max_epochs
        self.hardware = hardware
        self.smoothing = smoothing
        self.interval = interval
        self.mode = _display_mode() if display == "auto" else display
        self._script = display == "auto" and self.mode == "none"
        self._last_draw = 0.0
        self._draw_cost = 0.0
        self._shaded = 0
        self._handle: Any = None
        self.dpi = 80
        self._build()

    def _build(self) -> None:
        if self.mode == "widget":
            import matplotlib.pyplot as plt

            self.fig = plt.figure(figsize=(10, 5.5))
        else:
            from matplotlib.figure import Figure

            self.fig = Figure(figsize=(10, 5.5))
        gs = self.fig.add_gridspec(2, 2, width_ratios=(4, 1.3), hspace=0.08, wspace=0.05)
        self.ax_metric = self.fig.add_subplot(gs[0, 0])
        self.ax_loss = self.fig.add_subplot(gs[1, 0], sharex=self.ax_metric)
        self.ax_info = self.fig.add_subplot(gs[:, 1])
        self.ax_info.axis("off")
        name = "Accuracy (%)" if self.classification else "RMSE"
        self.ax_metric.set_ylabel(name)
        self.ax_loss.set_ylabel("Loss")
        self.ax_loss.set_xlabel("Iteration")
        self.ax_metric.tick_params(labelbottom=False)
        self.ax_metric.set_xlim(0, self.total)
        self.lines = {}
        for ax, key, color in ((self.ax_metric, "metric", "#1f77b4"), (self.ax_loss, "loss", "#d95f02")):
            (raw,) = ax.plot([], [], lw=0.8, alpha=0.45, color=color, label="mini-batch")
            (smooth,) = ax.plot([], [], lw=2.0, color=color, label="smoothed")
            (val,) = ax.plot([], [], "--o", color="black", lw=1, ms=4, label="validation")
            self.lines[key] = (raw, smooth, val)
            ax.grid(alpha=0.3)
        self.ax_metric.legend(loc="lower right", fontsize=8)
        self.text = self.ax_info.text(
            0.02, 0.98, "", va="top", ha="left", family="monospace", fontsize=8.5, transform=self.ax_info.transAxes
        )
        self.fig.suptitle("Training progress", fontsize=11)

    # ----------------------------------------------------------------- update
    def _shade(self, epochs_started: int) -> None:
        while self._shaded < epochs_started:
            k = self._shaded
            if k % 2 == 1:
                for ax in (self.ax_metric, self.ax_loss):
                    ax.axvspan(k * self.per_epoch + 0.5, (k + 1) * self.per_epoch + 0.5, color="0.92", zorder=0)
            self._shaded += 1

    def set_data(self, state: dict[str, Any]) -> None:
        """Update the artists from a training-state dict (see :meth:`update`)."""
        it = np.asarray(state["iteration"], dtype=float)
        scale = 100.0 if self.classification else 1.0
        for key, raw_key, val_key in (("metric", "metric", "val_metric"), ("loss", "loss", "val_loss")):
            raw, smooth, val = self.lines[key]
            y = np.asarray(state[raw_key], dtype=float) * scale if key == "metric" else np.asarray(state[raw_key])
            raw.set_data(it, y)
            smooth.set_data(it, ema(y, self.smoothing))
            vy = np.asarray(state[val_key], dtype=float) * (scale if key == "metric" else 1.0)
            ok = np.isfinite(vy)
            val.set_data(it[ok], vy[ok])
        for ax in (self.ax_metric, self.ax_loss):
            ax.relim()
            ax.autoscale_view(scalex=False)
        if self.classification:
            self.ax_metric.set_ylim(0, 100)
        self._shade(int(np.ceil((it[-1] if len(it) else 0) / self.per_epoch)))
        lines = [
            f"Elapsed:    {state.get('elapsed', '')}",
            f"Epoch:      {state.get('epoch', 0)} of {self.max_epochs}",
            f"Iteration:  {len(it)} of {self.total}",
            f"Iter/epoch: {self.per_epoch}",
            f"Learn rate: {state.get('lr', float('nan')):.4g}",
            "",
            f"Hardware:   {self.hardware}",
        ]
        if state.get("val_freq"):
            lines.append(f"Validation: every {state['val_freq']} it")
        reason = state.get("reason")
        lines += ["", "Status:", f"  {reason}" if reason else "  training…"]
        if state.get("final_val"):
            lines += ["", state["final_val"]]
        self.text.set_text("\n".join(lines))

    def update(self, state: dict[str, Any], force: bool = False) -> bool:
        """Redraw if enough time has passed (or ``force``); returns True if redrawn.

        ``state`` keys: ``iteration``, ``loss``, ``metric``, ``val_loss``,
        ``val_metric`` (per-iteration sequences, NaN where not computed),
        ``epoch``, ``elapsed`` (text), ``lr``, optional ``reason``, ``val_freq``,
        ``final_val``.
        """
        now = time.perf_counter()
        if self._script and not force:
            return False  # outside Jupyter nothing is shown live: draw once, at the end
        if not force and now - self._last_draw < max(self.interval, 3 * self._draw_cost):
            return False
        self.set_data(state)
        self._show()
        self._last_draw = time.perf_counter()
        self._draw_cost = self._last_draw - now
        return True

    def _show(self) -> None:
        if self.mode == "widget":
            if self._handle is None:
                from IPython.display import display

                self._handle = display(self.fig.canvas, display_id=True)
            self.fig.canvas.draw_idle()
            self.fig.canvas.flush_events()
        elif self.mode == "inline":
            import io

            from IPython.display import Image, display

            buf = io.BytesIO()  # a PNG works whatever figure formatters the kernel has
            self.fig.savefig(buf, format="png", dpi=self.dpi)
            img = Image(data=buf.getvalue(), format="png")
            if self._handle is None:
                self._handle = display(img, display_id=True)
            else:
                self._handle.update(img)

    def finish(self, state: dict[str, Any]) -> None:
        """Final redraw; the figure stays as a static image."""
        self.set_data(state)
        self._show()
        if self.mode == "widget":
            import matplotlib.pyplot as plt

            plt.close(self.fig)  # keep the last frame; no further interaction needed
