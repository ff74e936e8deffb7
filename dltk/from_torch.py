"""``dltk.from_torch``: a student's sequential PyTorch model as a dltk :class:`~dltk.network.Network`.

The module's forward is traced with ``torch.fx`` and read as a chain: each step must take the
previous step's output and be one of

==================================  ==================================================
PyTorch                             dltk layer (MATLAB name)
==================================  ==================================================
``nn.LSTM`` (one direction)         one ``lstmLayer`` per stacked layer, OutputMode
                                    ``'sequence'``; ``y[:, -1]`` after it (batch_first)
                                    or ``y[-1]`` (time-major) makes the last one ``'last'``
``nn.Linear``                       ``fullyConnectedLayer``
``nn.Conv2d`` (groups = 1)          ``convolution2dLayer``
``nn.BatchNorm2d`` / ``1d``         ``batchNormalizationLayer``
``nn.MaxPool2d`` / ``nn.AvgPool2d`` ``maxPooling2dLayer`` / ``averagePooling2dLayer``
``nn.ReLU``, ``nn.LeakyReLU``,      ``reluLayer``, ``leakyReluLayer``, ``tanhLayer``,
``nn.Tanh``, ``nn.Sigmoid``,        ``sigmoidLayer``, ``eluLayer``, ``softmaxLayer``
``nn.ELU``, ``nn.Softmax(dim=-1)``  (also ``torch.relu``, ``F.relu``, ``x.relu()`` …)
``nn.Dropout``                      ``dropoutLayer``
``nn.Flatten``, ``x.flatten(1)``    nothing (``fullyConnectedLayer`` flattens)
==================================  ==================================================

An input layer without normalization comes first (``sequenceInputLayer(C)`` before an LSTM,
``featureInputLayer(C)`` before a Linear, ``imageInputLayer([H W C])`` before a convolution:
give ``input_size=(C, H, W)`` for images).

Parameters are **shared**: the dltk layers hold the PyTorch module's own ``Parameter``
objects (and batch normalization its running-statistics buffers), so training either trains
both. Two exceptions, where dltk (as MATLAB) stores the numbers differently, are copies made at
conversion: an LSTM's bias (MATLAB has one bias, PyTorch two: dltk's is ``b_ih + b_hh``), and
a Linear after a feature map larger than 1×1 in both directions (MATLAB flattens C, W, H,
PyTorch C, H, W: the columns are reordered). ``net.shared`` lists what is shared,
``net.copied`` what is copied. ``net.to_torch()`` is the way back (a plain module with the
same outputs).

The inputs are those of the PyTorch model in dltk's layouts: (B, T, C) sequences (a
time-major ``nn.LSTM`` model takes (T, B, C), its dltk network (B, T, C)), (B, C) features,
(B, C, H, W) images.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from . import matlab
from .errors import OptionError
from .network import Network

__all__ = ["from_torch"]

_ACTIVATION_FUNCS = {
    torch.relu: "reluLayer",
    F.relu: "reluLayer",
    torch.tanh: "tanhLayer",
    torch.sigmoid: "sigmoidLayer",
    F.elu: "eluLayer",
}
_ACTIVATION_METHODS = {"relu": "reluLayer", "tanh": "tanhLayer", "sigmoid": "sigmoidLayer"}


def _layer(kind: str, *args: Any, **kwargs: Any) -> Any:
    return getattr(matlab, kind)(*args, **kwargs)


class _Chain:
    """The conversion state: the dltk layers so far, what they share and copy."""

    def __init__(self, model: nn.Module, input_size: Any) -> None:
        self.model = model
        self.input_size = input_size
        self.layers: list[Any] = []
        self.shared: list[str] = []
        self.copied: list[str] = []
        self.kind: str | None = None  # "sequence", "feature", "image": what flows now
        self.channels: int | None = None
        self.recurrent: list[tuple[Any, nn.LSTM]] = []  # the dltk lstm layers of the last nn.LSTM
        self.hw: tuple[int, int] | None = None  # spatial size of an image flow, when known

    def need_input(self, kind: str, channels: int, name: str) -> None:
        if self.layers:
            return
        if kind == "sequence":
            self.layers.append(_layer("sequenceInputLayer", channels, Normalization="none"))
        elif kind == "feature":
            self.layers.append(_layer("featureInputLayer", channels, Normalization="none"))
        else:
            size = self.input_size
            if size is None or len(size) != 3:
                raise OptionError(
                    f"dltk.from_torch: '{name}' ({type(self.model.get_submodule(name)).__name__}) takes images; "
                    "give their size: from_torch(model, input_size=(C, H, W))."
                )
            c, h, w = (int(s) for s in size)
            self.layers.append(_layer("imageInputLayer", [h, w, c], Normalization="none"))
            self.hw = (h, w)
        self.kind = kind


def _share(layer: Any, attr: str, value: Any, chain: _Chain, what: str) -> None:
    setattr(layer, attr, value)
    chain.shared.append(what)


def _convert_module(name: str, m: nn.Module, chain: _Chain) -> None:
    kind = type(m).__name__
    if isinstance(m, nn.LSTM):
        if m.bidirectional or m.proj_size:
            raise OptionError(
                f"dltk.from_torch: cannot convert '{name}' (nn.LSTM with "
                f"{'bidirectional=True' if m.bidirectional else f'proj_size={m.proj_size}'}): "
                "a dltk lstmLayer is one-directional without projection."
            )
        chain.need_input("sequence", m.input_size, name)
        chain.recurrent = []
        for k in range(m.num_layers):
            lay = _layer(
                "lstmLayer",
                m.hidden_size,
                InputSize=m.input_size if k == 0 else m.hidden_size,
                OutputMode="sequence",
                Name=f"{name}_l{k}" if m.num_layers > 1 else name,
            )
            _share(lay, "input_weights", getattr(m, f"weight_ih_l{k}"), chain, f"{name}.weight_ih_l{k}")
            _share(lay, "recurrent_weights", getattr(m, f"weight_hh_l{k}"), chain, f"{name}.weight_hh_l{k}")
            with torch.no_grad():
                if m.bias:
                    b = getattr(m, f"bias_ih_l{k}") + getattr(m, f"bias_hh_l{k}")
                    chain.copied.append(f"{name}.bias_ih_l{k} + {name}.bias_hh_l{k}")
                else:
                    b = torch.zeros(lay.bias.shape, dtype=lay.input_weights.dtype, device=lay.input_weights.device)
                lay.bias = nn.Parameter(b.detach().clone())
            chain.layers.append(lay)
            chain.recurrent.append((lay, m))
            if k < m.num_layers - 1 and m.dropout:
                chain.layers.append(_layer("dropoutLayer", m.dropout))
        chain.channels = m.hidden_size
        return
    if isinstance(m, nn.Linear):
        chain.need_input("feature", m.in_features, name)
        lay = _layer("fullyConnectedLayer", m.out_features, InputSize=m.in_features, Name=name)
        hw = chain.hw if chain.kind == "image" else None
        if hw is not None and hw[0] > 1 and hw[1] > 1:
            c, (h, w) = m.in_features // (hw[0] * hw[1]), hw
            with torch.no_grad():  # PyTorch flattens (C, H, W), MATLAB (C, W, H)
                wt = m.weight.detach().reshape(m.out_features, c, h, w).transpose(2, 3).reshape(m.out_features, -1)
                lay.weight = nn.Parameter(wt.clone())
            chain.copied.append(f"{name}.weight (columns reordered: C, H, W -> C, W, H)")
        else:
            _share(lay, "weight", m.weight, chain, f"{name}.weight")
        if m.bias is not None:
            _share(lay, "bias", m.bias, chain, f"{name}.bias")
        else:
            _no_bias(lay, m.weight)
        chain.layers.append(lay)
        chain.kind = "sequence" if chain.kind == "sequence" else "feature"
        chain.hw = None
        return
    if isinstance(m, nn.Conv2d):
        if m.groups != 1 or m.padding_mode != "zeros" or isinstance(m.padding, str) and m.padding != "valid":
            raise OptionError(
                f"dltk.from_torch: cannot convert '{name}' (nn.Conv2d with groups={m.groups}, "
                f"padding={m.padding!r}, padding_mode={m.padding_mode!r}): only groups=1 and numeric zero padding."
            )
        chain.need_input("image", m.in_channels, name)
        pad = (0, 0) if m.padding == "valid" else tuple(m.padding)
        lay = _layer(
            "convolution2dLayer",
            list(m.kernel_size),
            m.out_channels,
            NumChannels=m.in_channels,
            Stride=list(m.stride),
            DilationFactor=list(m.dilation),
            Padding=list(pad),
            Name=name,
        )
        _share(lay, "weight", m.weight, chain, f"{name}.weight")
        if m.bias is not None:
            _share(lay, "bias", m.bias, chain, f"{name}.bias")
        else:
            _no_bias(lay, m.weight)
        chain.layers.append(lay)
        if chain.hw is not None:
            chain.hw = tuple(  # type: ignore[assignment]
                (s + 2 * p - d * (k - 1) - 1) // st + 1
                for s, p, d, k, st in zip(chain.hw, pad, m.dilation, m.kernel_size, m.stride)
            )
        return
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if not m.affine or not m.track_running_stats:
            raise OptionError(
                f"dltk.from_torch: cannot convert '{name}' ({kind} without affine or running statistics)."
            )
        chain.need_input("feature" if isinstance(m, nn.BatchNorm1d) else "image", m.num_features, name)
        lay = _layer("batchNormalizationLayer", NumChannels=m.num_features, Epsilon=max(m.eps, 1e-5), Name=name)
        _share(lay, "scale", m.weight, chain, f"{name}.weight")
        _share(lay, "offset", m.bias, chain, f"{name}.bias")
        lay.running_mean = m.running_mean
        lay.running_var = m.running_var
        chain.shared += [f"{name}.running_mean", f"{name}.running_var"]
        chain.layers.append(lay)
        return
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        pair = nn.modules.utils._pair
        if (
            getattr(m, "ceil_mode", False)
            or (isinstance(m, nn.MaxPool2d) and pair(m.dilation) != (1, 1))
            or (isinstance(m, nn.AvgPool2d) and (m.divisor_override is not None or not m.count_include_pad))
        ):
            raise OptionError(
                f"dltk.from_torch: cannot convert '{name}' ({kind} with ceil_mode, dilation or a divisor option)."
            )
        k, st, p = pair(m.kernel_size), pair(m.stride or m.kernel_size), pair(m.padding)
        what = "maxPooling2dLayer" if isinstance(m, nn.MaxPool2d) else "averagePooling2dLayer"
        chain.layers.append(_layer(what, list(k), Stride=list(st), Padding=list(p), Name=name))
        if chain.hw is not None:
            chain.hw = tuple((s + 2 * q - kk) // ss + 1 for s, q, kk, ss in zip(chain.hw, p, k, st))  # type: ignore[assignment]
        return
    simple = {
        nn.ReLU: lambda: _layer("reluLayer", Name=name),
        nn.Tanh: lambda: _layer("tanhLayer", Name=name),
        nn.Sigmoid: lambda: _layer("sigmoidLayer", Name=name),
        nn.ELU: lambda: _layer("eluLayer", m.alpha, Name=name),
        nn.LeakyReLU: lambda: _layer("leakyReluLayer", m.negative_slope, Name=name),
        nn.Dropout: lambda: _layer("dropoutLayer", m.p, Name=name),
    }
    if type(m) in simple:
        _need_flow(chain, name)
        chain.layers.append(simple[type(m)]())
        return
    if isinstance(m, nn.Softmax):
        _softmax(chain, name, m.dim)
        return
    if isinstance(m, nn.Flatten):
        _flatten(chain, name, m.start_dim, m.end_dim)
        return
    raise OptionError(
        f"dltk.from_torch: cannot convert module '{name}' ({kind}); convertible: nn.LSTM, nn.Linear, nn.Conv2d, "
        "nn.BatchNorm1d/2d, nn.MaxPool2d, nn.AvgPool2d, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid, "
        "nn.Softmax, nn.Dropout, nn.Flatten."
    )


def _no_bias(lay: Any, weight: torch.Tensor) -> None:
    """A module without bias: the dltk layer's bias is zero and not learnable (so it stays zero)."""
    n = lay.bias.shape
    lay.bias = nn.Parameter(torch.zeros(n, dtype=weight.dtype, device=weight.device), requires_grad=False)


