"""``TrainingInfo``: what happened during ``trainNetwork`` (MATLAB's ``info`` output)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .progress import hms

__all__ = ["TrainingInfo"]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


@dataclass
class TrainingInfo:
    """What happened during training (MATLAB ``info``, the second output of ``trainNetwork``).

    Per-iteration arrays (length = iterations run): ``TrainingLoss``,
    ``TrainingAccuracy`` (classification, in %, like MATLAB) or
    ``TrainingRMSE`` (regression), ``ValidationLoss``,
    ``ValidationAccuracy``/``ValidationRMSE`` (NaN where not computed),
    ``BaseLearnRate``, ``Epoch``. Scalars: ``FinalValidationLoss``,
    ``FinalValidationAccuracy``/``FinalValidationRMSE`` (NaN without
    validation data), ``OutputNetworkIteration``, ``StopReason``,
    ``TimeElapsed`` (seconds). snake_case names read the same fields
    (``info.training_loss``). The accuracy-vs-RMSE field that does not apply is None.
    """

    TrainingLoss: np.ndarray
    TrainingAccuracy: np.ndarray | None
    TrainingRMSE: np.ndarray | None
    ValidationLoss: np.ndarray
    ValidationAccuracy: np.ndarray | None
    ValidationRMSE: np.ndarray | None
    BaseLearnRate: np.ndarray
    Epoch: np.ndarray
    FinalValidationLoss: float = math.nan
    FinalValidationAccuracy: float | None = None
    FinalValidationRMSE: float | None = None
    OutputNetworkIteration: int = 0
    StopReason: str = ""
    TimeElapsed: float = 0.0
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> Any:
        for f in self.__dataclass_fields__:
            if _snake(f) == name:
                return getattr(self, f)
        raise AttributeError(f"TrainingInfo has no field {name!r}")

    @property
    def NumIterations(self) -> int:
        return len(self.TrainingLoss)

    def __repr__(self) -> str:
        metric = "TrainingAccuracy" if self.TrainingAccuracy is not None else "TrainingRMSE"
        last = getattr(self, metric)
        lines = [
            "TrainingInfo with fields:",
            f"              TrainingLoss: [1×{self.NumIterations} double]  last {self.TrainingLoss[-1]:.4f}"
            if self.NumIterations
            else "              TrainingLoss: []",
            f"{metric:>26}: [1×{self.NumIterations} double]" + (f"  last {last[-1]:.4g}" if self.NumIterations else ""),
            f"            ValidationLoss: [1×{self.NumIterations} double]",
            f"             BaseLearnRate: [1×{self.NumIterations} double]",
            f"       FinalValidationLoss: {self.FinalValidationLoss:.4f}",
        ]
        fm = self.FinalValidationAccuracy if self.FinalValidationAccuracy is not None else self.FinalValidationRMSE
        name = "FinalValidationAccuracy" if self.FinalValidationAccuracy is not None else "FinalValidationRMSE"
        lines += [
            f"{name:>26}: {fm if fm is not None else math.nan:.4f}",
            f"    OutputNetworkIteration: {self.OutputNetworkIteration}",
            f"                StopReason: '{self.StopReason}'",
            f"               TimeElapsed: {self.TimeElapsed:.2f} s",
        ]
        return "\n".join(lines)

    def plot(self) -> Any:
        """The training-progress figure of this run (static), as a matplotlib Figure."""
        from .monitor import TrainingPlot

        ipe = int(self._extra.get("iterations_per_epoch", max(1, self.NumIterations)))
        p = TrainingPlot(
            self.TrainingAccuracy is not None,
            self.NumIterations,
            ipe,
            int(self.Epoch[-1]) if self.NumIterations else 0,
            self._extra.get("hardware", ""),
            display="none",
        )
        p.set_data(_plot_state(self, self._extra.get("hardware", ""), self.StopReason))
        return p.fig


def _plot_state(info: TrainingInfo, hardware: str, reason: str | None, lr: float | None = None) -> dict[str, Any]:
    cls = info.TrainingAccuracy is not None
    metric = info.TrainingAccuracy if cls else info.TrainingRMSE
    vmetric = info.ValidationAccuracy if cls else info.ValidationRMSE
    scale = 0.01 if cls else 1.0
    return {
        "iteration": np.arange(1, info.NumIterations + 1),
        "loss": info.TrainingLoss,
        "metric": metric * scale,
        "val_loss": info.ValidationLoss,
        "val_metric": vmetric * scale,
        "epoch": int(info.Epoch[-1]) if info.NumIterations else 0,
        "elapsed": hms(info.TimeElapsed),
        "lr": float(info.BaseLearnRate[-1]) if info.NumIterations else (lr or math.nan),
        "reason": reason,
    }
