"""``trainNetwork`` and ``TrainingInfo`` (MATLAB's classic training loop)."""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch

from ..errors import DataError, NetworkError, NonFiniteError, OptionError
from .batching import ClassLabels, Prepared, labels_array, prepare
from .engine import chunk_loss, run_chunks
from .info import TrainingInfo, _plot_state
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
    labels = ClassLabels.from_labels(labels_array(Y), given, where)
    k = getattr(out, "num_classes", None)
    if k is not None and k != len(labels):
        raise DataError(
            f"{where}: the network predicts {k} classes (the size of the layer before the output layer), "
            f"but the training labels have {len(labels)} classes ({', '.join(labels.names[:10])}"
            f"{' …' if len(labels) > 10 else ''}). Make fullyConnectedLayer's OutputSize {len(labels)}."
        )
    return labels


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
    o = options
    net = _network(layers)
    out = net.output_layer
    if out is None:
        raise NetworkError(
            f"{WHERE}: the network needs an output layer (classificationLayer or regressionLayer) as its last layer."
        )
    inputs = net.input_layers
    if len(inputs) != 1:
        raise NetworkError(f"{WHERE}: networks with {len(inputs)} input layers are not supported yet.")
    inp = inputs[0]
    task = out.task
    dtype = param_dtype(net)
    out_layout = prediction_layout(net)
    labels = class_labels(net, Y, WHERE) if task == "classification" else None
    common = {
        "dtype": dtype,
        "task": task,
        "labels": labels,
        "out_layout": out_layout,
        "min_length": int(getattr(inp, "min_length", 1) or 1),
        "input_layout": getattr(inp, "data_layout", None),
    }
    data = prepare(X, Y, where=WHERE, **common)
    val = None
    if o.ValidationData is not None:
        val = prepare(*o.ValidationData, where=f"{WHERE} (ValidationData)", **common)
    if labels is not None:
        attach_labels(net, labels)
    if o.ResetInputNormalization and hasattr(inp, "fit_normalization"):
        inp.fit_normalization(data.X)
    device = device_for(o.ExecutionEnvironment)
    net.to(device)
    return _Loop(net, data, val, o, device, task, out_layout).run()


