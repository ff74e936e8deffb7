"""``dltk.diagnose(model, X, y=None)``: what a teacher looks for first, from one recording.

One recorded forward pass (and, with targets ``y``, one backward pass) of any
``torch.nn.Module`` or dltk network gives a table per module (output shape in
both notations, learnables, output statistics) and flags, each with one line on
what to try:

==================  ===========================================================
flag                when
==================  ===========================================================
``nonfinite``       the first NaN/Inf (module, signal, time step, observation)
``swapped_axes``    a recurrent module reads the batch axis as time (``batch_first``)
``padded_last``     right-padded sequences (trailing all-zero steps) go into a
                    recurrent module as a plain tensor: its last step is padding
``saturated``       more than half of a module's gate values are < 0.01 or > 0.99
``forget_closed``   more than half of the LSTM units' forget gates never exceed 0.5
``dead_relu``       a quarter or more of a ReLU's channels are never active
``vanishing``       ‖∂L/∂x_t‖ of a recurrent module's input at the first step < 1e-6 of
                    the largest (over time), or a module's gradient norm < 1e-4 of the
                    largest (over depth)
``exploding``       a gradient norm > 1e3, or non-finite
==================  ===========================================================

Text in a terminal (``print(d)``), an HTML table in a notebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..layouts import describe
from .recording import Recording, record

__all__ = ["Diagnosis", "Flag", "diagnose"]

_RECURRENT = (nn.LSTM, nn.GRU, nn.RNN)
_ADVICE = {
    "nonfinite": "look at that module's input; normalize the data, lower the learning rate or clip gradients",
    "swapped_axes": "pass batch_first=True to the module, or give it (T, B, C) with x.transpose(0, 1)",
    "padded_last": "pack the batch (pack_padded_sequence) or read each sequence's own last step",
    "saturated": "normalize the inputs (zero mean, unit variance) or use smaller initial weights",
    "forget_closed": "initialize the forget-gate bias to 1 (unit forget gate), as MATLAB and Keras do",
    "dead_relu": "lower the learning rate, use LeakyReLU, or check the bias and input scale",
    "vanishing": "use an LSTM/GRU, shorter sequences, normalization or skip connections",
    "exploding": "clip the gradient norm (GradientThreshold), lower the learning rate",
}


@dataclass
class Flag:
    """One finding: ``kind`` (see the module docstring), the module, what was seen and what to try."""

    kind: str
    module: str
    message: str

    @property
    def advice(self) -> str:
        return _ADVICE[self.kind]

    def __str__(self) -> str:
        return f"[{self.kind}] {self.module}: {self.message}. Try: {self.advice}."


@dataclass
class Diagnosis:
    """Result of :func:`diagnose`: ``rows`` (one dict per module), ``flags``, the ``recording``."""

    rows: list[dict[str, Any]]
    flags: list[Flag]
    recording: Recording
    grad_norms: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.flags

    def kinds(self) -> list[str]:
        return [f.kind for f in self.flags]

    def __str__(self) -> str:
        lines = [f"{'module':24s} {'type':18s} {'output':22s} {'learnables':>10s}  mean / std / min / max"]
        for r in self.rows:
            stats = " / ".join(f"{v:.3g}" for v in r["stats"]) if r["stats"] else "—"
            lines.append(f"{r['name']:24s} {r['type']:18s} {r['shape']:22s} {r['learnables']:>10,}  {stats}")
        lines.append("")
        lines += [str(f) for f in self.flags] or ["No problems found."]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(r['name'])}</td><td>{escape(r['type'])}</td><td>{escape(r['shape'])}</td>"
            f"<td>{r['learnables']:,}</td><td>{escape(' / '.join(f'{v:.3g}' for v in r['stats']) or '—')}</td></tr>"
            for r in self.rows
        )
        flags = "".join(
            f"<li><b>{escape(f.kind)}</b> {escape(f.module)}: {escape(f.message)}. <i>Try:</i> {escape(f.advice)}.</li>"
            for f in self.flags
        )
        return (
            "<table><tr><th>module</th><th>type</th><th>output</th><th>learnables</th>"
            "<th>mean / std / min / max</th></tr>"
            + rows
            + "</table>"
            + (f"<ul>{flags}</ul>" if flags else "<p>No problems found.</p>")
        )


def _right_padded(x: torch.Tensor, batch_first: bool) -> bool:
    """Some but not all sequences end in all-zero steps (right padding)."""
    xb = x if batch_first else x.transpose(0, 1)  # (B, T, C)
    if xb.dim() != 3 or xb.shape[1] < 2:
        return False
    zero_last = (xb[:, -1] == 0).all(-1)
    return bool(zero_last.any()) and not bool(zero_last.all())


def diagnose(model: nn.Module, X: Any, y: Any = None, *, loss: Any = None) -> Diagnosis:
    """Record ``model`` on ``X`` (and back-propagate a loss when ``y`` is given) and flag what looks wrong.

    Args:
        model: any ``torch.nn.Module`` (a student's model, a dltk network).
        X: the input (one tensor, or a tuple of the forward's arguments).
        y: targets: class indices (cross-entropy) or values like the output (MSE); then the gradient
            checks run too.
        loss: a function ``loss(output, y) -> scalar`` instead of the default.

    Returns:
        A :class:`Diagnosis` (print it, or show it in a notebook).
    """
    inputs = X if isinstance(X, tuple) else (X,)
    if y is not None:  # the gradient over time reaches the inputs of the recurrent modules
        inputs = tuple(
            x.detach().clone().requires_grad_(True) if isinstance(x, torch.Tensor) and x.is_floating_point() else x
            for x in inputs
        )
    seen: dict[str, tuple] = {}
    names = {id(m): n for n, m in model.named_modules()}
    handles = [
        m.register_forward_pre_hook(lambda mod, args: seen.setdefault(names[id(mod)], args))
        for m in model.modules()
        if isinstance(m, _RECURRENT)
    ]
    try:
        rec = record(model, *inputs, keep_graph=y is not None)
    finally:
        for h in handles:
            h.remove()
    flags: list[Flag] = []
    bad = rec.first_nonfinite()
    if bad is not None:
        flags.append(Flag("nonfinite", bad.layer, f"first NaN/Inf in signal '{bad.signal}' ({bad})"))
    B = inputs[0].shape[0] if isinstance(inputs[0], torch.Tensor) and inputs[0].dim() else None
    for name, args in seen.items():
        m = model.get_submodule(name) if name else model
        x = args[0] if args else None
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            continue
        t_axis, b_axis = (1, 0) if m.batch_first else (0, 1)
        if B is not None and x.shape[t_axis] == B and x.shape[b_axis] != B:
            flags.append(
                Flag(
                    "swapped_axes",
                    name,
                    f"input {tuple(x.shape)} with batch_first={m.batch_first}: it reads the {B} observations as "
                    f"{B} time steps and the {x.shape[b_axis]} time steps as observations",
                )
            )
        elif _right_padded(x, m.batch_first):
            flags.append(
                Flag("padded_last", name, "some sequences end in all-zero (padding) steps, given as a plain tensor")
            )
    for lname in rec.layers:
        sigs = rec[lname]
        gates = [s for s in sigs if s.split("_l")[0] in ("input_gate", "forget_gate", "output_gate", "reset_gate",
                                                          "update_gate")]  # fmt: skip
        if gates:
            vals = torch.cat([sigs[s].detach().reshape(-1) for s in gates])
            frac = float(((vals < 0.01) | (vals > 0.99)).to(torch.float32).mean())
            if frac > 0.5:
                flags.append(
                    Flag("saturated", lname, f"{100 * frac:.0f}% of the gate values are below 0.01 or above 0.99")
                )
        for s in [s for s in sigs if s.startswith("forget_gate")]:
            f = sigs[s].detach()
            never = float((f.reshape(-1, f.shape[-1]).amax(0) <= 0.5).to(torch.float32).mean())
            if never > 0.5:
                flags.append(
                    Flag("forget_closed", lname, f"{s}: {100 * never:.0f}% of the units never open beyond 0.5")
                )
        if "active" in sigs:
            a = sigs["active"]
            per_channel = a.transpose(0, 1).reshape(a.shape[1], -1).any(1) if a.dim() > 1 else a
            dead = 1 - float(per_channel.to(torch.float32).mean())
            if dead >= 0.25:
                flags.append(Flag("dead_relu", lname, f"{100 * dead:.0f}% of the units are never active on this batch"))
    grad_norms: dict[str, float] = {}
    if y is not None:
        grad_norms = _gradient_checks(model, rec, y, loss, flags, seen)
    rows = []
    for lname in rec.layers:
        sigs = rec[lname]
        out = sigs["output"] if "output" in sigs else None
        mod = _module(model, lname)
        n = sum(p.numel() for p in mod.parameters(recurse=False)) if mod is not None else 0
        if isinstance(mod, _RECURRENT):
            n = sum(p.numel() for p in mod.parameters())
        stats: tuple = ()
        shape = "—"
        if isinstance(out, torch.Tensor):
            shape = describe(tuple(out.shape), sigs.layouts.get("output")) if out.dim() else "()"
            if out.is_floating_point() and out.numel():
                o = out.detach().double()
                stats = (float(o.mean()), float(o.std()) if o.numel() > 1 else 0.0, float(o.min()), float(o.max()))
        rows.append({"name": lname, "type": rec.kinds.get(lname, ""), "shape": shape, "learnables": n, "stats": stats})
    return Diagnosis(rows, flags, rec, grad_norms)


def _module(model: nn.Module, name: str) -> nn.Module | None:
    for n, m in model.named_modules():
        if n == name or getattr(m, "label", None) == name:
            return m
    return None


def _gradient_checks(
    model: nn.Module, rec: Recording, y: Any, loss: Any, flags: list[Flag], seen: dict[str, tuple]
) -> dict[str, float]:
    out = rec.output[0] if isinstance(rec.output, tuple) else rec.output
    y = torch.as_tensor(y)
    if loss is not None:
        L = loss(out, y)
    elif not y.is_floating_point() and out.dim() >= 2 and y.shape == out.shape[:1] + out.shape[2:]:
        L = F.cross_entropy(out, y)
    else:
        L = F.mse_loss(out, y.to(out.dtype).reshape(out.shape))
    tracked = {}  # the input x of each recurrent module: ∂L/∂x_t flows back through the recurrence
    for lname, args in seen.items():
        x = args[0] if args else None
        mod = _module(model, lname)
        if isinstance(x, torch.Tensor) and x.requires_grad and x.dim() == 3:
            tracked[lname] = (x, mod.batch_first)
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    grads = torch.autograd.grad(
        L, [o for o, _ in tracked.values()] + list(params.values()), allow_unused=True, retain_graph=False
    )
    norms: dict[str, float] = {}
    for (lname, (_, bf)), g in zip(tracked.items(), grads[: len(tracked)]):
        if g is None:
            continue
        per_t = (g.transpose(0, 1) if bf else g).reshape(g.shape[1 if bf else 0], -1).norm(dim=1)
        first, top = float(per_t[0]), float(per_t.max())
        if top > 0 and first < 1e-6 * top:
            flags.append(
                Flag(
                    "vanishing", lname, f"‖∂L/∂x_t‖ at the first step is {first:.2e}, {first / top:.1e} of the largest"
                )
            )
    by_module: dict[str, float] = {}
    for (pname, _), g in zip(params.items(), grads[len(tracked) :]):
        if g is None:
            continue
        mname = pname.rsplit(".", 1)[0] if "." in pname else ""
        by_module[mname] = math.sqrt(by_module.get(mname, 0.0) ** 2 + float(g.double().norm()) ** 2)
    for mname, v in by_module.items():
        norms[mname] = v
        if not math.isfinite(v) or v > 1e3:
            flags.append(Flag("exploding", mname or "(model)", f"gradient norm {v:.3g}"))
    finite = [v for v in by_module.values() if math.isfinite(v)]
    if finite and max(finite) > 0:
        top = max(finite)
        for mname, v in by_module.items():
            if math.isfinite(v) and v < 1e-4 * top:
                flags.append(
                    Flag("vanishing", mname or "(model)", f"gradient norm {v:.2e}, {v / top:.1e} of the largest")
                )
    return norms
