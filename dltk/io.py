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

import contextlib
import importlib
import io
import json
import math
import os
import re
import sys
import tempfile
import weakref
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

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

    The file is written to a temporary file in the same folder and renamed
    over ``path`` only when complete (atomic on POSIX and Windows): a failed
    or interrupted save (disk full, Ctrl-C) leaves an existing file untouched.

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
    _write_atomic(path, json.dumps(meta, indent=1), buf.getvalue())
    return path


def _write_atomic(path: Path, network_json: str, tensors_pt: bytes) -> None:
    """Write the archive to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr("network.json", network_json)
                # stored, not compressed: weights barely compress, and a loader can then trust sizes 1:1
                z.writestr("tensors.pt", tensors_pt, compress_type=zipfile.ZIP_STORED)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
            os.chmod(tmp, mode)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:  # disk full, Ctrl-C, anything: the previous file stays as it was
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------- load
#: the largest ``network.json`` accepted (a network of 1,000 layers needs well under 1 MB)
MAX_JSON_BYTES = 8 * 2**20
#: the deepest nesting of ``network.json`` accepted (dltk.save writes about 8 levels)
MAX_JSON_DEPTH = 64
#: the largest expansion of a compressed member (files written before tensors were stored uncompressed)
MAX_RATIO = 20
#: memory that building the described network may use beyond ``BUILD_FACTOR`` × its stored tensor bytes
BUILD_SLACK = 64 * 2**20
BUILD_FACTOR = 4
_DTYPES = {f"torch.{n}": getattr(torch, n) for n in ("float16", "bfloat16", "float32", "float64")}


def _layer_class(spec: Any, where: str) -> type:
    from .layers.base import Layer

    if not isinstance(spec, str) or ":" not in spec:
        raise DataError(f"{where}: the layer class must be written 'module:Class', got {_short(spec)}.")
    mod_name, _, qual = spec.partition(":")
    if mod_name == "dltk" or mod_name.startswith("dltk."):
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            raise DataError(
                f"{where}: the layer class {qual} needs the module {mod_name!r}, which dltk does not have "
                "(a file from another dltk version, or a corrupt file)."
            ) from None
    elif mod_name in sys.modules:
        mod = sys.modules[mod_name]
    else:
        raise DataError(
            f"{where} uses the layer class {qual} from module {mod_name!r}, which is not imported. "
            f"Import (or define) it first, then load again."
        )
    obj: Any = mod
    for part in qual.split("."):
        obj = getattr(obj, part, None) if not part.startswith("__") else None
    if not (isinstance(obj, type) and issubclass(obj, Layer)):
        raise DataError(f"{where}: {spec!r} is not a dltk layer class.")
    return obj


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _decode(v: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """The value ``_Encoder`` wrote; anything else in the file is a DataError."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return [_decode(x, tensors, where) for x in v]
    if isinstance(v, dict) and len(v) == 1:
        ((tag, x),) = v.items()
        if tag == "__float__" and x in ("nan", "inf", "-inf"):
            return float(x)
        if tag == "__tensor__" and isinstance(x, str):
            if x not in tensors:
                raise DataError(f"{where}: the option tensor {x!r} is missing from the tensor data.")
            return tensors[x]
        if tag == "__tuple__" and isinstance(x, list):
            return tuple(_decode(y, tensors, where) for y in x)
        if tag == "__dict__" and isinstance(x, dict):
            return {k: _decode(y, tensors, where) for k, y in x.items()}
    raise DataError(f"{where}: an option value is not one dltk.save writes: {_short(v)}.")


