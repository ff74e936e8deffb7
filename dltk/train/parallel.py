r"""Data-parallel ``trainNetwork``: MATLAB's ``'parallel'`` and ``'multi-gpu'`` on ``torch.distributed``.

``trainingOptions(..., ExecutionEnvironment="parallel", NumWorkers=2)`` trains
with W worker processes. Every worker holds the whole network; each
mini-batch of ``MiniBatchSize`` observations (the *global* mini-batch, as in
MATLAB) is built exactly as in one process — same shuffle, same padding —
and worker r takes its contiguous share of its rows (``B·r/W`` to
``B·(r+1)/W``; uneven splits are fine). The loss of worker r is normalised by
the *global* weight (observations, or real time steps for
sequence-to-sequence), so the gradients summed over the workers (one
all-reduce of one flat buffer per iteration) are the single-process gradient:

.. math::
    \nabla L = \sum_r \nabla L_r,\qquad
    L_r = \frac{1}{N}\sum_{n \in \text{rows}(r)} \ell_n
    \quad\text{(}N\text{ = the global mini-batch; time steps for seq2seq)}

Every worker then applies the same solver step (clipping, L2, momentum/Adam
state) to the same summed gradient, so the weights stay equal on every
worker. The loss and accuracy/RMSE sums go into the same all-reduce, so
``info`` holds the same per-iteration history as one process.

**Batch normalization** is synchronised (like ``torch.nn.SyncBatchNorm``):
in training, each batchNormalizationLayer all-reduces its per-channel sums,
then its sums of squared deviations from the global mean, so the batch
mean/variance (and the running statistics, with the global count m in
``m/(m-1)``) are those of the whole global mini-batch; the all-reduce is
differentiable, so the gradients are the single-process ones too.

Differences from one process, by design: dropout masks are drawn per worker
(statistically the same, not the same numbers); float sums are taken in a
different order (weights agree to about 1e-5 relative after a few epochs in
float32). Validation, the progress bar, the verbose table, the
training-progress plot and ``OutputFcn`` run on rank 0 only; a stop (OutputFcn,
ValidationPatience) is broadcast to every worker after each iteration (only when the options
can stop early: one collective fewer per iteration otherwise).

Worker processes:

* **From a notebook or script** (no launcher): ``trainNetwork`` is rank 0 itself
  and starts W−1 workers, ``python -m dltk.train.parallel_worker``. The
  network goes to them as a ``.dltk`` file (:func:`dltk.save`), the data as
  tensors (``torch.load(weights_only=True)``), the options as JSON — nothing is
  pickled, so notebook functions never travel (``OutputFcn`` stays on rank 0;
  custom layer classes must be importable by the workers). The workers listen on
  127.0.0.1 only, ignore Ctrl-C (rank 0 decides) and are stopped (terminate,
  then kill) when training ends, fails or is interrupted. A worker that dies
  makes ``trainNetwork`` raise :class:`ParallelError` naming the worker, its exit
  code and the last line it wrote.
* **Under a launcher** (``torchrun``, or MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK
  set): every process runs the script; ``trainNetwork`` joins that process
  group (or uses one already initialised), rank 0's weights are broadcast
  first, and every rank returns ``(net, info)`` (rank 0 prints and plots).

Backends: ``'parallel'`` uses gloo on the CPUs, ``'multi-gpu'`` NCCL with one
worker per local GPU (``cuda:LOCAL_RANK``). MATLAB equivalent:
``trainingOptions(..., ExecutionEnvironment="parallel")`` with a parallel pool.

Why not ``DistributedDataParallel``: an iteration here may run several
forward/backward passes (``SequenceLength`` chunks with carried state), and
DDP's reducer expects one backward per forward with the same pattern on every
worker; the explicit flat all-reduce after the last backward is what DDP does
(bucketed) without that constraint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from ..errors import DltkError, OptionError
from .batching import Batch, Prepared
from .options import TrainingOptions, trainingOptions
from .trainer import _Loop, _StopTrainingError, hardware_text

__all__ = ["ParallelError", "ParallelLoop", "train_parallel"]

WHERE = "trainNetwork"
#: seconds a collective may wait for a silent worker before rank 0 gives up
TIMEOUT_S = float(os.environ.get("DLTK_PARALLEL_TIMEOUT", "120"))
#: seconds to wait for the workers to load the network and data
START_TIMEOUT_S = float(os.environ.get("DLTK_PARALLEL_START_TIMEOUT", "120"))
_STOP_REASONS = ("", "Stopped by OutputFcn", "Met validation criterion")


class ParallelError(DltkError, RuntimeError):
    """A worker of a parallel training run failed (its rank, exit code and last message)."""


# --------------------------------------------------------------------------- the group
class Group:
    """One process group: this process's rank, the world size, the device and who owns the group."""

    def __init__(self, rank: int, world: int, device: torch.device, created: bool) -> None:
        self.rank, self.world, self.device, self.created = rank, world, device, created