def _need_flow(chain: _Chain, name: str) -> None:
    if not chain.layers:
        raise OptionError(
            f"dltk.from_torch: the model starts with '{name}'; the first step must be a layer with weights "
            "(nn.LSTM, nn.Linear, nn.Conv2d, nn.BatchNorm), which fixes the input layer."
        )


def _softmax(chain: _Chain, name: str, dim: Any) -> None:
    _need_flow(chain, name)
    ok = dim == -1 or (chain.kind == "feature" and dim == 1) or (chain.kind == "sequence" and dim == 2)
    if not ok:
        raise OptionError(
            f"dltk.from_torch: cannot convert '{name}' (softmax over dim={dim}): softmaxLayer normalizes over "
            "the channels (dim=-1 of (B, C) or (B, T, C))."
        )
    chain.layers.append(_layer("softmaxLayer", Name=name))


def _flatten(chain: _Chain, name: str, start: int, end: int = -1) -> None:
    if start != 1 or end != -1:
        raise OptionError(
            f"dltk.from_torch: cannot convert '{name}' (flatten of dims {start}..{end}): only flatten(1)."
        )
    if chain.kind == "sequence":
        raise OptionError(f"dltk.from_torch: cannot convert '{name}' (flatten of a sequence).")
    # nothing to add: a fullyConnectedLayer flattens a feature map itself


