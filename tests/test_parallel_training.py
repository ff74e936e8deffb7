"""ExecutionEnvironment 'parallel' (issue 17): 2 CPU workers on torch.distributed (gloo, 127.0.0.1).

Equality with one process: the same trainNetwork call (same seed, same global
mini-batch) gives the same weights, running statistics and per-iteration
history within float32 summation-order noise: |Δ| ≤ 1e-5 + 1e-4·|w| after 3 epochs
(measured: about 1e-7). Mini-batches of 9 and 7 split unevenly (4+5, 3+4), so a
gradient averaged per worker instead of weighted by its share would fail.

Every test that starts workers checks that none is left behind; each run is
bounded by the module's timeouts (workers are terminated in a ``finally``).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import psutil
import pytest
import torch

import dltk
from dltk.errors import OptionError
from dltk.train.parallel import ParallelError

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(), reason="needs gloo"
)

ATOL, RTOL = 1e-5, 1e-4


@pytest.fixture(autouse=True)
def _no_leftover_workers(monkeypatch):
    for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "DLTK_PARALLEL_FAIL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DLTK_PARALLEL_TIMEOUT", "60")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    for p in left:  # never leave them running, even when the test fails
        p.kill()
    assert not left, f"worker processes left behind: {[p.pid for p in left]}"
    assert not torch.distributed.is_initialized()


def _sequences(n: int = 40, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    g = np.random.default_rng(seed)
    X = [g.standard_normal((int(g.integers(3, 12)), 3)).astype(np.float32) for _ in range(n)]
    return X, np.array([int(x[:, 0].sum() > 0) for x in X])


def _lstm() -> list:
    return [
        dltk.sequenceInputLayer(3),
        dltk.lstmLayer(8, OutputMode="last"),
        dltk.fullyConnectedLayer(2),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]


def _images(n: int = 30, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, 1, 6, 6)).astype(np.float32)
    return X, (X[:, 0, :3].mean(axis=(1, 2)) > 0).astype(int)


def _cnn() -> list:
    return [
        dltk.imageInputLayer([6, 6, 1]),
        dltk.convolution2dLayer(3, 4, Padding="same"),
        dltk.batchNormalizationLayer(),
        dltk.reluLayer(),
        dltk.fullyConnectedLayer(2),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]


def _train(X, Y, layers, env: str, solver: str = "adam", **kw):
    torch.manual_seed(0)
    kw.setdefault("Verbose", False)
    opts = dltk.trainingOptions(
        solver, MaxEpochs=3, InitialLearnRate=0.01, ExecutionEnvironment=env, NumWorkers=2, **kw
    )
    return dltk.trainNetwork(X, Y, layers, opts)


def _assert_same(one, par) -> None:
    (net1, info1), (net2, info2) = one, par
    a, b = net1.state_dict(), net2.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(b[k], a[k], atol=ATOL, rtol=RTOL, msg=lambda m, k=k: f"{k}: {m}")
    assert info2.NumIterations == info1.NumIterations
    np.testing.assert_allclose(info2.TrainingLoss, info1.TrainingLoss, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(info2.TrainingAccuracy, info1.TrainingAccuracy, atol=1e-9)
    np.testing.assert_array_equal(info2.Epoch, info1.Epoch)


def test_lstm_variable_lengths_uneven_split_matches_one_process():
    X, Y = _sequences()
    kw = {"MiniBatchSize": 9, "Shuffle": "every-epoch"}  # 9 = 4 + 5 rows, reshuffled by rank 0 each epoch
    one = _train(X, Y, _lstm(), "cpu", **kw)
    par = _train(X, Y, _lstm(), "parallel", **kw)
    _assert_same(one, par)
    assert par[1]._extra["workers"] == 2 and "2 CPU workers" in par[1]._extra["hardware"]


def test_cnn_batch_norm_statistics_of_the_global_batch():
    X, Y = _images()
    Xv, Yv = _images(10, seed=2)
    # sgdm: the convolution's bias, followed by batch norm, has a zero gradient up to rounding (~1e-9), and
    # Adam's g/√s would turn that rounding noise into full-size steps in either run
    kw = {"solver": "sgdm", "MiniBatchSize": 7, "ValidationData": (Xv, Yv), "ValidationFrequency": 2}  # 7 = 3 + 4
    one = _train(X, Y, _cnn(), "cpu", **kw)
    par = _train(X, Y, _cnn(), "parallel", **kw)
    _assert_same(one, par)  # includes running_mean / running_var of the batch norm layer
    np.testing.assert_allclose(par[1].ValidationLoss, one[1].ValidationLoss, atol=ATOL, rtol=RTOL)
    assert par[1].OutputNetworkIteration == one[1].OutputNetworkIteration


def _table_rows(text: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines() if "|" in line]
    return [r[:2] for r in rows if r and r[0].isdigit()]  # epoch, iteration


def test_progress_table_and_plot_come_from_rank_0_as_in_one_process(capsys):
    X, Y = _sequences()
    kw = {"MiniBatchSize": 9, "VerboseFrequency": 2, "Plots": "training-progress"}
    one = _train(X, Y, _lstm(), "cpu", **{**kw, "Verbose": True})
    text_one = capsys.readouterr().out
    par = _train(X, Y, _lstm(), "parallel", **{**kw, "Verbose": True})
    text_par = capsys.readouterr().out
    assert _table_rows(text_par) == _table_rows(text_one) and len(_table_rows(text_one)) > 3
    assert text_par.count("Training finished") == 1  # the workers print nothing here
    fig = par[1]._extra["figure"]
    loss_raw = fig.axes[1].lines[0].get_ydata()
    np.testing.assert_allclose(loss_raw, par[1].TrainingLoss)
    np.testing.assert_allclose(loss_raw, one[1].TrainingLoss, atol=ATOL, rtol=RTOL)
    assert any("2 CPU workers" in t.get_text() for t in fig.axes[2].texts)


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("raise", r"worker 1 \(rank 1, pid \d+\) exited with code 1; its last message: RuntimeError: injected failure"),
        ("kill", r"worker 1 \(rank 1, pid \d+\) exited with code -9; its last message: about to be killed"),
    ],
)
def test_a_worker_that_dies_is_named_with_its_last_message(monkeypatch, how, expected):
    monkeypatch.setenv("DLTK_PARALLEL_FAIL", f"1:3:{how}")  # worker 1 raises / is SIGKILLed at iteration 3
    X, Y = _sequences()
    t0 = time.monotonic()
    with pytest.raises(ParallelError, match=expected):
        _train(X, Y, _lstm(), "parallel", MiniBatchSize=9)
    assert time.monotonic() - t0 < 120


def test_ctrl_c_stops_every_worker_and_returns_the_network_so_far():
    X, Y = _sequences()
    stop_at = 5

    def interrupt(state):  # rank 0 only: a real SIGINT, as the notebook's stop button sends
        if state["State"] == "iteration" and state["Iteration"] == stop_at:
            signal.raise_signal(signal.SIGINT)

    def stop(state):
        return state["State"] == "iteration" and state["Iteration"] == stop_at

    t0 = time.monotonic()
    net, info = _train(X, Y, _lstm(), "parallel", MiniBatchSize=9, OutputFcn=interrupt)
    assert time.monotonic() - t0 < 120
    assert info.NumIterations == stop_at and "Stopped manually" in info.StopReason
    ref = _train(X, Y, _lstm(), "cpu", MiniBatchSize=9, OutputFcn=stop)  # one process, stopped at the same point
    _assert_same(ref, (net, info))


def test_multi_gpu_without_a_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    X, Y = _sequences(10)
    with pytest.raises(OptionError, match="'multi-gpu' needs CUDA GPUs, but no GPU is available"):
        _train(X, Y, _lstm(), "multi-gpu")


def test_options_and_a_mini_batch_smaller_than_the_workers():
    opts = dltk.trainingOptions("sgdm", ExecutionEnvironment="parallel")
    assert opts.NumWorkers == "auto" and "NumWorkers" in repr(opts)
    with pytest.raises(OptionError, match="invalid NumWorkers"):
        dltk.trainingOptions("sgdm", NumWorkers=0)
    X, Y = _sequences(10)
    with pytest.raises(OptionError, match="smaller than the 4 workers"):
        dltk.trainNetwork(
            X, Y, _lstm(), dltk.trainingOptions("adam", MiniBatchSize=3, ExecutionEnvironment="parallel", NumWorkers=4)
        )


def test_auto_workers_is_the_cpu_count():
    from dltk.train.parallel import num_workers

    assert num_workers(dltk.trainingOptions("adam", ExecutionEnvironment="parallel")) == (os.cpu_count() or 1)


_LAUNCHED = """
import sys, numpy as np, torch, dltk
sys.path.insert(0, {tests!r})
from test_parallel_training import _lstm, _sequences, _train
X, Y = _sequences()
net, info = _train(X, Y, _lstm(), "parallel", MiniBatchSize=9)
torch.save(net.state_dict(), {out!r} + "/rank" + __import__("os").environ["RANK"] + ".pt")
"""


def test_under_a_launcher_every_rank_joins_the_group_and_ends_with_the_same_weights(tmp_path):
    """MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK set (as torchrun does): no workers are started."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "launched.py"
    script.write_text(_LAUNCHED.format(tests=os.path.dirname(__file__), out=str(tmp_path)))
    base = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", GLOO_SOCKET_IFNAME="lo")
    procs = [
        subprocess.Popen([sys.executable, str(script)], env=dict(base, RANK=str(r), LOCAL_RANK=str(r)))
        for r in range(2)
    ]
    try:
        codes = [p.wait(timeout=240) for p in procs]  # imports alone take ~15 s on a loaded machine
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == [0, 0]
    X, Y = _sequences()
    ref = _train(X, Y, _lstm(), "cpu", MiniBatchSize=9)[0].state_dict()
    for r in range(2):
        got = torch.load(tmp_path / f"rank{r}.pt", weights_only=True)
        for k in ref:
            if ref[k].is_floating_point():
                torch.testing.assert_close(got[k], ref[k], atol=ATOL, rtol=RTOL)


def test_a_stop_decided_on_rank_0_reaches_every_worker():
    """OutputFcn returning True (rank 0 only) ends every worker at the same iteration; they exit by themselves."""
    X, Y = _sequences()

    def stop(state):
        return state["State"] == "iteration" and state["Iteration"] == 4

    t0 = time.monotonic()
    par = _train(X, Y, _lstm(), "parallel", MiniBatchSize=9, OutputFcn=stop)
    assert time.monotonic() - t0 < 120
    one = _train(X, Y, _lstm(), "cpu", MiniBatchSize=9, OutputFcn=stop)
    assert par[1].StopReason == "Stopped by OutputFcn" and par[1].NumIterations == 4
    _assert_same(one, par)
