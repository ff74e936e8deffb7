"""``trainNetwork`` and ``TrainingInfo`` (MATLAB's classic training loop)."""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch

from ..errors import DataError, NetworkError, NonFiniteError, OptionError
from .batching import ClassLabels, Prepared, check_label_types, labels_array, prepare
from .engine import chunk_loss, run_chunks
from .info import TrainingInfo, _plot_state
from .interrupts import InterruptGuard
from .options import TrainingOptions
from .progress import Progress, hms
from .solvers import Solver

__all__ = ["TrainingInfo", "trainNetwork"]

WHERE = "trainNetwork"


# --------------------------------------------------------------------- helpers
def _network(layers: Any) -> Any:
    from ..layers.base import Layer
    from ..network import LayerGraph, Network

    if isinstance(layers, Network):
        layers = LayerGraph(layers.layers, layers.connections)
    if isinstance(layers, LayerGraph):
        pairs = {id(lay): copy.deepcopy(lay) for lay in layers.layers}
        return Network(LayerGraph([pairs[id(lay)] for lay in layers.layers], layers.connections))
    if isinstance(layers, Layer):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        raise NetworkError(f"{WHERE}: layers must be a list of layers or a LayerGraph, got {type(layers).__name__}.")
    return Network(copy.deepcopy(list(layers)))


