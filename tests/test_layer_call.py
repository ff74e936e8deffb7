"""A dltk layer's call: ``forward`` directly when nothing would see the call, PyTorch's call otherwise.

``Layer.__call__`` skips ``nn.Module``'s two extra Python frames on the plain path; every
mechanism that relies on those frames must still work: hooks on the layer and global module
hooks, backward hooks, a compiled call, ``torch.jit.trace`` and a ``torch.fx`` trace that keeps
dltk layers as leaves.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import fx, nn
from torch.nn.modules import module as torch_module

import dltk
from dltk.layers.base import Layer


def test_plain_call_is_forward() -> None:
    lay = dltk.reluLayer()
    x = torch.randn(3, 4)
    assert torch.equal(lay(x), torch.relu(x))


def test_forward_pre_hook_changes_the_input() -> None:
    lay = dltk.reluLayer()
    handle = lay.register_forward_pre_hook(lambda m, args: (args[0] - 1,))
    assert torch.equal(lay(torch.full((1, 2), 3.0)), torch.full((1, 2), 2.0))
    handle.remove()
    assert torch.equal(lay(torch.full((1, 2), 3.0)), torch.full((1, 2), 3.0))


def test_forward_hook_sees_and_changes_the_output() -> None:
    lay = dltk.reluLayer()
    seen = []
    handle = lay.register_forward_hook(lambda m, args, out: seen.append(out.clone()) or out * 10)
    assert torch.equal(lay(torch.full((1, 2), 3.0)), torch.full((1, 2), 30.0))
    assert torch.equal(seen[0], torch.full((1, 2), 3.0))
    handle.remove()
    assert torch.equal(lay(torch.full((1, 2), 3.0)), torch.full((1, 2), 3.0))


@pytest.mark.parametrize("kind", ["forward", "forward_pre"])
def test_global_module_hooks_see_dltk_layers(kind: str) -> None:
    seen = []
    register = getattr(torch_module, f"register_module_{kind}_hook")
    handle = register(lambda m, *rest: seen.append(type(m).__name__))
    try:
        dltk.reluLayer()(torch.randn(2, 3))
    finally:
        handle.remove()
    assert seen == ["ReLU"]


def test_full_backward_hook_runs() -> None:
    lay = dltk.fullyConnectedLayer(3)
    lay.setup([torch.randn(1, 4)], ["BC"])
    grads = []
    lay.register_full_backward_hook(lambda m, gin, gout: grads.append(gout[0].clone()))
    lay(torch.randn(2, 4, requires_grad=True)).sum().backward()
    assert len(grads) == 1 and torch.equal(grads[0], torch.ones(2, 3))


def test_full_backward_pre_hook_changes_the_gradient() -> None:
    lay = dltk.reluLayer()
    lay.register_full_backward_pre_hook(lambda m, gout: (gout[0] * 3,))
    x = torch.ones(2, 3, requires_grad=True)
    lay(x).sum().backward()
    assert torch.equal(x.grad, torch.full((2, 3), 3.0))


def test_global_backward_hook_sees_dltk_layers() -> None:
    seen = []
    handle = torch_module.register_module_full_backward_hook(lambda m, gin, gout: seen.append(type(m).__name__))
    try:
        dltk.reluLayer()(torch.ones(2, 3, requires_grad=True)).sum().backward()
    finally:
        handle.remove()
    assert seen == ["ReLU"]


def test_a_compiled_call_is_used() -> None:
    lay = dltk.reluLayer()
    lay._compiled_call_impl = lambda x: x + 100  # what layer.compile() installs
    assert torch.equal(lay(torch.zeros(1, 2)), torch.full((1, 2), 100.0))


def test_jit_trace_records_the_layer_in_its_own_scope() -> None:
    model = nn.Sequential(nn.Linear(5, 5), dltk.leakyReluLayer(0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, torch.randn(2, 5))
    scopes = {n.kind(): n.scopeName() for n in traced.inlined_graph.nodes()}
    assert scopes["aten::leaky_relu"] == "__module.1"  # PyTorch's call pushed the layer's scope
    z = torch.randn(2, 5)
    assert torch.equal(traced(z), model(z))


class _LeafTracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, Layer) or super().is_leaf_module(m, qualname)


def test_fx_trace_keeps_dltk_layers_as_leaves() -> None:
    """``torch.fx`` swaps ``nn.Module.__call__`` while it traces; a dltk layer must go through it."""
    model = nn.Sequential(nn.Linear(4, 4), dltk.reluLayer())
    graph = _LeafTracer().trace(model)
    calls = [n.target for n in graph.nodes if n.op == "call_module"]
    assert calls == ["0", "1"]
    gm = fx.GraphModule(model, graph)
    x = torch.randn(3, 4)
    assert torch.equal(gm(x), model(x))