def _json_depth(text: str) -> int:
    """Deepest nesting of ``[`` / ``{`` outside strings (checked before parsing)."""
    depth = deepest = 0
    for ch in re.sub(r'"(?:[^"\\]|\\.)*"', '""', text):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _member(z: zipfile.ZipFile, name: str, limit: int, bad: str) -> bytes:
    """Read one archive member after checking its declared sizes against the file and ``limit``."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise DataError(f"{bad}: it has no '{name}'.") from None
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DataError(f"{bad}: '{name}' uses a compression dltk.save never writes.")
    if info.file_size > limit:
        raise DataError(
            f"{bad}: '{name}' declares {_mb(info.file_size)}, over the load limit of {_mb(limit)}. If you trust "
            f"this file, load it with dltk.load(path, max_mb=...) or set DLTK_LOAD_LIMIT_MB."
        )
    if info.file_size > MAX_RATIO * info.compress_size + 2**20:
        raise DataError(
            f"{bad}: '{name}' would expand from {_mb(info.compress_size)} to {_mb(info.file_size)} "
            "(a zip bomb or a corrupt file)."
        )
    with z.open(info) as f:  # zipfile never returns more than the declared size
        data = f.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise DataError(f"{bad}: '{name}' holds {len(data):,} bytes, not the {info.file_size:,} it declares.")
    return data


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB" if n >= 2**20 else f"{n / 2**10:,.1f} KB" if n >= 2**10 else f"{n} bytes"


def _check_tensor_archive(raw: bytes, bad: str) -> None:
    """tensors.pt is torch's zip format with stored records that fit in it (checked before torch.load)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as inner:
            infos = inner.infolist()
    except zipfile.BadZipFile:
        raise DataError(f"{bad}: the tensor data is not in the format dltk.save writes.") from None
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos) or sum(i.file_size for i in infos) > len(raw):
        raise DataError(f"{bad}: the tensor data declares records that do not fit in it (a corrupt or hostile file).")


def _check_tensors(tensors: Any, raw_size: int, bad: str) -> dict[str, torch.Tensor]:
    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
    ):
        raise DataError(f"{bad}: the tensor data is not a dict of tensors.")
    total = 0
    for k, t in tensors.items():
        if t.layout != torch.strided or t.is_quantized or t.requires_grad:
            raise DataError(f"{bad}: tensor {k!r} is not a plain dense tensor.")
        nbytes = t.numel() * t.element_size()
        held = t.untyped_storage().nbytes()
        if any(s == 0 and n > 1 for s, n in zip(t.stride(), t.shape)) or nbytes > held:
            raise DataError(
                f"{bad}: tensor {k!r} of shape {tuple(t.shape)} is an expanded view of {_mb(held)} "
                "(dltk.save never writes one; it would take far more memory than the file holds)."
            )
        total += nbytes
    if total > raw_size:
        raise DataError(
            f"{bad}: its tensors declare {_mb(total)}, more than the {_mb(raw_size)} of tensor data it holds."
        )
    return tensors


def _read(path: Path, limit: int) -> tuple[dict[str, Any], dict[str, torch.Tensor], int]:
    bad = f"dltk.load: {path} is not a dltk network file (made by dltk.save)"
    if not path.is_file():
        raise FileNotFoundError(f"dltk.load: no file {path}.")
    try:
        with zipfile.ZipFile(path) as z:
            text = _member(z, "network.json", min(limit, MAX_JSON_BYTES), bad).decode("utf-8")
            if _json_depth(text) > MAX_JSON_DEPTH:
                raise DataError(f"{bad}: network.json is nested deeper than {MAX_JSON_DEPTH} levels.")
            meta = json.loads(text)
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise DataError(f"{bad}: missing the '{FORMAT}' header.")
            version = meta.get("version")
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise DataError(f"{bad}: its format version is {_short(version)}, not a whole number from 1.")
            if version > VERSION:
                raise DataError(
                    f"dltk.load: {path} was written by a newer dltk (format version {version}); upgrade dltk."
                )
            raw = _member(z, "tensors.pt", limit, bad)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile/zlib/json/unicode errors on a damaged file: all mean the same
        raise DataError(f"{bad}: {type(e).__name__}: {e}.") from None
    _check_tensor_archive(raw, bad)
    try:
        tensors = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unpickling problem means a corrupt or foreign file
        raise DataError(f"{bad}: the tensor data cannot be read ({type(e).__name__}: {e}).") from None
    return meta, _check_tensors(tensors, len(raw), bad), len(raw)


