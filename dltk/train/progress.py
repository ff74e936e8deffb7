"""Text progress of ``trainNetwork``: a tqdm.auto bar and MATLAB's verbose table.

The table has MATLAB's look (``Verbose=true``)::

    |=========================================================================================|
    | Epoch | Iteration | Time Elapsed | Mini-batch | Mini-batch | Validation | Validation | Base Learning |
    |       |           |  (hh:mm:ss)  |    Loss    |  Accuracy  |    Loss    |  Accuracy  |     Rate      |

with RMSE instead of accuracy for regression. Rows are printed at the first
iteration, every ``VerboseFrequency`` iterations, at validations, and at the
end. While the bar is shown, rows go through ``tqdm.write`` so that the bar
stays at the bottom.
"""

from __future__ import annotations

import math
import sys
from typing import Any

__all__ = ["Progress", "hms"]


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _num(v: float | None, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{100 * v:.2f}%" if pct else f"{v:.4f}"


class Progress:
    """Bar + table for one training run.

    Args:
        total: number of iterations planned.
        classification: accuracy columns (else RMSE).
        verbose: print the table and show the bar.
        frequency: VerboseFrequency.
        file: where the table goes. Default: ``sys.stdout``.
    """

    COLS = (
        ("Epoch", ""),
        ("Iteration", ""),
        ("Time Elapsed", "(hh:mm:ss)"),
        ("Mini-batch", "Loss"),
        ("Mini-batch", "Accuracy"),
        ("Validation", "Loss"),
        ("Validation", "Accuracy"),
        ("Base Learning", "Rate"),
    )

    def __init__(self, total: int, classification: bool, verbose: bool, frequency: int, file: Any = None) -> None:
        self.verbose = verbose
        self.frequency = frequency
        self.file = file or sys.stdout
        self.metric = "Accuracy" if classification else "RMSE"
        self.pct = classification
        self.widths = [max(len(a), len(b)) + 4 for a, b in self.COLS]
        self.bar = None
        if verbose:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="trainNetwork", unit="it", leave=True, dynamic_ncols=True)
            self._header()

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.file)
        else:
            print(line, file=self.file)

    def _row(self, cells: list[str]) -> str:
        return "|" + "|".join(c.center(w) for c, w in zip(cells, self.widths)) + "|"

    def _header(self) -> None:
        rule = "|" + "=" * (sum(self.widths) + len(self.widths) - 1) + "|"
        top = [a for a, _ in self.COLS]
        bottom = [b.replace("Accuracy", self.metric) for _, b in self.COLS]
        self._write("\n".join([rule, self._row(top), self._row(bottom), rule]))
        self._rule = rule

    def update(
        self,
        iteration: int,
        epoch: int,
        elapsed: float,
        loss: float,
        metric: float,
        val_loss: float | None,
        val_metric: float | None,
        lr: float,
        force: bool = False,
    ) -> None:
        """Advance the bar; print a table row when due."""
        if not self.verbose:
            return
        if self.bar is not None:
            self.bar.update(iteration - self.bar.n)
            self.bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}", refresh=False)
        if force or iteration == 1 or iteration % self.frequency == 0 or val_loss is not None:
            self._write(
                self._row(
                    [
                        str(epoch),
                        str(iteration),
                        hms(elapsed),
                        _num(loss),
                        _num(metric, self.pct),
                        _num(val_loss),
                        _num(val_metric, self.pct),
                        f"{lr:.4g}",
                    ]
                )
            )

    def close(self, reason: str) -> None:
        if not self.verbose:
            return
        self._write(self._rule)
        self._write(f"Training finished: {reason}.")
        if self.bar is not None:
            self.bar.close()
