"""Ctrl-C during trainNetwork (issue 16 item 2): any number of interrupts returns ``(net, info)``.

Interrupts are real SIGINTs (``signal.raise_signal``) sent from monkeypatched functions at chosen
points — inside the solver step between two parameters, during the final validation, the plot's
finish, the device move, the output functions — or a ``KeyboardInterrupt`` raised by an output
function. The returned network must equal, bit for bit, a network trained without interrupts for
exactly ``info.NumIterations`` iterations: every parameter at the same iteration.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
import torch

import dltk
from dltk.train import solvers, trainer
from dltk.train.interrupts import InterruptGuard

pytestmark = pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")

N, C, K = 24, 5, 3


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, C)).astype(np.float32)
    Y = np.array(["a", "b", "c"] * (N // 3))
    return X, Y


def _layers():
    torch.manual_seed(1)
    return [
        dltk.featureInputLayer(C, Normalization="none"),
        dltk.fullyConnectedLayer(8),
        dltk.reluLayer(),
        dltk.fullyConnectedLayer(K),
        dltk.softmaxLayer(),
        dltk.classificationLayer(),
    ]


def _options(**kw):
    base = dict(
        MaxEpochs=4,
        MiniBatchSize=6,
        Shuffle="never",
        Verbose=False,
        InitialLearnRate=0.1,
        Momentum=0.9,
    )
    base.update(kw)
    return dltk.trainingOptions("sgdm", **base)


LAYERS = dltk.Network(_layers())  # initialized once: every run starts from the same parameters


def _reference(iterations: int) -> dict[str, torch.Tensor]:
    """The parameters after exactly ``iterations`` uninterrupted iterations (validation changes none)."""
    if iterations == 0:
        return {k: v.clone() for k, v in LAYERS.state_dict().items()}
    X, Y = _data()
    stop = [lambda info: info["State"] == "iteration" and info["Iteration"] >= iterations]
    net, info = dltk.trainNetwork(X, Y, LAYERS, _options(OutputFcn=stop))
    assert info.NumIterations == iterations
    return {k: v.clone() for k, v in net.state_dict().items()}


_REFS: dict[int, dict[str, torch.Tensor]] = {}


def _assert_at_iteration(net, iterations: int) -> None:
    if iterations not in _REFS:
        _REFS[iterations] = _reference(iterations)
    ref = _REFS[iterations]
    assert set(net.state_dict()) == set(ref)
    for name, value in net.state_dict().items():
        assert torch.equal(value, ref[name]), f"{name} is not at iteration {iterations}"


def _sigint() -> None:
    signal.raise_signal(signal.SIGINT)


class _TrapState(dict):
    """A solver state dict that sends SIGINT when the solver reads it at a chosen step."""

    def __init__(self, solver, at_step: int) -> None:
        super().__init__()
        self.solver, self.at_step = solver, at_step

    def get(self, key, default=None):
        if self.solver.k == self.at_step:
            _sigint()  # lands between two parameters' updates
        return super().get(key, default)


@pytest.mark.parametrize("at_step", [1, 2, 5, 9, 13])
@pytest.mark.parametrize("param_index", [1, 3])
def test_interrupt_inside_the_solver_step_leaves_no_half_update(monkeypatch, at_step, param_index):
    init = solvers.Solver.__init__

    def patched(self, net, opts):
        init(self, net, opts)
        self.state[param_index] = _TrapState(self, at_step)

    monkeypatch.setattr(solvers.Solver, "__init__", patched)
    X, Y = _data()
    net, info = dltk.trainNetwork(X, Y, LAYERS, _options())
    assert info.StopReason.startswith("Stopped manually")
    assert info.NumIterations == at_step  # the step that was interrupted completed, then training stopped
    _assert_at_iteration(net, at_step)


def _patch_second_interrupt(monkeypatch, where: str, calls: list, finishing: list) -> None:
    """SIGINTs during one part of the finishing work (once ``finishing`` is non-empty)."""
    if where == "final validation":
        evaluate = trainer._Loop.evaluate

        def patched(self, data):
            if finishing:
                calls.append(where)
                _sigint()
                _sigint()
            return evaluate(self, data)

        monkeypatch.setattr(trainer._Loop, "evaluate", patched)
    elif where == "device move":
        to = dltk.network.Network.to

        def patched_to(self, *a, **k):
            if a and a[0] == "cpu":
                calls.append(where)
                _sigint()
            return to(self, *a, **k)

        monkeypatch.setattr(dltk.network.Network, "to", patched_to)
    elif where == "plot finish":
        from dltk.train import monitor

        fin = monitor.TrainingPlot.finish

        def patched_finish(self, state):
            calls.append(where)
            _sigint()
            fin(self, state)
            _sigint()

        monkeypatch.setattr(monitor.TrainingPlot, "finish", patched_finish)
    elif where == "progress close":
        from dltk.train import progress

        close = progress.Progress.close

        def patched_close(self, reason):
            calls.append(where)
            _sigint()
            return close(self, reason)

        monkeypatch.setattr(progress.Progress, "close", patched_close)


@pytest.mark.parametrize("where", ["final validation", "device move", "plot finish", "progress close"])
@pytest.mark.parametrize("stop_at", [1, 3, 7, 11])
def test_second_interrupt_while_finishing_still_returns_the_network(monkeypatch, capsys, where, stop_at):
    X, Y = _data()
    calls: list = []
    finishing: list = []
    _patch_second_interrupt(monkeypatch, where, calls, finishing)

    def first_interrupt(info):
        if info["State"] == "iteration" and info["Iteration"] == stop_at:
            finishing.append(True)
            raise KeyboardInterrupt  # the first Ctrl-C, in user code between iterations

    opts = dict(
        ValidationData=(X[:9], Y[:9]),
        ValidationFrequency=2,
        OutputNetwork="last-iteration",
        OutputFcn=[first_interrupt],
    )
    if where == "plot finish":
        opts["Plots"] = "training-progress"
    result = dltk.trainNetwork(X, Y, LAYERS, _options(**opts))
    net, info = result
    assert calls, "the second interrupt was not sent"
    assert info.StopReason.startswith("Stopped manually") and info.NumIterations == stop_at
    assert not net.training and next(net.parameters()).device.type == "cpu"
    assert np.isfinite(info.FinalValidationLoss)
    _assert_at_iteration(net, stop_at)
    assert "ignored" in capsys.readouterr().out
    if "figure" in info._extra:
        import matplotlib.pyplot as plt

        plt.close(info._extra["figure"])


def test_interrupt_during_final_validation_of_a_normal_run(monkeypatch):
    X, Y = _data()
    calls: list = []
    finishing: list = []
    _patch_second_interrupt(monkeypatch, "final validation", calls, finishing)
    last = [lambda i: finishing.append(True) if i["Iteration"] == 8 else None]  # the final validation follows
    net, info = dltk.trainNetwork(
        X, Y, LAYERS, _options(MaxEpochs=2, ValidationData=(X, Y), OutputNetwork="last-iteration", OutputFcn=last)
    )
    assert calls and info.StopReason == "Max epochs completed" and info.NumIterations == 8
    _assert_at_iteration(net, 8)


def test_many_interrupts_at_every_point_of_an_iteration(monkeypatch):
    """A SIGINT from every patched function in turn (sequence of trials): always ``(net, info)``."""
    X, Y = _data()
    points = ["run_chunks", "chunk_loss", "solver step", "callback"]
    for trial in range(12):
        point, at = points[trial % len(points)], 1 + trial % 5
        with monkeypatch.context() as m:
            counter = {"n": 0}

            def maybe_sigint(counter=counter, at=at):
                counter["n"] += 1
                if counter["n"] == at:
                    _sigint()

            if point == "run_chunks":
                orig_run = trainer.run_chunks

                def run(*a, _o=orig_run, **k):
                    maybe_sigint()
                    yield from _o(*a, **k)

                m.setattr(trainer, "run_chunks", run)
            elif point == "chunk_loss":
                orig_loss = trainer.chunk_loss
                m.setattr(trainer, "chunk_loss", lambda *a, _o=orig_loss, **k: (maybe_sigint(), _o(*a, **k))[1])
            elif point == "solver step":
                orig_step = solvers.Solver.step

                def step(self, lr, _o=orig_step):
                    maybe_sigint()
                    _o(self, lr)
                    maybe_sigint()

                m.setattr(solvers.Solver, "step", step)
            net, info = dltk.trainNetwork(
                X, Y, LAYERS, _options(OutputFcn=[lambda i: maybe_sigint()] if point == "callback" else [])
            )
            assert info.NumIterations >= 0
            _assert_at_iteration(net, info.NumIterations)


def test_guard_restores_the_handler_and_is_inert_off_the_main_thread():
    before = signal.getsignal(signal.SIGINT)
    with InterruptGuard() as guard:
        assert guard.active and signal.getsignal(signal.SIGINT) is not before
        with pytest.raises(KeyboardInterrupt):
            with guard.critical():
                _sigint()
                x = 1  # still runs: the interrupt waits for the end of the section
            assert x == 1
    assert signal.getsignal(signal.SIGINT) is before
    import threading

    seen = []

    def worker():
        with InterruptGuard() as g:
            seen.append(g.active)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [False]