class _Loop:
    """State of one training run."""

    def __init__(
        self,
        net: Any,
        data: Prepared,
        val: Prepared | None,
        o: TrainingOptions,
        device: torch.device,
        task: str,
        out_layout: str | None,
    ) -> None:
        self.net, self.data, self.val, self.o, self.device, self.task = net, data, val, o, device, task
        self.out = net.output_layer
        self.cls = task == "classification"
        self.class_axis = (out_layout or "BC").index("C")
        self.left_raw = o.SequencePaddingDirection == "left" and not o.SequenceMasking
        self.bs = min(o.MiniBatchSize, data.n)
        self.per_epoch = data.n // self.bs
        self.total = self.per_epoch * o.MaxEpochs
        self.solver = Solver(net, o)
        self.hw = hardware_text(device)
        self.seq_kw = {
            "sequence_length": o.SequenceLength,
            "direction": o.SequencePaddingDirection,
            "value": o.SequencePaddingValue,
            "masking": o.SequenceMasking,
        }
        n = self.total
        nan = np.full(n, np.nan)
        self.h = {
            "loss": nan.copy(),
            "metric": nan.copy(),
            "val_loss": nan.copy(),
            "val_metric": nan.copy(),
            "lr": nan.copy(),
            "epoch": np.zeros(n, dtype=np.int64),
        }
        self.it = 0

    # ---------------------------------------------------------------- batches
    def _to(self, chunks: list) -> list:
        d = self.device
        for c in chunks:
            c.x = c.x.to(d, non_blocking=True)
            if c.targets is not None:
                c.targets = c.targets.to(d, non_blocking=True)
            if c.lengths is not None:
                c.lengths = c.lengths.to(d)
        return chunks

    def _epoch_batches(self, order: torch.Tensor) -> list[list]:
        return [self._to(b) for b in self.data.batches(order, self.bs, drop_last=True, **self.seq_kw)]

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
        net = self.net
        net.train()
        self.solver.zero_grad()
        tw = self._total_weight(chunks)
        loss_sum = correct = sq = count = 0.0
        for co in run_chunks(net, chunks, self.o.SequenceMasking):
            st = chunk_loss(self.out, co, self.data.seq2seq, tw, self.task, self.class_axis, self.left_raw)
            if st.loss is None:
                continue
            lv = float(st.loss.detach())
            if not math.isfinite(lv):
                raise _diagnose(net, co.chunk, self.it + 1, epoch)
            (st.loss * st.weight).backward() if st.weight != 1.0 else st.loss.backward()
            loss_sum += lv * st.weight
            correct, sq, count = correct + st.correct, sq + st.sq_err, count + st.count
        self.solver.step(lr)
        return loss_sum, self._metric(correct, sq, count)

    @torch.no_grad()
    def evaluate(self, data: Prepared) -> tuple[float, float]:
        """Loss and accuracy/RMSE of the network on ``data`` (eval mode)."""
        net = self.net
        was = net.training
        net.eval()
        cache = self.__dict__.setdefault("_eval_cache", {})
        if id(data) not in cache:  # padded once, reused at every validation
            order = torch.arange(data.n)
            cache[id(data)] = [self._to(b) for b in data.batches(order, self.bs, drop_last=False, **self.seq_kw)]
        loss_sum = weight = correct = sq = count = 0.0
        for chunks in cache[id(data)]:
            tw = self._total_weight(chunks) if data.seq2seq else float(chunks[0].x.shape[0])
            for co in run_chunks(net, chunks, self.o.SequenceMasking):
                st = chunk_loss(self.out, co, data.seq2seq, 1.0, self.task, self.class_axis, self.left_raw)
                if st.loss is None:
                    continue
                loss_sum += float(st.loss) * st.weight
                correct, sq, count = correct + st.correct, sq + st.sq_err, count + st.count
            weight += tw
        net.train(was)
        return loss_sum / max(weight, 1.0), self._metric(correct, sq, count)

    # ------------------------------------------------------------------ run
    def _lr(self, epoch: int) -> float:
        o = self.o
        lr = o.InitialLearnRate
        if o.LearnRateSchedule == "piecewise":
            lr *= o.LearnRateDropFactor ** ((epoch - 1) // o.LearnRateDropPeriod)
        return lr

    def _state(self, reason: str | None = None, final: str | None = None) -> dict[str, Any]:
        n = self.it
        return {
            "iteration": np.arange(1, n + 1),
            "loss": self.h["loss"][:n],
            "metric": self.h["metric"][:n],
            "val_loss": self.h["val_loss"][:n],
            "val_metric": self.h["val_metric"][:n],
            "epoch": int(self.h["epoch"][n - 1]) if n else 0,
            "elapsed": hms(time.perf_counter() - self.t0),
            "lr": float(self.h["lr"][n - 1]) if n else self._lr(1),
            "reason": reason,
            "val_freq": self.o.ValidationFrequency if self.val is not None else None,
            "final_val": final,
        }

    def _callback_info(self, epoch: int, state: str) -> dict[str, Any]:
        i = self.it - 1
        get = (lambda k: float(self.h[k][i])) if self.it else (lambda k: math.nan)
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
        o, net = self.o, self.net
        self.t0 = time.perf_counter()
        progress = Progress(self.total, self.cls, o.Verbose, o.VerboseFrequency)
        plot = None
        if o.Plots == "training-progress":
            from .monitor import TrainingPlot

            plot = TrainingPlot(self.cls, self.total, self.per_epoch, o.MaxEpochs, self.hw)
        best = (math.inf, 0, None)  # (val loss, iteration, state dict)
        bad_validations = 0
        reason = "Max epochs completed"
        want_best = o.OutputNetwork == "best-validation-loss" or (o.OutputNetwork == "auto" and self.val is not None)
        order = torch.randperm(self.data.n) if o.Shuffle == "once" else torch.arange(self.data.n)
        cached = None if o.Shuffle == "every-epoch" else self._epoch_batches(order)
        epoch = 1
        for fn in o.OutputFcn:
            fn(self._callback_info(0, "start"))
        try:
            for epoch in range(1, o.MaxEpochs + 1):
                batches = cached if cached is not None else self._epoch_batches(torch.randperm(self.data.n))
                lr = self._lr(epoch)
                for chunks in batches:
                    loss, metric = self._step(chunks, epoch, lr)
                    i = self.it
                    self.it += 1
                    for key, v in (("loss", loss), ("metric", metric), ("lr", lr), ("epoch", epoch)):
                        self.h[key][i] = v
                    validate = self.val is not None and (
                        self.it == 1 or self.it % o.ValidationFrequency == 0 or self.it == self.total
                    )
                    vl = vm = None
                    if validate:
                        vl, vm = self.evaluate(self.val)
                        self.h["val_loss"][i], self.h["val_metric"][i] = vl, vm
                        if vl < best[0]:
                            state = copy.deepcopy(net.state_dict()) if want_best else None
                            best = (vl, self.it, state)
                            bad_validations = 0
                        else:
                            bad_validations += 1
                    progress.update(
                        self.it,
                        epoch,
                        time.perf_counter() - self.t0,
                        loss,
                        metric,
                        vl,
                        vm,
                        lr,
                        force=self.it == self.total,
                    )
                    if plot is not None:
                        plot.update(self._state())
                    stop = False
                    for fn in o.OutputFcn:
                        stop = bool(fn(self._callback_info(epoch, "iteration"))) or stop
                    if stop:
                        reason = "Stopped by OutputFcn"
                        raise _StopTrainingError
                    if validate and bad_validations >= o.ValidationPatience:
                        reason = "Met validation criterion"
                        raise _StopTrainingError
        except _StopTrainingError:
            pass
        except KeyboardInterrupt:
            reason = "Stopped manually (KeyboardInterrupt)"
            print(
                f"{WHERE}: training interrupted at iteration {self.it} (epoch {epoch}); returning the network "
                "trained so far."
            )
        return self._finish(reason, best, want_best, progress, plot)

    def _finish(
        self, reason: str, best: tuple, want_best: bool, progress: Progress, plot: Any
    ) -> tuple[Any, TrainingInfo]:
        net, n = self.net, self.it
        out_it = n
        if want_best and best[2] is not None:
            net.load_state_dict(best[2])
            out_it = best[1]
        final_loss, final_metric = math.nan, math.nan
        if self.val is not None and n:
            final_loss, final_metric = self.evaluate(self.val)
        net.eval()
        net.to("cpu")
        progress.close(reason)
        scale = 100.0 if self.cls else 1.0
        h = {k: v[:n] for k, v in self.h.items()}
        info = TrainingInfo(
            TrainingLoss=h["loss"],
            TrainingAccuracy=h["metric"] * scale if self.cls else None,
            TrainingRMSE=None if self.cls else h["metric"],
            ValidationLoss=h["val_loss"],
            ValidationAccuracy=h["val_metric"] * scale if self.cls else None,
            ValidationRMSE=None if self.cls else h["val_metric"],
            BaseLearnRate=h["lr"],
            Epoch=h["epoch"],
            FinalValidationLoss=final_loss,
            FinalValidationAccuracy=final_metric * scale if self.cls else None,
            FinalValidationRMSE=None if self.cls else final_metric,
            OutputNetworkIteration=out_it,
            StopReason=reason,
            TimeElapsed=time.perf_counter() - self.t0,
            _extra={"iterations_per_epoch": self.per_epoch, "hardware": self.hw},
        )
        if plot is not None:
            final = None
            if self.val is not None and n:
                m = "accuracy" if self.cls else "RMSE"
                fm = final_metric * scale
                final = f"Final validation\n  loss {final_loss:.4f}\n  {m} {fm:.2f}{'%' if self.cls else ''}"
            st = _plot_state(info, self.hw, reason)
            st.update(val_freq=self.o.ValidationFrequency if self.val is not None else None, final_val=final)
            plot.finish(st)
            info._extra["figure"] = plot.fig
        for fn in self.o.OutputFcn:
            fn(self._callback_info(int(h["epoch"][-1]) if n else 0, "done"))
        return net, info


class _StopTrainingError(Exception):
    pass