def device_for(env: str, where: str = WHERE) -> torch.device:
    """The torch device for ``ExecutionEnvironment``."""
    if env == "gpu":
        if not torch.cuda.is_available():
            raise OptionError(
                f"{where}: ExecutionEnvironment 'gpu' needs a CUDA GPU, but PyTorch sees none "
                f"(torch {torch.__version__}, torch.cuda.is_available() is False). Use 'auto' or 'cpu'."
            )
        return torch.device("cuda")
    if env == "auto" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def hardware_text(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    return f"CPU ({torch.get_num_threads()} threads)"


def param_dtype(net: torch.nn.Module) -> torch.dtype:
    for p in net.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def class_labels(net: Any, Y: Any, where: str) -> ClassLabels:
    """The class set for training labels ``Y`` (the output layer's Classes, or sorted unique labels)."""
    out = net.output_layer
    given = out.classes
    check_label_types(Y, where)
    labels = ClassLabels.from_labels(labels_array(Y), given, where)
    k = getattr(out, "num_classes", None)
    if k is not None and k != len(labels):
        raise DataError(
            f"{where}: the network predicts {k} classes (the size of the layer before the output layer), "
            f"but the training labels have {len(labels)} classes ({', '.join(labels.names[:10])}"
            f"{' …' if len(labels) > 10 else ''}). Make fullyConnectedLayer's OutputSize {len(labels)}."
        )
    return labels


def _count(data: Any) -> int | None:
    if isinstance(data, (list, tuple)):
        return len(data)
    shape = getattr(data, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) else None


def _check_not_empty(X: Any, Y: Any) -> None:
    """An empty X (or Y) is a data mistake, not a class-count one."""
    for name, data in (("X", X), ("Y", Y)):
        if _count(data) == 0:
            raise DataError(
                f"{WHERE}: {name} holds no observations (it is empty), so there is nothing to train on. "
                f"Check how {name} was built or loaded (a filter or split that kept nothing?)."
            )


def _check_label_vector(Y: Any, where: str) -> None:
    """Classification labels of a network that predicts one class per observation are a vector.

    Refuses, with the fix, one-hot rows (N×K of 0/1, which would be read as the
    two classes 0 and 1) and a MATLAB-style N×1 column.
    """
    if not isinstance(Y, (np.ndarray, torch.Tensor)) or Y.ndim != 2:
        return
    arr = np.asarray(Y.detach().cpu() if isinstance(Y, torch.Tensor) else Y)
    n, k = arr.shape
    if k == 1:
        raise DataError(
            f"{where}: Y is a column of {n} rows, {n}×1 (MATLAB's layout of categorical labels); dltk takes the labels "
            "as a vector. Use Y.ravel() (or Y[:, 0])."
        )
    if arr.dtype.kind in "biuf" and np.isin(arr, (0, 1)).all() and (arr.sum(axis=1) == 1).all():
        raise DataError(
            f"{where}: Y looks one-hot encoded ({n}×{k}, one 1 per row), which would be read as the two classes "
            f"0 and 1. trainNetwork takes one label per observation, as MATLAB's categorical: use "
            f"Y.argmax(axis=1) (class indices 0…{k - 1}), or the class names."
        )
    raise DataError(
        f"{where}: Y is a {n}×{k} array, but a classification network that predicts one class per observation "
        f"needs one label per observation: a vector of {n} labels."
    )


def attach_labels(net: Any, labels: ClassLabels) -> None:
    out = net.output_layer
    out.classes = labels.names
    out._dltk_class_kind = labels.kind


def labels_of(net: Any) -> ClassLabels | None:
    """The class labels a trained classification network carries (None otherwise)."""
    out = getattr(net, "output_layer", None)
    if out is None or getattr(out, "task", None) != "classification" or isinstance(out.classes, str):
        return None
    return ClassLabels(out.classes, getattr(out, "_dltk_class_kind", "str"))


def prediction_layout(net: Any) -> str | None:
    out = net.output_layer
    lays = net.activation_layouts
    if out is not None:
        return lays.get(out.name)
    return lays.get(net.layer_names[-1]) if net.layer_names else None


def _diagnose(net: Any, chunk: Any, iteration: int, epoch: int) -> NonFiniteError:
    from ..introspect import record

    first = None
    try:
        rec = record(net, chunk.x, lengths=chunk.lengths, targets=None)
        first = rec.first_nonfinite()
    except Exception:  # noqa: BLE001 - diagnosis must not hide the original problem
        first = None
    bad_params = [n for n, p in net.named_parameters() if not bool(torch.isfinite(p).all())]
    where = f"the first non-finite signal is in {first}" if first else "no layer signal is non-finite (only the loss)"
    extra = f" Non-finite learnables: {', '.join(bad_params[:5])}." if bad_params else ""
    return NonFiniteError(
        f"{WHERE}: the training loss became NaN/Inf at iteration {iteration} (epoch {epoch}); {where}.{extra} "
        "Try a smaller InitialLearnRate, a GradientThreshold, or input normalization."
    )


# ------------------------------------------------------------------ the loop
def trainNetwork(X: Any, Y: Any, layers: Any, options: TrainingOptions) -> tuple[Any, TrainingInfo]:
    """Train a network (MATLAB ``[net, info] = trainNetwork(X, Y, layers, options)``).

    Each iteration k takes one mini-batch and updates every learnable:

    .. math::
        \\theta_{k+1} = \\theta_k - \\alpha_k\\, u\\big(\\nabla_\\theta L(\\theta_k) + \\lambda f_2 \\theta_k\\big),
        \\qquad L = -\\frac{1}{N S}\\sum_{n,s,i} T_{nsi} \\ln Y_{nsi}
        \\ \\text{or}\\ \\frac{1}{N S}\\sum_{n,s,i} \\tfrac12 (Y_{nsi} - T_{nsi})^2

    where Y is the prediction and T the target of the N observations (and S
    time steps) of the mini-batch, α_k the learning rate (schedule and the
    parameter's learn-rate factor), λ the L2Regularization, f₂ the parameter's
    L2 factor, and u the solver's step (sgdm, adam, rmsprop; gradients clipped
    first) — see :func:`dltk.trainingOptions`. An epoch is one pass over the
    data in mini-batches of MiniBatchSize (leftovers skipped).

    Args:
        X: predictors — a list of (T_i, C) sequences [MATLAB N×1 cell of C×T_i],
            an (N, C) feature array [MATLAB N×C table/array], or (N, C, H, W) images
            [MATLAB H×W×C×N]. NumPy arrays or torch tensors.
        Y: responses — N labels (strings, ints or bools) for classification;
            a list of per-step label arrays (T_i,) for sequence-to-sequence
            classification; an (N, R) array or a list of (T_i, R) arrays for
            regression.
        layers: a list of layers or a :class:`dltk.LayerGraph` (a trained
            :class:`dltk.Network` is accepted too). The layers are copied —
            the ones you pass are not changed, as in MATLAB.
        options: :func:`dltk.trainingOptions`.

    Shape:
        sequences (T_i, C) each [MATLAB C×T_i]; features (N, C) [MATLAB N×C];
        images (N, C, H, W) [MATLAB H×W×C×N]; labels (N,) [MATLAB N×1
        categorical] or per step (T_i,) [MATLAB 1×T_i categorical];
        responses (N, R) [MATLAB N×R] or (T_i, R) [MATLAB R×T_i].

    Returns:
        ``(net, info)``: the trained :class:`dltk.Network` (eval mode, on the
        CPU) and a :class:`TrainingInfo`. Classes are sorted like MATLAB's
        ``categorical`` unless the output layer's ``Classes`` gives the order;
        ``classify`` returns labels of the type you trained with.

    Raises:
        DataError: NaN/Inf in the data, X/Y count mismatch, labels outside the
            class set, sequences shorter than MinLength.
        NonFiniteError: the loss became NaN/Inf (names the iteration and the
            first layer whose signal was non-finite).
        OptionError, NetworkError: bad options or layers.

    Pressing the stop button (KeyboardInterrupt) ends training early and
    returns the network trained so far. Training shows a tqdm progress bar
    and MATLAB's table with ``Verbose=True``, and a live figure with
    ``Plots='training-progress'``.

    Example:
        >>> XTrain, YTrain, XTest, YTest = dltk.data.japanese_vowels()
        >>> layers = [dltk.sequenceInputLayer(12), dltk.lstmLayer(100, OutputMode="last"),
        ...           dltk.fullyConnectedLayer(9), dltk.softmaxLayer(), dltk.classificationLayer()]
        >>> opts = dltk.trainingOptions("adam", MaxEpochs=30, MiniBatchSize=27, Verbose=False)
        >>> net, info = dltk.trainNetwork(XTrain, YTrain, layers, opts)
    """
    if not isinstance(options, TrainingOptions):
        raise OptionError(f"{WHERE}: options must come from dltk.trainingOptions(...), got {type(options).__name__}.")
    net = _network(layers)
    input_layer = _check_network(net)
    data, validation, out_layout = _prepare_data(net, input_layer, X, Y, options)
    if options.ResetInputNormalization and hasattr(input_layer, "fit_normalization"):
        input_layer.fit_normalization(data.X)
    if options.ExecutionEnvironment in ("parallel", "multi-gpu"):
        from .parallel import train_parallel  # several worker processes (torch.distributed)

        return train_parallel(net, data, validation, options, out_layout)
    device = device_for(options.ExecutionEnvironment)
    net.to(device)
    return _Loop(net, data, validation, options, device, net.output_layer.task, out_layout).run()


def _check_network(net: Any) -> Any:
    """The network's single input layer (an output layer is required)."""
    if net.output_layer is None:
        raise NetworkError(
            f"{WHERE}: the network needs an output layer (classificationLayer or regressionLayer) as its last layer."
        )
    inputs = net.input_layers
    if len(inputs) != 1:
        raise NetworkError(f"{WHERE}: networks with {len(inputs)} input layers are not supported yet.")
    return inputs[0]


def _prepare_data(
    net: Any, input_layer: Any, X: Any, Y: Any, options: TrainingOptions
) -> tuple[Prepared, Prepared | None, str | None]:
    """Training and validation data as tensors (classes attached to the output layer)."""
    task = net.output_layer.task
    out_layout = prediction_layout(net)
    _check_not_empty(X, Y)
    if task == "classification" and "T" not in (out_layout or ""):
        _check_label_vector(Y, WHERE)
    labels = class_labels(net, Y, WHERE) if task == "classification" else None
    common = {
        "dtype": param_dtype(net),
        "task": task,
        "labels": labels,
        "out_layout": out_layout,
        "min_length": int(getattr(input_layer, "min_length", 1) or 1),
        "input_layout": getattr(input_layer, "data_layout", None),
    }
    data = prepare(X, Y, where=WHERE, **common)
    validation = None
    if options.ValidationData is not None:
        if labels is not None:
            check_label_types(options.ValidationData[1], f"{WHERE} (ValidationData)")
        validation = prepare(*options.ValidationData, where=f"{WHERE} (ValidationData)", **common)
    if labels is not None:
        attach_labels(net, labels)
    return data, validation, out_layout


class _EvaluationBatches:
    """The padded mini-batches of one data set, built at its first evaluation and reused.

    Holds the data set itself and is matched by identity (``is``), so two data
    sets can never share an entry, even one created where another was freed.
    """

    def __init__(self) -> None:
        self.data: Prepared | None = None
        self.batches: list[list] = []

    def get(self, data: Prepared, build: Any) -> list[list]:
        if self.data is not data:
            self.batches = build(data)
            self.data = data
        return self.batches


class _Best:
    """The best validation so far: loss, iteration and (when kept) the network's state."""

    def __init__(self) -> None:
        self.loss = math.inf
        self.iteration = 0
        self.state: dict[str, Any] | None = None
        self.bad_validations = 0


class _StopTrainingError(Exception):
    pass


class _Loop:
    """State of one training run."""

    def __init__(
        self,
        net: Any,
        data: Prepared,
        validation: Prepared | None,
        options: TrainingOptions,
        device: torch.device,
        task: str,
        out_layout: str | None,
    ) -> None:
        self.net, self.data, self.val, self.options, self.device, self.task = (
            net,
            data,
            validation,
            options,
            device,
            task,
        )
        self.out = net.output_layer
        self.cls = task == "classification"
        self.class_axis = (out_layout or "BC").index("C")
        self.left_raw = options.SequencePaddingDirection == "left" and not options.SequenceMasking
        self.batch_size = min(options.MiniBatchSize, data.n)
        self.per_epoch = data.n // self.batch_size
        self.total = self.per_epoch * options.MaxEpochs
        self.solver = Solver(net, options)
        self.hardware = hardware_text(device)
        self.seq_kw = {
            "sequence_length": options.SequenceLength,
            "direction": options.SequencePaddingDirection,
            "value": options.SequencePaddingValue,
            "masking": options.SequenceMasking,
        }
        nan = np.full(self.total, np.nan)
        self.history = {
            "loss": nan.copy(),
            "metric": nan.copy(),
            "val_loss": nan.copy(),
            "val_metric": nan.copy(),
            "lr": nan.copy(),
            "epoch": np.zeros(self.total, dtype=np.int64),
        }
        self.it = 0
        self.eval_batches = _EvaluationBatches()
        self.interrupts = InterruptGuard()

    # ---------------------------------------------------------------- batches
    def _to(self, chunks: list) -> list:
        device = self.device
        for c in chunks:
            c.x = c.x.to(device, non_blocking=True)
            if c.targets is not None:
                c.targets = c.targets.to(device, non_blocking=True)
            if c.lengths is not None:
                c.lengths = c.lengths.to(device)
        return chunks

    def _epoch_batches(self, order: torch.Tensor) -> list[list]:
        return [self._to(b) for b in self.data.batches(order, self.batch_size, drop_last=True, **self.seq_kw)]

    def _metric(self, correct: float, sq: float, count: float) -> float:
        if count == 0:
            return math.nan
        return correct / count if self.cls else math.sqrt(sq / count)

    def _total_weight(self, chunks: list) -> float:
        if self.data.seq2seq:
            return float(sum(c.steps for c in chunks).sum())
        return float(chunks[0].x.shape[0])

    # ------------------------------------------------------------ iteration
    def _step(self, chunks: list, epoch: int, lr: float) -> tuple[float, float]:
        """One iteration: gradients of the mini-batch, then the solver step (never cut by Ctrl-C)."""
        net = self.net
        net.train()
        self.solver.zero_grad()
        self._before_iteration()
        total_weight = self._total_weight(chunks)
        loss_sum = correct = sq = count = 0.0
        for chunk_out in run_chunks(net, chunks, self.options.SequenceMasking):
            stats = chunk_loss(
                self.out, chunk_out, self.data.seq2seq, total_weight, self.task, self.class_axis, self.left_raw
            )
            if stats.loss is None:
                continue
            loss_value = float(stats.loss.detach())
            if not math.isfinite(loss_value):
                raise _diagnose(net, chunk_out.chunk, self.it + 1, epoch)
            (stats.loss * stats.weight).backward() if stats.weight != 1.0 else stats.loss.backward()
            loss_sum += loss_value * stats.weight
            correct, sq, count = correct + stats.correct, sq + stats.sq_err, count + stats.count
        loss_sum, correct, sq, count = self._reduce(loss_sum, correct, sq, count)
        metric = self._metric(correct, sq, count)
        with self.interrupts.critical():  # every parameter updated, and the iteration counted, or none
            self.solver.step(lr)
            i = self.it
            self.it += 1
            for key, value in (("loss", loss_sum), ("metric", metric), ("lr", lr), ("epoch", epoch)):
                self.history[key][i] = value
        return loss_sum, metric

    def _before_iteration(self) -> None:
        """Hook before an iteration's gradients (the parallel trainer's failure injection for tests)."""

    def _reduce(self, *stats: float) -> tuple[float, ...]:
        """The iteration's gradients and statistics over every worker: here, one process, unchanged."""
        return stats

    @torch.no_grad()
    def evaluate(self, data: Prepared) -> tuple[float, float]:
        """Loss and accuracy/RMSE of the network on ``data`` (eval mode)."""
        net = self.net
        was = net.training
        net.eval()
        batches = self.eval_batches.get(  # padded once, reused at every validation
            data,
            lambda d: [
                self._to(b) for b in d.batches(torch.arange(d.n), self.batch_size, drop_last=False, **self.seq_kw)
            ],
        )
        loss_sum = weight = correct = sq = count = 0.0
        for chunks in batches:
            total_weight = self._total_weight(chunks) if data.seq2seq else float(chunks[0].x.shape[0])
            for chunk_out in run_chunks(net, chunks, self.options.SequenceMasking):
                stats = chunk_loss(self.out, chunk_out, data.seq2seq, 1.0, self.task, self.class_axis, self.left_raw)
                if stats.loss is None:
                    continue
                loss_sum += float(stats.loss) * stats.weight
                correct, sq, count = correct + stats.correct, sq + stats.sq_err, count + stats.count
            weight += total_weight
        net.train(was)
        return loss_sum / max(weight, 1.0), self._metric(correct, sq, count)

    # ------------------------------------------------------------------ run
    def _lr(self, epoch: int) -> float:
        options = self.options
        lr = options.InitialLearnRate
        if options.LearnRateSchedule == "piecewise":
            lr *= options.LearnRateDropFactor ** ((epoch - 1) // options.LearnRateDropPeriod)
        return lr

    def _state(self, reason: str | None = None, final: str | None = None) -> dict[str, Any]:
        n = self.it
        return {
            "iteration": np.arange(1, n + 1),
            "loss": self.history["loss"][:n],
            "metric": self.history["metric"][:n],
            "val_loss": self.history["val_loss"][:n],
            "val_metric": self.history["val_metric"][:n],
            "epoch": int(self.history["epoch"][n - 1]) if n else 0,
            "elapsed": hms(time.perf_counter() - self.t0),
            "lr": float(self.history["lr"][n - 1]) if n else self._lr(1),
            "reason": reason,
            "val_freq": self.options.ValidationFrequency if self.val is not None else None,
            "final_val": final,
        }

    def _callback_info(self, epoch: int, state: str) -> dict[str, Any]:
        i = self.it - 1
        get = (lambda k: float(self.history[k][i])) if self.it else (lambda k: math.nan)
        m = "Accuracy" if self.cls else "RMSE"
        scale = 100.0 if self.cls else 1.0
        return {
            "Epoch": epoch,
            "Iteration": self.it,
            "TimeSinceStart": time.perf_counter() - self.t0,
            "TrainingLoss": get("loss"),
            f"Training{m}": get("metric") * scale,
            "ValidationLoss": get("val_loss"),
            f"Validation{m}": get("val_metric") * scale,
            "BaseLearnRate": get("lr"),
            "State": state,
        }

    def run(self) -> tuple[Any, TrainingInfo]:
        """Train, then finish; Ctrl-C stops at a safe point and any number of them returns ``(net, info)``."""
        options = self.options
        self.t0 = time.perf_counter()
        self.progress = Progress(self.total, self.cls, options.Verbose, options.VerboseFrequency)
        self.plot = None
        if options.Plots == "training-progress":
            from .monitor import TrainingPlot

            self.plot = TrainingPlot(self.cls, self.total, self.per_epoch, options.MaxEpochs, self.hardware)
        self.best = _Best()
        self.want_best = options.OutputNetwork == "best-validation-loss" or (
            options.OutputNetwork == "auto" and self.val is not None
        )
        self.epoch = 1
        with self.interrupts:
            reason = "Max epochs completed"
            try:
                self._run_epochs()
            except _StopTrainingError as stop:
                reason = str(stop)
            except KeyboardInterrupt:
                self.interrupts.stop()
                reason = "Stopped manually (KeyboardInterrupt)"
                print(
                    f"{WHERE}: training interrupted at iteration {self.it} (epoch {self.epoch}); returning the "
                    "network trained so far."
                )
            self.interrupts.stop()  # finishing: further interrupts are only counted
            result = self._finish(reason)
        if self.interrupts.ignored:
            print(f"{WHERE}: {self.interrupts.ignored} interrupt(s) while finishing were ignored; the network is kept.")
        return result

    def _run_epochs(self) -> None:
        options = self.options
        order = torch.randperm(self.data.n) if options.Shuffle == "once" else torch.arange(self.data.n)
        cached = None if options.Shuffle == "every-epoch" else self._epoch_batches(order)
        for fn in options.OutputFcn:
            fn(self._callback_info(0, "start"))
        for epoch in range(1, options.MaxEpochs + 1):
            self.epoch = epoch
            batches = cached if cached is not None else self._epoch_batches(torch.randperm(self.data.n))
            lr = self._lr(epoch)
            for chunks in batches:
                loss, metric = self._step(chunks, epoch, lr)
                self._after_iteration(epoch, lr, loss, metric)

    def _validate(self) -> tuple[float | None, float | None]:
        """Validation loss and metric at this iteration (None when it is not a validation iteration)."""
        if self.val is None or not (
            self.it == 1 or self.it % self.options.ValidationFrequency == 0 or self.it == self.total
        ):
            return None, None
        val_loss, val_metric = self.evaluate(self.val)
        i = self.it - 1
        self.history["val_loss"][i], self.history["val_metric"][i] = val_loss, val_metric
        best = self.best
        if val_loss < best.loss:
            best.state = copy.deepcopy(self.net.state_dict()) if self.want_best else None
            best.loss, best.iteration, best.bad_validations = val_loss, self.it, 0
        else:
            best.bad_validations += 1
        return val_loss, val_metric

    def _after_iteration(self, epoch: int, lr: float, loss: float, metric: float) -> None:
        """Validation, progress table and plot, output functions, stopping rules."""
        val_loss, val_metric = self._validate()
        elapsed = time.perf_counter() - self.t0
        self.progress.update(
            self.it, epoch, elapsed, loss, metric, val_loss, val_metric, lr, force=self.it == self.total
        )
        if self.plot is not None:
            self.plot.update(self._state())
        stop = False
        for fn in self.options.OutputFcn:
            stop = bool(fn(self._callback_info(epoch, "iteration"))) or stop
        if stop:
            raise _StopTrainingError("Stopped by OutputFcn")
        if val_loss is not None and self.best.bad_validations >= self.options.ValidationPatience:
            raise _StopTrainingError("Met validation criterion")

    def _finish(self, reason: str) -> tuple[Any, TrainingInfo]:
        net, n = self.net, self.it
        out_it = n
        if self.want_best and self.best.state is not None:
            net.load_state_dict(self.best.state)
            out_it = self.best.iteration
        final_loss, final_metric = math.nan, math.nan
        if self.val is not None and n:
            final_loss, final_metric = self.evaluate(self.val)
        net.eval()
        net.to("cpu")
        self.progress.close(reason)
        info = self._info(reason, out_it, final_loss, final_metric)
        if self.plot is not None:
            self._finish_plot(info, reason, final_loss, final_metric)
        epoch = int(info.Epoch[-1]) if n else 0
        for fn in self.options.OutputFcn:
            fn(self._callback_info(epoch, "done"))
        return net, info

    def _info(self, reason: str, out_it: int, final_loss: float, final_metric: float) -> TrainingInfo:
        scale = 100.0 if self.cls else 1.0
        history = {k: v[: self.it] for k, v in self.history.items()}
        return TrainingInfo(
            TrainingLoss=history["loss"],
            TrainingAccuracy=history["metric"] * scale if self.cls else None,
            TrainingRMSE=None if self.cls else history["metric"],
            ValidationLoss=history["val_loss"],
            ValidationAccuracy=history["val_metric"] * scale if self.cls else None,
            ValidationRMSE=None if self.cls else history["val_metric"],
            BaseLearnRate=history["lr"],
            Epoch=history["epoch"],
            FinalValidationLoss=final_loss,
            FinalValidationAccuracy=final_metric * scale if self.cls else None,
            FinalValidationRMSE=None if self.cls else final_metric,
            OutputNetworkIteration=out_it,
            StopReason=reason,
            TimeElapsed=time.perf_counter() - self.t0,
            _extra={"iterations_per_epoch": self.per_epoch, "hardware": self.hardware},
        )

    def _finish_plot(self, info: TrainingInfo, reason: str, final_loss: float, final_metric: float) -> None:
        final = None
        if self.val is not None and self.it:
            name = "accuracy" if self.cls else "RMSE"
            shown = final_metric * (100.0 if self.cls else 1.0)
            final = f"Final validation\n  loss {final_loss:.4f}\n  {name} {shown:.2f}{'%' if self.cls else ''}"
        plot_state = _plot_state(info, self.hardware, reason)
        plot_state.update(val_freq=self.options.ValidationFrequency if self.val is not None else None, final_val=final)
        self.plot.finish(plot_state)
        info._extra["figure"] = self.plot.fig
