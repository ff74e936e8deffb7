"""The shared layer battery over every registered LayerCase, and tests of the battery itself.

Every check of :mod:`dltk.testing.battery` runs on every case of
``tests/cases/*.py`` (test ids ``<check>[<case id>]``). The second half proves
that each check can fail: small layers defined here, each broken in one way,
must fail exactly the check that guards against that defect.
"""

from __future__ import annotations

import pytest
import torch

import dltk
from dltk.layers import Layer
from dltk.testing import LayerCase, battery
from tests.cases import all_cases

CASES = all_cases()


@pytest.mark.parametrize("check", list(battery.CHECKS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_battery(case: LayerCase, check: str) -> None:
    try:
        with battery.single_thread():  # tiny tensors: a second thread only adds overhead
            battery.CHECKS[check](case)
    except battery.CheckSkipped as why:
        pytest.skip(str(why))


def test_registry_is_not_empty_and_ids_unique() -> None:
    assert len(CASES) >= 4
    assert len({c.id for c in CASES}) == len(CASES)


# ------------------------------------------------------------ the battery's own tests
class ScaledTanh(Layer):
    """y = α ⊙ tanh(x) per channel (a well-behaved layer used to test the battery)."""

    signals = ("pre_scale",)
    signal_docs = {"pre_scale": "tanh(x) before scaling, same layout as the input"}
    matlab_name = "fullyConnectedLayer"  # borrowed: only check_matlab_front looks at it
    type_name = "Scaled tanh"
    name_prefix = "stanh"

    def __init__(self, channels: int = 3, name: str = "") -> None:
        super().__init__(name)
        self.alpha = torch.nn.Parameter(torch.linspace(0.5, 1.5, channels, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, ("BC", "BTC"), {"C": self.alpha.numel()})
        t = torch.tanh(x)
        self._emit("pre_scale", t)
        return self._scale(t)

    def _scale(self, t: torch.Tensor) -> torch.Tensor:
        return t * self.alpha

    def description(self) -> str:
        return f"scaled tanh over {self.alpha.numel()} channels"


def good_case(make=ScaledTanh, **kw) -> LayerCase:
    args = dict(
        id="scaled-tanh",
        make=make,
        inputs=lambda: [torch.randn(4, 3)],
        reference=lambda layer, x: torch.tanh(x) * layer.alpha,
        signal_shapes={"pre_scale": (4, 3)},
        bad_inputs=[([torch.randn(4, 2)], "C is 2, expected 3")],
    )
    args.update(kw)
    return LayerCase(**args)


def test_good_layer_passes_everything_but_the_front() -> None:
    case = good_case()
    for name, check in battery.CHECKS.items():
        if name != "matlab_front":
            check(case)
    with pytest.raises(AssertionError, match="builds FullyConnected, expected ScaledTanh"):
        battery.check_matlab_front(case)


def test_wrong_reference_fails() -> None:
    case = good_case(reference=lambda layer, x: torch.tanh(x) * layer.alpha * (1 + 1e-6))
    with pytest.raises(AssertionError, match="output vs reference"):
        battery.check_reference(case)


class _WrongGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t, a):  # noqa: ANN001, ANN205
        ctx.save_for_backward(t, a)
        return t * a

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        t, a = ctx.saved_tensors
        return g * a * 1.01, (g * t).sum(0)  # input gradient off by 1 %


class WrongGradient(ScaledTanh):
    def _scale(self, t: torch.Tensor) -> torch.Tensor:
        return _WrongGrad.apply(t, self.alpha)


def test_wrong_gradient_fails_gradcheck() -> None:
    case = good_case(WrongGradient)
    battery.check_reference(case)  # the forward is right …
    with pytest.raises(AssertionError, match="gradcheck failed"):
        battery.check_gradcheck(case)  # … the backward is not


class RecordingChangesNumbers(ScaledTanh):
    def _scale(self, t: torch.Tensor) -> torch.Tensor:
        return t * self.alpha + (1e-6 if self._recorder is not None else 0.0)


def test_recording_that_changes_numbers_fails() -> None:
    with pytest.raises(AssertionError, match="recorded output vs plain run"):
        battery.check_record_unchanged(good_case(RecordingChangesNumbers))


def test_leftover_hooks_are_found() -> None:
    layer = ScaledTanh()
    assert battery.leftover_instrumentation(layer) == []
    h = layer.register_forward_hook(lambda *a: None)
    layer._recorder = object()
    left = battery.leftover_instrumentation(layer)
    assert any("recorder still attached" in s for s in left) and any("forward hooks" in s for s in left)
    h.remove()


class SilentSignal(ScaledTanh):
    signals = ("pre_scale", "never_emitted")
    signal_docs = {**ScaledTanh.signal_docs, "never_emitted": "declared but never recorded"}


class UndocumentedSignal(ScaledTanh):
    signal_docs = {}


def test_signal_checks_fail() -> None:
    with pytest.raises(AssertionError, match=r"declared signals not recorded: \['never_emitted'\]"):
        battery.check_signals(good_case(SilentSignal))
    battery.check_signals(good_case(SilentSignal, absent_signals=("never_emitted",)))
    with pytest.raises(AssertionError, match="without an entry in signal_docs"):
        battery.check_signals(good_case(UndocumentedSignal))
    with pytest.raises(AssertionError, match=r"signal 'pre_scale' has shape \(4, 3\), documented \(4, 4\)"):
        battery.check_signals(good_case(signal_shapes={"pre_scale": (4, 4)}))


class NoDescription(ScaledTanh):
    def description(self) -> str:
        return ""


def test_empty_description_fails() -> None:
    with pytest.raises(AssertionError, match="description"):
        battery.check_description(good_case(NoDescription))


class HiddenState(ScaledTanh):
    """Keeps a tensor outside the state dict, so a round trip loses it."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = torch.rand(3, dtype=torch.float64)  # not a buffer: not saved

    def _scale(self, t: torch.Tensor) -> torch.Tensor:
        return t * self.alpha + self.offset


def test_state_outside_state_dict_fails() -> None:
    with pytest.raises(AssertionError, match="after state_dict round trip"):
        battery.check_state_dict(good_case(HiddenState, reference=None))


class RawTorchError(ScaledTanh):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) * self.alpha  # no input check: torch raises on a size mismatch


def test_bad_input_checks_fail() -> None:
    with pytest.raises(AssertionError, match="raised RuntimeError, expected LayerInputError"):
        battery.check_bad_inputs(good_case(RawTorchError))
    with pytest.raises(AssertionError, match="message lacks"):
        battery.check_bad_inputs(good_case(bad_inputs=[([torch.randn(4, 2)], "some other words")]))
    with pytest.raises(AssertionError, match="no error raised"):
        battery.check_bad_inputs(good_case(bad_inputs=[([torch.randn(5, 3)], "C is")]))


def test_skips_say_why() -> None:
    with pytest.raises(battery.CheckSkipped, match="no reference"):
        battery.check_reference(good_case(reference=None))
    with pytest.raises(battery.CheckSkipped, match="gradcheck=False"):
        battery.check_gradcheck(good_case(gradcheck=False))


def test_random_layers_are_compared_under_the_same_seed() -> None:
    class Noisy(ScaledTanh):
        def _scale(self, t: torch.Tensor) -> torch.Tensor:
            return t * self.alpha + torch.rand_like(t) * self.training

    case = good_case(
        Noisy,
        train=True,
        reference=lambda layer, x: torch.tanh(x) * layer.alpha + torch.rand(4, 3, dtype=torch.float64),
    )
    battery.check_reference(case)
    battery.check_state_dict(case)
    battery.check_record_unchanged(case)
    assert dltk.record  # the battery used the public dltk.record