def _entries(meta: dict[str, Any], where: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The layer entries and connections, with every field's type checked."""
    layers, conns = meta.get("layers"), meta.get("connections")
    if not isinstance(layers, list) or not layers:
        raise DataError(f"{where}: 'layers' must be a non-empty list, got {_short(layers)}.")
    for i, e in enumerate(layers):
        ok = (
            isinstance(e, dict)
            and isinstance(e.get("class"), str)
            and isinstance(e.get("name"), str)
            and isinstance(e.get("args", []), list)
            and isinstance(e.get("kwargs", {}), dict)
            and (
                "classes" not in e or (isinstance(e["classes"], list) and all(isinstance(c, str) for c in e["classes"]))
            )
            and isinstance(e.get("class_kind", "str"), str)
        )
        if not ok:
            raise DataError(f"{where}: layer entry {i + 1} is malformed: {_short(e)}.")
    if not isinstance(conns, list) or not all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(s, str) for s in c) for c in conns
    ):
        raise DataError(f"{where}: 'connections' must be a list of [source, destination] names.")
    dtype = meta.get("dtype")
    if dtype is not None and dtype not in _DTYPES:
        raise DataError(f"{where}: unknown parameter dtype {_short(dtype)}.")
    return layers, [tuple(c) for c in conns]


def load(path: str | Path, *, max_mb: float | None = None) -> Any:
    """Load a network saved with :func:`dltk.save` (bit-exact weights, eval mode).

    A load never runs code from the file (tensors are read with
    ``torch.load(weights_only=True)``, layer classes come only from dltk or
    modules you imported) and its memory is bounded: every size the file
    declares is checked against the bytes it really holds and against a
    limit *before* anything is read or allocated; building the network it
    describes may use at most 64 MB plus 4× its tensor data.

    Args:
        path: the file.
        max_mb: the most tensor data (MB) to accept. Default
            ``dltk.config.load_limit_bytes`` (1024 MB, ``DLTK_LOAD_LIMIT_MB``).
            Given explicitly, it is also the memory building the network may use
            (for a file you trust that describes large activations).

    Raises:
        DataError: the file is corrupt, foreign, over a limit, or needs a layer class that is not available.
    """
    from ._config import config, mb_to_bytes

    limit = mb_to_bytes(max_mb, "dltk.load", "max_mb", config.load_limit_bytes)
    path = Path(path)
    meta, tensors, raw_size = _read(path, limit)
    where = f"dltk.load: {path}"
    budget = limit if max_mb is not None else min(limit, BUILD_SLACK + BUILD_FACTOR * raw_size)
    try:
        with _AllocationGuard(budget, where, raw_size):
            return _build(meta, tensors, where)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a malformed description makes a layer raise
        raise DataError(f"{where} has an invalid network description ({type(e).__name__}: {e}).") from None


def _build(meta: dict[str, Any], tensors: dict[str, torch.Tensor], where: str) -> Any:
    from .network import LayerGraph, Network

    entries, conns = _entries(meta, where)
    layers = []
    for i, entry in enumerate(entries):
        cls = _layer_class(entry["class"], where)
        at = f"{where}: layer {i + 1} ({cls.__name__} '{entry['name']}')"
        args = _decode(entry.get("args", []), tensors, at)
        kwargs = {k: _decode(v, tensors, at) for k, v in entry.get("kwargs", {}).items()}
        try:
            lay = cls(*args, **kwargs)
        except DataError:
            raise
        except Exception as e:  # noqa: BLE001 - OptionError, TypeError … from options the file got wrong
            raise DataError(f"{at} cannot be built from the stored options ({type(e).__name__}: {e}).") from None
        lay.name = entry["name"]
        if "classes" in entry:
            lay.classes = entry["classes"]
            lay._dltk_class_kind = entry.get("class_kind", "str")
        layers.append(lay)
    try:
        net = Network(LayerGraph(layers, conns))
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{where}: the stored layers do not form a network ({type(e).__name__}: {e}).") from None
    if meta.get("dtype"):
        net.to(_DTYPES[meta["dtype"]])
    state = {k[3:]: v for k, v in tensors.items() if k.startswith("sd/")}
    own = net.state_dict()
    for key, value in state.items():
        if key not in own:  # a buffer that is None in a fresh layer (e.g. normalization statistics)
            mod_path, _, bname = key.rpartition(".")
            try:
                mod = net.get_submodule(mod_path) if mod_path else net
            except AttributeError:
                continue  # load_state_dict below names the unexpected key
            if bname in getattr(mod, "_buffers", {}):
                mod._buffers[bname] = value.clone()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise DataError(f"{where}: the stored weights do not fit the architecture ({e}).") from None
    for lay in net.layers:
        for attr in ("hidden_state", "cell_state"):
            key = f"state/{lay.name}/{attr}"
            if key in tensors:
                setattr(lay, attr, tensors[key].clone())
    net.eval()
    return net