def launched() -> bool:
    """True under a launcher (``torchrun`` or a cluster): the process group is already described."""
    if dist.is_available() and dist.is_initialized():
        return True
    return all(k in os.environ for k in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"))


def _backend(env: str) -> str:
    return "nccl" if env == "multi-gpu" else "gloo"


def _device(env: str, local_rank: int) -> torch.device:
    if env == "multi-gpu":
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def check_environment(env: str) -> None:
    """Refuse ``'multi-gpu'`` without a GPU, or without torch.distributed."""
    if not dist.is_available():
        raise OptionError(
            f"{WHERE}: ExecutionEnvironment {env!r} needs torch.distributed, which this PyTorch build lacks "
            f"(torch {torch.__version__}). Use 'cpu'."
        )
    if env == "multi-gpu" and not torch.cuda.is_available():
        raise OptionError(
            f"{WHERE}: ExecutionEnvironment 'multi-gpu' needs CUDA GPUs, but no GPU is available "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False). Use 'parallel' for CPU workers, "
            "or 'cpu'."
        )


def num_workers(options: TrainingOptions) -> int:
    """Workers to start: NumWorkers, or the CPU count ('parallel') / the GPU count ('multi-gpu')."""
    n = options.NumWorkers
    if options.ExecutionEnvironment == "multi-gpu":
        gpus = torch.cuda.device_count()
        if n == "auto":
            return gpus
        if n > gpus:
            raise OptionError(f"{WHERE}: NumWorkers {n} is more than the {gpus} GPU(s) of this machine ('multi-gpu').")
        return n
    return (os.cpu_count() or 1) if n == "auto" else n


def join_launched(env: str) -> Group:
    """Join the process group a launcher described (or use the one already initialised)."""
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(env, local)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    created = False
    if not dist.is_initialized():
        dist.init_process_group(_backend(env), init_method="env://", timeout=timedelta(seconds=TIMEOUT_S))
        created = True
    return Group(dist.get_rank(), dist.get_world_size(), device, created)