def _is_last_step(index: Any, batch_first: bool) -> bool:
    if batch_first:
        if not isinstance(index, tuple) or len(index) not in (2, 3):
            return False
        return index[0] == slice(None) and index[1] == -1 and all(i == slice(None) for i in index[2:])
    return index == -1 or (isinstance(index, tuple) and index[0] == -1 and all(i == slice(None) for i in index[1:]))


def from_torch(model: nn.Module, input_size: Any = None) -> Network:
    """A dltk :class:`~dltk.network.Network` of a sequential PyTorch model, sharing its parameters.

    Args:
        model: an ``nn.Sequential`` or a module whose forward is a chain of the modules (and
            functions) listed in :mod:`dltk.from_torch`, e.g. ``y, _ = self.lstm(x);
            return self.fc(y[:, -1])``.
        input_size: ``(C, H, W)`` of the images for a model that starts with a convolution
            (sequence and feature models take their size from the first layer).

    Returns:
        A Network: ``analyzeNetwork(net)``, MATLAB notation, ``dltk.record(net, X)`` work on it;
        ``net.to_torch()`` is the way back. ``net.shared`` / ``net.copied`` say which parameters
        are the model's own and which were copied (see the module docstring).

    Raises:
        OptionError: naming the module or step that cannot be converted, and why.

    MATLAB: the counterpart of ``importNetworkFromPyTorch`` for a model in memory.
    """
    if not isinstance(model, nn.Module):
        raise OptionError(f"dltk.from_torch: expected a torch.nn.Module, got {type(model).__name__}.")
    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as err:  # fx raises many kinds for data-dependent control flow
        raise OptionError(
            f"dltk.from_torch: cannot read the forward of {type(model).__name__} as a chain of layers "
            f"(torch.fx could not trace it: {type(err).__name__}: {err}). Write it as nn.Sequential or as a "
            "forward without data-dependent if/for."
        ) from None
    chain = _Chain(model, input_size)
    cur: fx.Node | None = None
    tuple_of: dict[fx.Node, nn.Module] = {}  # nodes holding an nn.LSTM's (output, (h, c))
    last_lstm: nn.LSTM | None = None
    inputs_seen = False
    for node in graph.nodes:
        what = node.target if node.op != "call_module" else f"module '{node.target}'"
        if node.op == "placeholder":
            if not inputs_seen:
                cur, inputs_seen = node, True
            elif node.users:
                raise OptionError(
                    f"dltk.from_torch: the forward uses a second input '{node.target}'; a chain takes one input."
                )
            continue
        if node.op == "output":
            if node.args[0] is not cur:
                raise OptionError(
                    "dltk.from_torch: the forward does not return the end of the chain (it returns "
                    f"{node.args[0]!r}); return the last layer's output only."
                )
            continue
        if node.op == "get_attr":
            raise OptionError(
                f"dltk.from_torch: the forward reads the parameter '{node.target}' directly; not a chain."
            )
        args = node.args
        if node.op == "call_module":
            if not args or args[0] is not cur or any(isinstance(a, fx.Node) for a in args[1:]):
                raise OptionError(
                    f"dltk.from_torch: {what} does not take the previous step's output alone; not a chain."
                )
            m = model.get_submodule(str(node.target))
            _convert_module(str(node.target), m, chain)
            if isinstance(m, nn.LSTM):
                tuple_of[node], last_lstm = m, m
            cur = node
            continue
        if node.op == "call_function" and node.target is operator.getitem and args[0] in tuple_of:
            if args[1] != 0 and not node.users:
                continue  # ``y, _ = lstm(x)``: the states are unpacked and unused
            if args[1] != 0:
                raise OptionError(
                    f"dltk.from_torch: the forward uses the final states of '{args[0].target}' (index {args[1]}); "
                    "convert the model reading its output sequence (output, _ = lstm(x))."
                )
            if args[0] is not cur:
                raise OptionError("dltk.from_torch: the forward is not a chain.")
            cur = node
            continue
        if args and args[0] is not cur:
            raise OptionError(f"dltk.from_torch: step {what} does not take the previous step's output; not a chain.")
        if node.op == "call_function" and node.target is operator.getitem:
            if chain.kind == "sequence" and last_lstm is not None and _is_last_step(args[1], last_lstm.batch_first):
                chain.recurrent[-1][0].output_mode = "last"
                chain.kind = "feature"
                cur = node
                continue
            raise OptionError(
                f"dltk.from_torch: cannot convert the indexing [{args[1]!r}]; only the last time step of an "
                "LSTM's output (y[:, -1] with batch_first, y[-1] without)."
            )
        if node.op == "call_function" and node.target in _ACTIVATION_FUNCS and len(args) == 1:
            _need_flow(chain, str(node.target))
            chain.layers.append(_layer(_ACTIVATION_FUNCS[node.target]))
        elif node.op == "call_method" and node.target in _ACTIVATION_METHODS and len(args) == 1:
            _need_flow(chain, str(node.target))
            chain.layers.append(_layer(_ACTIVATION_METHODS[node.target]))
        elif node.op == "call_function" and node.target in (torch.softmax, F.softmax):
            _softmax(chain, "softmax", node.kwargs.get("dim", args[1] if len(args) > 1 else None))
        elif (node.op == "call_function" and node.target is torch.flatten) or (
            node.op == "call_method" and node.target == "flatten"
        ):
            start = node.kwargs.get("start_dim", args[1] if len(args) > 1 else 0)
            _flatten(chain, "flatten", start, node.kwargs.get("end_dim", args[2] if len(args) > 2 else -1))
        else:
            raise OptionError(
                f"dltk.from_torch: cannot convert the step {node.op} {getattr(node.target, '__name__', node.target)!r} "
                f"(node '{node.name}'); see dltk.from_torch's docstring for what converts."
            )
        cur = node
    if len(chain.layers) < 2:
        raise OptionError(f"dltk.from_torch: {type(model).__name__} has no layer to convert.")
    net = Network(chain.layers)
    net.shared = chain.shared
    net.copied = chain.copied
    return net
