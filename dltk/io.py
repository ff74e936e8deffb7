"""``dltk.save`` / ``dltk.load``: networks on disk, without unrestricted pickle.

A ``.dltk`` file is a zip archive with two members:

* ``network.json`` — format name and version, the layers in order (class as
  ``module:QualName``, constructor arguments as recorded by
  :meth:`Layer.init_config`, name, class names of output layers, which
  recurrent states are set), the connections, the parameter dtype;
* ``tensors.pt`` — a flat ``{key: Tensor}`` dict written with ``torch.save``
  and read back with ``torch.load(weights_only=True)`` (tensors only, no code):
  the state dict (weights, normalization statistics and other buffers),
  tensor-valued constructor arguments and recurrent states.

Loading imports layer classes only from ``dltk`` itself or from modules
already imported (your own custom layers: import them first), and only
subclasses of :class:`dltk.layers.Layer`. The round trip is bit-exact.
MATLAB equivalent: ``save("net.mat", "net")`` / ``load("net.mat")``.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import DataError, NetworkError

__all__ = ["load", "save"]

FORMAT = "dltk-network"
VERSION = 1


# ------------------------------------------------------------------ encoding
class _Encoder:
    def __init__(self, tensors: dict[str, torch.Tensor], where: str) -> None:
        self.tensors = tensors
        self.where = where

    def __call__(self, v: Any, key: str) -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            f = float(v)
            return f if math.isfinite(f) else {"__float__": repr(f)}
        if isinstance(v, (torch.Tensor, np.ndarray)):
            self.tensors[f"config/{key}"] = torch.as_tensor(v).detach().cpu().clone()
            return {"__tensor__": f"config/{key}"}
        if isinstance(v, tuple):
            return {"__tuple__": [self(x, f"{key}.{i}") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self(x, f"{key}.{i}") for i, x in enumerate(v)]
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {"__dict__": {k: self(x, f"{key}.{k}") for k, x in v.items()}}
        raise NetworkError(
            f"{self.where}: cannot save option {key!r} of type {type(v).__name__} (only numbers, text, arrays and "
            "lists of them can be stored safely). Build the layer with a named option instead of a Python object."
        )


def _decode(v: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(v, list):
        return [_decode(x, tensors) for x in v]
    if isinstance(v, dict):
        if "__float__" in v:
            return float(v["__float__"])
        if "__tensor__" in v:
            return tensors[v["__tensor__"]]
        if "__tuple__" in v:
            return tuple(_decode(x, tensors) for x in v["__tuple__"])
        if "__dict__" in v:
            return {k: _decode(x, tensors) for k, x in v["__dict__"].items()}
        raise DataError(f"dltk.load: unknown value encoding {sorted(v)}.")
    return v


def _config(layer: Any, i: int, enc: _Encoder) -> tuple[Any, Any]:
    import inspect

    args, kwargs = layer.init_config()
    sig = inspect.signature(type(layer).__init__)
    try:
        bound = sig.bind(layer, *args, **kwargs)
        params = sig.parameters
    except TypeError:
        bound, params = None, {}
    out_args, out_kwargs = [], {}
    items = list(bound.arguments.items())[1:] if bound else [(str(j), a) for j, a in enumerate(args)]
    for pname, value in items:
        p = params.get(pname)
        if callable(value) and not isinstance(value, (torch.Tensor, np.ndarray)):
            if "initializer" in pname:
                continue  # the stored weights replace what the initializer drew
            raise NetworkError(
                f"dltk.save: layer '{layer.label}' was built with the Python function {pname}={value!r}; "
                "functions cannot be stored safely."
            )
        encoded = enc(value, f"{i}.{pname}")
        if p is not None and p.kind == p.VAR_POSITIONAL:
            out_args.extend(encoded if isinstance(encoded, list) else encoded["__tuple__"])
        elif p is not None and p.kind == p.VAR_KEYWORD:
            out_kwargs.update(encoded["__dict__"] if isinstance(encoded, dict) else encoded)
        elif p is not None and p.kind == p.POSITIONAL_ONLY:
            out_args.append(encoded)
        else:
            out_kwargs[pname] = encoded
    return out_args, out_kwargs


# --------------------------------------------------------------------- save
def save(net: Any, path: str | Path) -> Path:
    """Save a network (architecture, weights, statistics, classes, recurrent state) to ``path``.

    Args:
        net: a :class:`dltk.Network`.
        path: file name; ``.dltk`` is appended when there is no suffix.

    Returns:
        The path written.

    Example:
        >>> dltk.save(net, "vowels.dltk")
        >>> net2 = dltk.load("vowels.dltk")
    """
    from .network import Network

    if not isinstance(net, Network):
        raise NetworkError(f"dltk.save: expected a dltk.Network, got {type(net).__name__}.")
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".dltk")
    tensors: dict[str, torch.Tensor] = {}
    enc = _Encoder(tensors, "dltk.save")
    layers = []
    for i, lay in enumerate(net.layers):
        cls = type(lay)
        args, kwargs = _config(lay, i, enc)
        entry: dict[str, Any] = {
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "name": lay.name,
            "args": args,
            "kwargs": kwargs,
        }
        classes = getattr(lay, "classes", None) if lay.is_output_layer else None
        if classes is not None and not isinstance(classes, str):
            entry["classes"] = [str(c) for c in classes]
            entry["class_kind"] = getattr(lay, "_dltk_class_kind", "str")
        if lay.is_recurrent:
            for attr in ("hidden_state", "cell_state"):
                s = getattr(lay, attr, None)
                if isinstance(s, torch.Tensor):
                    tensors[f"state/{lay.name}/{attr}"] = s.detach().cpu().clone()
        layers.append(entry)
    for k, v in net.state_dict().items():
        tensors[f"sd/{k}"] = v.detach().cpu().clone()
    dtypes = {str(p.dtype) for p in net.parameters() if p.is_floating_point()}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "layers": layers,
        "connections": [list(c) for c in net.connections],
        "dtype": dtypes.pop() if len(dtypes) == 1 else None,
        "torch": torch.__version__,
    }
    buf = io.BytesIO()
    torch.save(tensors, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("network.json", json.dumps(meta, indent=1))
        z.writestr("tensors.pt", buf.getvalue())
    return path


# --------------------------------------------------------------------- load
def _layer_class(spec: str, path: Path) -> type:
    from .layers.base import Layer

    mod_name, _, qual = spec.partition(":")
    if mod_name == "dltk" or mod_name.startswith("dltk."):
        mod = importlib.import_module(mod_name)
    elif mod_name in sys.modules:
        mod = sys.modules[mod_name]
    else:
        raise DataError(
            f"dltk.load: {path} uses the layer class {qual} from module {mod_name!r}, which is not imported. "
            f"Import (or define) it first, then load again."
        )
    obj: Any = mod
    for part in qual.split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and issubclass(obj, Layer)):
        raise DataError(f"dltk.load: {path}: {spec!r} is not a dltk layer class.")
    return obj


def _read(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    bad = f"dltk.load: {path} is not a dltk network file (made by dltk.save)"
    if not path.is_file():
        raise FileNotFoundError(f"dltk.load: no file {path}.")
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("network.json").decode("utf-8"))
            raw = z.read("tensors.pt")
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError, OSError) as e:
        raise DataError(f"{bad}: {type(e).__name__}: {e}.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{bad}: missing the '{FORMAT}' header.")
    if int(meta.get("version", 0)) > VERSION:
        raise DataError(
            f"dltk.load: {path} was written by a newer dltk (format version {meta['version']}); upgrade dltk."
        )
    try:
        tensors = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unpickling problem means a corrupt or foreign file
        raise DataError(f"{bad}: the tensor data cannot be read ({type(e).__name__}: {e}).") from None
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        raise DataError(f"{bad}: the tensor data is not a dict of tensors.")
    return meta, tensors


def load(path: str | Path) -> Any:
    """Load a network saved with :func:`dltk.save` (bit-exact weights, eval mode).

    Raises:
        DataError: the file is corrupt, foreign, or needs a layer class that is not available.
    """
    from .network import LayerGraph, Network

    path = Path(path)
    meta, tensors = _read(path)
    try:
        layers = []
        for entry in meta["layers"]:
            cls = _layer_class(entry["class"], path)
            lay = cls(*_decode(entry["args"], tensors), **{k: _decode(v, tensors) for k, v in entry["kwargs"].items()})
            lay.name = entry["name"]
            if "classes" in entry:
                lay.classes = entry["classes"]
                lay._dltk_class_kind = entry.get("class_kind", "str")
            layers.append(lay)
        net = Network(LayerGraph(layers, [tuple(c) for c in meta["connections"]]))
    except (KeyError, TypeError) as e:
        raise DataError(f"dltk.load: {path} has an invalid network description ({type(e).__name__}: {e}).") from None
    if meta.get("dtype"):
        net.to(getattr(torch, meta["dtype"].replace("torch.", "")))
    state = {k[3:]: v for k, v in tensors.items() if k.startswith("sd/")}
    own = net.state_dict()
    for key, value in state.items():
        if key not in own:  # a buffer that is None in a fresh layer (e.g. normalization statistics)
            mod_path, _, bname = key.rpartition(".")
            mod = net.get_submodule(mod_path) if mod_path else net
            if bname in getattr(mod, "_buffers", {}):
                mod._buffers[bname] = value.clone()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise DataError(f"dltk.load: {path}: the stored weights do not fit the architecture ({e}).") from None
    for lay in net.layers:
        for attr in ("hidden_state", "cell_state"):
            key = f"state/{lay.name}/{attr}"
            if key in tensors:
                setattr(lay, attr, tensors[key].clone())
    net.eval()
    return net