def broadcast_state(net: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers to every rank (processes may have initialised differently)."""
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            dist.broadcast(t.data, 0)


# --------------------------------------------------------------------- synchronised BN
class _SumOverWorkers(torch.autograd.Function):
    """Σ over the workers of a tensor; its gradient is Σ over the workers too (every worker's loss uses the sum)."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        dist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def _sync_bn_forward(self: Any, x: torch.Tensor) -> torch.Tensor:
    """batchNormalizationLayer in training mode with the statistics of the global mini-batch."""
    from ..layers.normalization import channels_second

    all_reduce = _SumOverWorkers.apply

    if not self.training:
        return type(self).forward(self, x)
    lay = self._prepare(x)
    xc = channels_second(x, lay)  # (B, C, …)
    dims = [0, *range(2, xc.ndim)]
    count = torch.tensor([xc.numel() // xc.shape[1]], dtype=xc.dtype, device=xc.device)
    sums = all_reduce(torch.cat([xc.sum(dims), count]))  # (C + 1,): per-channel sums, then the count
    m = float(sums[-1].detach())
    mean = sums[:-1] / m  # (C,)
    shape = [1, -1] + [1] * (xc.ndim - 2)
    centred = xc - mean.view(shape)
    var = all_reduce((centred * centred).sum(dims)) / m  # biased, as one process
    with torch.no_grad():
        self.running_mean.lerp_(mean.detach(), self.mean_decay)
        self.running_var.lerp_(var.detach() * (m / (m - 1)), self.variance_decay)
    xhat = centred / torch.sqrt(var.view(shape) + self.epsilon)
    return channels_second(self._affine(xhat, 1), lay)


def sync_batch_norm(net: torch.nn.Module) -> int:
    """Make every batchNormalizationLayer of ``net`` synchronise its statistics; returns how many."""
    from ..layers.normalization import BatchNormalization

    n = 0
    for mod in net.modules():
        if isinstance(mod, BatchNormalization):
            mod.forward = _sync_bn_forward.__get__(mod)
            n += 1
    return n


def unsync_batch_norm(net: torch.nn.Module) -> None:
    from ..layers.normalization import BatchNormalization

    for mod in net.modules():
        if isinstance(mod, BatchNormalization):
            mod.__dict__.pop("forward", None)


# ---------------------------------------------------------------------------- the loop
class _Share(list):
    """This worker's chunks of one global mini-batch, with the global mini-batch's weight."""

    total_weight: float = 1.0


def _rows(c: Batch, a: int, b: int) -> Batch:
    def take(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t[a:b]

    return Batch(take(c.x), take(c.lengths), take(c.targets), c.index[a:b], c.chunk, take(c.steps), take(c.offset))


class ParallelLoop(_Loop):
    """The training loop of one worker (see the module docstring)."""

    def __init__(self, *args: Any, group: Group, may_stop: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group
        self.may_stop = may_stop  # rank 0 can end training early: its decision is broadcast each iteration
        if self.batch_size < group.world:
            raise OptionError(
                f"{WHERE}: the mini-batch ({self.batch_size} observations) is smaller than the {group.world} "
                "workers, so some would have nothing to do. Use a larger MiniBatchSize or fewer NumWorkers."
            )
        kind = "GPU" if group.device.type == "cuda" else "CPU"
        backend = _backend_name(group.device)
        self.hardware = f"{group.world} {kind} workers ({backend}); rank 0: {hardware_text(group.device)}"
        self.params = net_params(self.net)
        self.fail_at = _injected_failure(group.rank)

    # the global mini-batch, then this worker's rows of it
    def _epoch_batches(self, order: torch.Tensor) -> list[list]:
        w, r = self.group.world, self.group.rank
        out = []
        for chunks in self.data.batches(order, self.batch_size, drop_last=True, **self.seq_kw):
            b = chunks[0].x.shape[0]
            a, z = b * r // w, b * (r + 1) // w
            share = _Share(self._to([_rows(c, a, z) for c in chunks]))
            share.total_weight = super()._total_weight(chunks)
            out.append(share)
        return out

    def _total_weight(self, chunks: list) -> float:
        return chunks.total_weight if isinstance(chunks, _Share) else super()._total_weight(chunks)

    def _order(self, order: torch.Tensor) -> torch.Tensor:
        """Rank 0's shuffle, the same on every worker."""
        order = order.to(self.group.device)
        dist.broadcast(order, 0)
        return order.cpu()

    def _run_epochs(self) -> None:
        options = self.options
        n = self.data.n
        order = self._order(torch.randperm(n) if options.Shuffle == "once" else torch.arange(n))
        cached = None if options.Shuffle == "every-epoch" else self._epoch_batches(order)
        for fn in options.OutputFcn:
            fn(self._callback_info(0, "start"))
        for epoch in range(1, options.MaxEpochs + 1):
            self.epoch = epoch
            batches = cached if cached is not None else self._epoch_batches(self._order(torch.randperm(n)))
            lr = self._lr(epoch)
            for chunks in batches:
                loss, metric = self._step(chunks, epoch, lr)
                self._after_iteration(epoch, lr, loss, metric)

    def _before_iteration(self) -> None:
        if self.fail_at is not None and self.it + 1 >= self.fail_at[0]:
            if self.fail_at[1] == "kill":  # as the out-of-memory killer would
                print(f"about to be killed at iteration {self.it + 1}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"injected failure at iteration {self.it + 1} (DLTK_PARALLEL_FAIL)")

    def _reduce(self, *stats: float) -> tuple[float, ...]:
        """This worker's gradients and statistics, summed over the workers: every worker then takes the same step."""
        return self._all_reduce(*stats)

    def _all_reduce(self, *stats: float) -> tuple[float, ...]:
        """Sum the gradients and the statistics over the workers (one flat buffer)."""
        params = self.params
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        dtype = grads[0].dtype if grads else torch.float64
        extra = torch.tensor(stats, dtype=dtype, device=self.group.device)  # counts stay exact below 2^24
        flat = torch.cat([*(g.reshape(-1) for g in grads), extra])
        dist.all_reduce(flat)
        k = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[k : k + n].view_as(p).to(p.dtype)
            k += n
        return tuple(float(v) for v in flat[k:].cpu())

    def _after_iteration(self, epoch: int, lr: float, loss: float, metric: float) -> None:
        """Rank 0: validation, table, plot, OutputFcn; then its stop decision reaches every worker."""
        code = 0
        if self.group.rank == 0:
            try:
                super()._after_iteration(epoch, lr, loss, metric)
            except _StopTrainingError as stop:
                code = _STOP_REASONS.index(str(stop)) if str(stop) in _STOP_REASONS else 1
        if not self.may_stop:
            return
        flag = torch.tensor([code], dtype=torch.int64, device=self.group.device)
        dist.broadcast(flag, 0)
        code = int(flag.item())
        if code:
            raise _StopTrainingError(_STOP_REASONS[code])


def _backend_name(device: torch.device) -> str:
    return "NCCL" if device.type == "cuda" else "gloo"


def net_params(net: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in net.parameters() if p.requires_grad]


def _injected_failure(rank: int) -> tuple[int, str] | None:
    """Testing hook: ``DLTK_PARALLEL_FAIL="rank:iteration[:kill]"`` makes that worker raise (or be killed)."""
    spec = os.environ.get("DLTK_PARALLEL_FAIL", "")
    if not spec:
        return None
    r, it, *how = spec.split(":")
    return (int(it), how[0] if how else "raise") if int(r) == rank else None


def rank_options(options: TrainingOptions, rank: int) -> TrainingOptions:
    """Options of a rank: only rank 0 prints, plots and calls OutputFcn."""
    if rank == 0:
        return options
    values = dict(options.as_dict())
    values.pop("SolverName")
    out = TrainingOptions(options.SolverName, values)
    out._values.update(Verbose=False, Plots="none", OutputFcn=())
    return out


def may_stop(options: TrainingOptions) -> bool:
    """Can rank 0 end training early (OutputFcn, ValidationPatience)? Then every iteration broadcasts its decision."""
    patience = options.ValidationData is not None and math.isfinite(options.ValidationPatience)
    return bool(options.OutputFcn) or patience


def run_rank(
    net: Any,
    data: Prepared,
    validation: Prepared | None,
    options: TrainingOptions,
    out_layout: str | None,
    group: Group,
    stops: bool | None = None,
) -> tuple[Any, Any]:
    """Train on this rank of ``group`` (rank 0's state broadcast first)."""
    net.to(group.device)
    broadcast_state(net)
    synced = sync_batch_norm(net)
    try:
        loop = ParallelLoop(
            net,
            data,
            validation if group.rank == 0 else None,
            rank_options(options, group.rank),
            group.device,
            net.output_layer.task,
            out_layout,
            group=group,
            may_stop=may_stop(options) if stops is None else stops,
        )
        net, info = loop.run()
    finally:
        if synced:
            unsync_batch_norm(net)
    info._extra["workers"] = group.world
    return net, info


# ------------------------------------------------------------------ starting the workers
_OPTION_SKIP = ("SolverName", "ValidationData", "OutputFcn", "Plots", "Verbose")


def write_job(folder: Path, net: Any, data: Prepared, options: TrainingOptions, out_layout: str | None) -> None:
    """What the workers need, in safe formats: net.dltk, data.pt (tensors only), job.json."""
    from ..io import save

    save(net, folder / "net.dltk")
    torch.save({"X": data.X, "Y": data.Y, "is_sequence": data.is_sequence, "seq2seq": data.seq2seq}, folder / "data.pt")
    values = {k: v for k, v in options.as_dict().items() if k not in _OPTION_SKIP}
    job = {"solver": options.SolverName, "options": values, "out_layout": out_layout, "may_stop": may_stop(options)}
    (folder / "job.json").write_text(json.dumps(job, allow_nan=True))


def read_job(folder: Path) -> tuple[Any, Prepared, TrainingOptions, str | None, bool]:
    from ..io import load

    net = load(folder / "net.dltk")
    d = torch.load(folder / "data.pt", weights_only=True)
    data = Prepared(d["X"], d["Y"], d["is_sequence"], d["seq2seq"])
    job = json.loads((folder / "job.json").read_text())
    options = trainingOptions(job["solver"], Verbose=False, Plots="none", **job["options"])
    return net, data, options, job["out_layout"], job["may_stop"]


class Workers:
    """The worker processes rank 0 started (ranks 1…W−1), their logs, and stopping them."""

    def __init__(self, folder: Path, world: int, port: int, env: str) -> None:
        self.folder, self.world = folder, world
        self.procs: list[subprocess.Popen] = []
        penv = dict(os.environ)
        pkg_root = str(Path(__file__).resolve().parents[2])
        penv["PYTHONPATH"] = os.pathsep.join([pkg_root, *filter(None, [penv.get("PYTHONPATH")])])
        penv.setdefault("GLOO_SOCKET_IFNAME", _loopback())
        threads = max(1, (os.cpu_count() or 1) // world)
        penv.setdefault("OMP_NUM_THREADS", str(threads))
        for r in range(1, world):
            log = open(folder / f"worker{r}.log", "wb")  # noqa: SIM115 - closed in stop()
            cmd = [sys.executable, "-m", "dltk.train.parallel_worker", str(folder), str(r), str(world), str(port), env]
            self.procs.append(
                subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=penv, start_new_session=True)
            )
            log.close()

    def last_message(self, r: int) -> str:
        try:
            lines = (self.folder / f"worker{r}.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no output)"
        return lines[-1] if lines else "(no output)"

    def dead(self, wait: float = 0.0) -> list[tuple[int, int]]:
        """(rank, exit code) of the workers that have exited with an error (waiting up to ``wait`` s)."""
        end = time.monotonic() + wait
        while True:
            out = [(r, p.returncode) for r, p in enumerate(self.procs, 1) if p.poll() not in (None, 0)]
            if out or time.monotonic() >= end:
                return out
            time.sleep(0.05)

    def error(self, wait: float, cause: BaseException | None = None) -> ParallelError | None:
        dead = self.dead(wait)
        if not dead:
            return None
        parts = [
            f"worker {r} (rank {r}, pid {self.procs[r - 1].pid}) exited with code {code}; its last message: "
            f"{self.last_message(r)}"
            for r, code in dead
        ]
        extra = f" (rank 0 saw: {cause})" if cause is not None else ""
        return ParallelError(f"{WHERE} ('parallel'): " + "; ".join(parts) + extra)

    def stop(self, grace: float = 5.0) -> None:
        """Wait ``grace`` seconds for the workers to end, then terminate, then kill: none is left behind."""
        end = time.monotonic() + grace
        for p in self.procs:
            try:
                p.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(3.0)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _loopback() -> str:
    return "lo0" if sys.platform == "darwin" else "lo"


def _wait_ready(store: Any, workers: Workers) -> None:
    keys = [f"ready/{r}" for r in range(1, workers.world)]
    end = time.monotonic() + START_TIMEOUT_S
    while not store.check(keys):
        err = workers.error(0.0)
        if err is not None:
            raise err
        if time.monotonic() > end:
            raise ParallelError(
                f"{WHERE} ('parallel'): the workers did not start within {START_TIMEOUT_S:.0f} s; last messages: "
                + "; ".join(f"worker {r}: {workers.last_message(r)}" for r in range(1, workers.world))
            )
        time.sleep(0.05)


def train_parallel(
    net: Any, data: Prepared, validation: Prepared | None, options: TrainingOptions, out_layout: str | None
) -> tuple[Any, Any]:
    """``trainNetwork`` with ExecutionEnvironment 'parallel' or 'multi-gpu' (see the module docstring)."""
    env = options.ExecutionEnvironment
    check_environment(env)
    if launched():
        group = join_launched(env)
        try:
            return run_rank(net, data, validation, options, out_layout, group)
        finally:
            if group.created:
                dist.destroy_process_group()
    if dist.is_initialized():
        raise OptionError(f"{WHERE}: a torch.distributed process group is already running in this process.")
    world = num_workers(options)
    if 1 < world and min(options.MiniBatchSize, data.n) < world:
        raise OptionError(
            f"{WHERE}: the mini-batch ({min(options.MiniBatchSize, data.n)} observations) is smaller than the "
            f"{world} workers, so some would have nothing to do. Use a larger MiniBatchSize or fewer NumWorkers."
        )
    if world <= 1:  # one worker: the ordinary loop, on the CPU or the one GPU
        from .trainer import _Loop

        device = _device(env, 0)
        net.to(device)
        return _Loop(net, data, validation, options, device, net.output_layer.task, out_layout).run()
    folder = Path(tempfile.mkdtemp(prefix="dltk-parallel-"))
    workers = None
    created = False
    grace = 0.0
    old_ifname = os.environ.get("GLOO_SOCKET_IFNAME")
    try:
        write_job(folder, net, data, options, out_layout)
        store = dist.TCPStore(
            "127.0.0.1", 0, world, is_master=True, timeout=timedelta(seconds=START_TIMEOUT_S), wait_for_workers=False
        )
        workers = Workers(folder, world, store.port, env)
        _wait_ready(store, workers)
        if old_ifname is None:
            os.environ["GLOO_SOCKET_IFNAME"] = _loopback()
        if env == "multi-gpu":
            torch.cuda.set_device(0)
        dist.init_process_group(
            _backend(env), store=store, rank=0, world_size=world, timeout=timedelta(seconds=TIMEOUT_S)
        )
        created = True
        group = Group(0, world, _device(env, 0), created=True)
        try:
            result = run_rank(net, data, validation, options, out_layout, group)
            if not result[1].StopReason.startswith("Stopped manually"):
                grace = 5.0  # they finish with rank 0; after Ctrl-C or an error they wait in a collective: stop now
            return result
        except (RuntimeError, dist.DistBackendError) as e:  # a collective failed: a worker died?
            if isinstance(e, DltkError):
                raise
            err = workers.error(5.0, e)
            if err is not None:
                raise err from None
            if not isinstance(e, dist.DistBackendError):
                raise
            last = "; ".join(f"worker {r}: {workers.last_message(r)}" for r in range(1, world))
            raise ParallelError(
                f"{WHERE} ('parallel'): communication between the workers failed ({e}). Workers' last messages: {last}"
            ) from e
    finally:
        if workers is not None:
            workers.stop(grace)
        if created:
            dist.destroy_process_group()
        if old_ifname is None:
            os.environ.pop("GLOO_SOCKET_IFNAME", None)
        shutil.rmtree(folder, ignore_errors=True)


def worker_main(folder: str, rank: int, world: int, port: int, env: str) -> None:
    """Entry point of a started worker (``python -m dltk.train.parallel_worker``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is rank 0's to decide
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    store = dist.TCPStore("127.0.0.1", port, world, is_master=False, timeout=timedelta(seconds=START_TIMEOUT_S))
    net, data, options, out_layout, stops = read_job(Path(folder))
    device = _device(env, rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    store.set(f"ready/{rank}", "1")
    dist.init_process_group(
        _backend(env), store=store, rank=rank, world_size=world, timeout=timedelta(seconds=TIMEOUT_S)
    )
    try:
        run_rank(net, data, None, options, out_layout, Group(rank, world, device, created=True), stops)
    finally:
        dist.destroy_process_group()