# ----------------------------------------------------------- allocation guard
class _AllocationGuard(TorchDispatchMode):
    """Refuse, before it happens, any tensor allocation that takes live memory over ``budget`` bytes.

    Every tensor operation run while building a loaded network passes here
    (also those a C++ kernel calls through the dispatcher). Its output sizes
    are first computed on the ``meta`` device (no data); an output that would
    take the memory held by the tensors created so far (and still alive) over
    the budget raises :class:`DataError` before the real operation runs. Ops
    without a meta kernel are run and charged afterwards.
    """

    def __init__(self, budget: int, where: str, raw_size: int) -> None:
        super().__init__()
        self.budget, self.where, self.raw_size = budget, where, raw_size
        self.live = 0
        self.peak = 0

    def _charge(self, nbytes: int) -> None:
        if self.live + nbytes > self.budget:
            raise DataError(
                f"{self.where}: building the network it describes needs more than {_mb(self.budget)} "
                f"(an operation asks for {_mb(nbytes)} while the file holds {_mb(self.raw_size)} of tensors): "
                "layer sizes that do not match the stored weights, from a corrupt or hostile file. If you trust "
                "this file, load it with dltk.load(path, max_mb=...)."
            )

    def _track(self, out: Any, fresh: list[bool]) -> None:
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for t, f in zip(outs, fresh):
            if f and isinstance(t, torch.Tensor) and t.layout == torch.strided:
                n = t.numel() * t.element_size()
                self.live += n
                self.peak = max(self.peak, self.live)
                weakref.finalize(t, self._free, n)

    def _free(self, n: int) -> None:
        self.live -= n

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        fresh = [r.alias_info is None for r in func._schema.returns]
        if not any(fresh):
            return func(*args, **kwargs)
        need = _meta_bytes(func, args, kwargs, fresh)
        if need is not None:
            self._charge(need)
        out = func(*args, **kwargs)
        if need is None:
            outs = out if isinstance(out, (tuple, list)) else (out,)
            self._charge(
                sum(t.numel() * t.element_size() for t, f in zip(outs, fresh) if f and isinstance(t, torch.Tensor))
            )
        self._track(out, fresh)
        return out


def _nbytes(t: Any) -> int:
    return t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 0


def _meta_bytes(func: Any, args: Any, kwargs: dict[str, Any], fresh: list[bool]) -> int | None:
    """Bytes of the fresh outputs of ``func(*args, **kwargs)``, computed on the meta device (None if it cannot)."""

    def to_meta(x: Any) -> Any:
        if isinstance(x, torch.Tensor) and x.layout == torch.strided:
            return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device="meta")
        return x

    try:
        margs, mkwargs = tree_map(to_meta, (args, kwargs))
        if any(a.name == "device" for a in func._schema.arguments):
            mkwargs["device"] = torch.device("meta")
        mkwargs.pop("generator", None)
        mkwargs.pop("pin_memory", None)
        out = func(*margs, **mkwargs)
    except Exception:  # noqa: BLE001 - no meta kernel, or data-dependent: charge after running
        return None
    outs = out if isinstance(out, (tuple, list)) else (out,)
    if not all(isinstance(t, torch.Tensor) and t.device.type == "meta" for t, f in zip(outs, fresh) if f):
        return None
    return sum(t.numel() * t.element_size() for t, f in zip(outs, fresh) if f)
