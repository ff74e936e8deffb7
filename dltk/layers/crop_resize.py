"""Cropping and resizing layers: ``crop2dLayer``, ``crop3dLayer``, ``resize2dLayer``, ``resize3dLayer``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import OptionError
from ..options import choice, flag, int_tuple
from . import _spatial as sp
from .base import Layer, _by_rank

__all__ = ["Crop2d", "Crop3d", "Resize2d", "Resize3d"]


class Crop2d(Layer):
    r"""2-D crop: cut the input down to the height and width of a reference.

    MATLAB: ``crop2dLayer('centercrop')`` or ``crop2dLayer([x y])``; inputs
    ``'in'`` (map to crop) and ``'ref'`` (reference size).

    Math:
        y_{b,c,i,j} = x_{b,c,\,i + o_h,\; j + o_w}, \quad 0 \le i < h,\ 0 \le j < w

    where :math:`h, w` are the reference's height and width and
    :math:`(o_h, o_w)` the 0-based offset of the crop window: for
    ``'centercrop'`` :math:`o = \lfloor (H - h)/2 \rfloor` per axis (when the
    size difference is odd the window sits half a pixel up/left of centre: the
    extra row is dropped at the bottom, the extra column at the right); for a
    location ``[x y]`` (MATLAB 1-based upper-left corner, x along the width)
    :math:`o_w = x - 1`, :math:`o_h = y - 1`.

    Args:
        location: ``'centercrop'`` or ``[x y]`` (MATLAB ``mode`` / ``Location``). Default: ``'centercrop'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ``in`` (B, C, H, W), ``ref`` (B, C', h, w) -> (B, C, h, w); MATLAB
        SSCB -> SSCB, channels of ``'in'`` kept. Image sequences (B, T, C, H, W) too.

    Learnables: none.

    Signals:
        ``location`` (2,) int64: the window's MATLAB 1-based upper-left corner ``[x y]``.

    Example:
        >>> crop = dltk.crop2dLayer("centercrop")
        >>> crop(torch.randn(1, 3, 8, 8), torch.randn(1, 1, 5, 6)).shape
        torch.Size([1, 3, 5, 6])

    MATLAB: crop2dLayer(location, Name=Value)
    """

    n: ClassVar[int] = 2
    layouts: ClassVar[tuple[str, ...]] = ("BCHW", "BTCHW")
    signals = ("location",)
    signal_docs = {"location": "MATLAB 1-based upper-left corner of the crop window [x y] ([x y z] in 3-D), int64"}
    matlab_name = "crop2dLayer"
    type_name = "Crop 2D"
    name_prefix = "crop"
    torch_equivalent = "tensor slicing x[..., o_h:o_h+h, o_w:o_w+w]"
    matlab_positional = ("location",)

    def __init__(self, location: Any = "centercrop", *, name: str = "") -> None:
        super().__init__(name)
        if isinstance(location, str):
            self.location: str | tuple[int, ...] = choice(self.matlab_name, "mode", location, ("centercrop",))
        else:
            self.location = int_tuple(self.matlab_name, "Location", location, self.n)

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("in", "ref")

    @property
    def Mode(self) -> str:
        return "centercrop" if self.location == "centercrop" else "custom"

    @property
    def Location(self) -> Any:
        return "auto" if self.location == "centercrop" else list(self.location)

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return input_layouts[0] if input_layouts and input_layouts[0] in self.layouts else self.layouts[0]

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        self._check_input(x, self.layouts)
        big, small = x.shape[-self.n :], _check_ref(self, ref)[-self.n :]  # torch order
        memo = self.__dict__.get("_window")  # (big, small, location, index) of the last call
        if memo is not None and memo[0] == big and memo[1] == small and memo[2] == self.location:
            if self._recorder is None:
                return x[memo[3]]
        if self.location == "centercrop":
            offset = [(b - s) // 2 for b, s in zip(big, small)]
        else:
            offset = [v - 1 for v in sp.to_torch_order(self._xyz_to_matlab(self.location))]
        if any(o < 0 or o + s > b for o, s, b in zip(offset, small, big)):
            raise self._fail(
                f"a map that holds the {sp.times(sp.to_matlab_order(small))} window of 'ref' at "
                f"{'the centre' if self.location == 'centercrop' else 'Location ' + sp.vector(self.location)}",
                x,
                "crop window outside the input",
            )
        if self._recorder is not None:
            m = sp.to_matlab_order([o + 1 for o in offset])  # (row, col[, depth]) 1-based
            self._emit("location", torch.tensor(self._xyz_to_matlab(m), dtype=torch.int64, device=x.device), None)
        index = (..., *(slice(o, o + s) for o, s in zip(offset, small)))
        self.__dict__["_window"] = (big, small, self.location, index)
        return x[index]

    @staticmethod
    def _xyz_to_matlab(v: tuple[int, ...] | list[int]) -> tuple[int, ...]:
        """[x y (z)] <-> (row, col (, depth)): swap the first two entries (an involution)."""
        return (v[1], v[0], *v[2:])

    def description(self) -> str:
        return "center crop" if self.location == "centercrop" else f"crop at location {sp.vector(self.location)}"


class Crop3d(Crop2d):
    r"""3-D crop: cut a volume down to the size of a reference volume.

    MATLAB: ``crop3dLayer`` (centre crop) or ``crop3dLayer([X Y Z])``; inputs ``'in'``, ``'ref'``.

    Math:
        y_{b,c,t,i,j} = x_{b,c,\,t + o_d,\; i + o_h,\; j + o_w}

    where :math:`o = \lfloor (\text{in} - \text{ref})/2\rfloor` per axis for the
    centre crop (extra slice dropped at the bottom/right/back), or
    :math:`o_w = X-1, o_h = Y-1, o_d = Z-1` for a location ``[X Y Z]``
    (X horizontal, Y vertical, Z depth; 1-based).

    Args:
        location: ``'centercrop'`` or ``[X Y Z]`` (MATLAB ``Location``). Default: ``'centercrop'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Shape:
        ``in`` (B, C, D, H, W), ``ref`` (B, C', d, h, w) -> (B, C, d, h, w); MATLAB SSSCB.

    Learnables: none.

    Signals:
        ``location`` (3,) int64 ``[X Y Z]``, 1-based.

    Example:
        >>> dltk.crop3dLayer()(torch.randn(1, 2, 6, 6, 6), torch.randn(1, 1, 4, 4, 4)).shape
        torch.Size([1, 2, 4, 4, 4])

    MATLAB: crop3dLayer(location, Name=Value)
    """

    n = 3
    layouts = ("BCDHW",)
    matlab_name = "crop3dLayer"
    type_name = "Crop 3D"


_ROUNDING = ("round", "floor", "onnx-10")


def _check_ref(layer: Layer, ref: Any) -> torch.Size:
    """The 'ref' input: a tensor in one of the layer's layouts (only its spatial size is used); its shape."""
    shape = ref.shape if isinstance(ref, torch.Tensor) else None
    if shape is None or len(shape) not in _by_rank(layer.layouts):
        from ..layouts import describe_expected

        expected = " or ".join(describe_expected(lay) for lay in layer.layouts)
        why = f"rank {ref.ndim}" if isinstance(ref, torch.Tensor) else "missing or not a tensor"
        raise layer._fail(f"a reference input 'ref' {expected}", ref, f"the 'ref' input: {why}")
    return shape


class Resize2d(Layer):
    r"""2-D resize: scale an image's height and width by nearest-neighbour or bilinear sampling.

    MATLAB: ``resize2dLayer(Scale=s)``, ``resize2dLayer(OutputSize=[h w])`` or
    ``resize2dLayer(EnableReferenceInput=true)`` (Image Processing Toolbox).

    Math:
        u_i = \begin{cases} (i + \tfrac12)/s - \tfrac12 & \text{half-pixel} \\ i / s & \text{asymmetric} \end{cases}
        \qquad y_i = \begin{cases} x_{\operatorname{clip}(\rho(u_i))} & \text{nearest} \\
        (1-\lambda_i)\,x_{k_i} + \lambda_i\,x_{\min(k_i + 1,\,n-1)} & \text{bilinear}
        \end{cases}

    applied along each spatial axis in turn, where :math:`i` is the 0-based
    output index, :math:`n` the input size of the axis, :math:`s` its scale
    (the ``Scale`` value, else output/input size), :math:`u_i` the source
    coordinate, :math:`\rho` the rounding (``'round'``: half away from zero as
    MATLAB's ``round``; ``'floor'``; ``'onnx-10'``: :math:`\lfloor i/s\rfloor`
    whatever the transform mode — our reading of ONNX opset 10, unconfirmed),
    :math:`\operatorname{clip}` to :math:`[0, n-1]`, :math:`u^+ = \max(u, 0)`,
    :math:`k_i = \min(\lfloor u_i^+ \rfloor, n-1)`
    and :math:`\lambda_i = u_i^+ - k_i`. Half-pixel bilinear
    equals ``F.interpolate(mode='bilinear', align_corners=False)``; half-pixel
    nearest with ``'round'`` equals ``mode='nearest-exact'``; asymmetric
    nearest with ``'floor'`` and ``'onnx-10'`` equal ``mode='nearest'``: these
    settings run on ``F.interpolate`` itself (which evaluates nearest source
    indices in float32, so an index exactly on an integer can differ by one from
    the float64 formula); the others (asymmetric bilinear, half-pixel
    ``'floor'``, asymmetric ``'round'``) use the formula, one axis at a time.

    Args:
        scale: factor per axis [sh sw] or scalar; output ``⌊in·s⌋`` (MATLAB ``Scale``). Default: None.
        output_size: [h w]; one entry may be NaN to keep the aspect ratio (MATLAB ``OutputSize``). Default: None.
        enable_reference_input: take the size from a second input ``'ref'``
            (MATLAB ``EnableReferenceInput``). Default: False.
        method: ``'nearest'`` or ``'bilinear'`` (MATLAB ``Method``). Default: ``'nearest'``.
        geometric_transform_mode: ``'half-pixel'`` or ``'asymmetric'``
            (MATLAB ``GeometricTransformMode``). Default: ``'half-pixel'``.
        nearest_rounding_mode: ``'round'``, ``'floor'`` or ``'onnx-10'``
            (MATLAB ``NearestRoundingMode``). Default: ``'round'``.
        name: layer name (MATLAB ``Name``). Default: ``''``.

    Exactly one of ``scale``, ``output_size``, ``enable_reference_input`` is given.

    Shape:
        (B, C, H, W) -> (B, C, H', W'); image sequences (B, T, C, H, W) per time
        step; MATLAB SSCB -> SSCB. ``ref``: any tensor whose last two axes are (H', W').

    Learnables: none.

    Signals:
        ``source_h`` (H',), ``source_w`` (W'): the unrounded, unclipped source
        coordinate :math:`u_i` (0-based pixel centres) each output row/column samples.

    Example:
        >>> dltk.resize2dLayer(Scale=2, Method="bilinear")(torch.randn(1, 3, 4, 5)).shape
        torch.Size([1, 3, 8, 10])

    MATLAB: resize2dLayer(Name=Value)
    """

    n: ClassVar[int] = 2
    layouts: ClassVar[tuple[str, ...]] = ("BCHW", "BTCHW")
    methods: ClassVar[tuple[str, ...]] = ("nearest", "bilinear")
    signals = ("source_h", "source_w")
    signal_docs = {
        "source_h": "source row coordinate u_i of every output row (unrounded, 0-based), (H',)",
        "source_w": "source column coordinate of every output column, (W',)",
    }
    matlab_name = "resize2dLayer"
    type_name = "Resize"
    name_prefix = "resize"
    torch_equivalent = "torch.nn.functional.interpolate"
    matlab_options = {
        "Scale": "scale",
        "OutputSize": "output_size",
        "EnableReferenceInput": "enable_reference_input",
        "Method": "method",
        "GeometricTransformMode": "geometric_transform_mode",
        "NearestRoundingMode": "nearest_rounding_mode",
    }

    def __init__(
        self,
        *,
        scale: Any = None,
        output_size: Any = None,
        enable_reference_input: bool = False,
        method: str = "nearest",
        geometric_transform_mode: str = "half-pixel",
        nearest_rounding_mode: str = "round",
        name: str = "",
    ) -> None:
        super().__init__(name)
        where, n = self.matlab_name, self.n
        self.enable_reference_input = flag(where, "EnableReferenceInput", enable_reference_input)
        if (scale is not None) + (output_size is not None) + self.enable_reference_input != 1:
            raise OptionError(f"{where}: give exactly one of Scale, OutputSize and EnableReferenceInput=true.")
        self.scale = self.output_size = None
        if scale is not None:
            s = np.atleast_1d(np.asarray(scale, dtype=float)).ravel()
            if s.size not in (1, n) or not np.all(s > 0):
                raise OptionError(f"{where}: Scale must be a positive number or {n} positive numbers, got {scale!r}.")
            self.scale = tuple(float(v) for v in np.resize(s, n))  # MATLAB order
        if output_size is not None:
            o = np.atleast_1d(np.asarray(output_size, dtype=float)).ravel()
            ok = o.size == n and np.isnan(o).sum() < n and all(np.isnan(v) or (v > 0 and v == int(v)) for v in o)
            if not ok:
                raise OptionError(f"{where}: OutputSize must be {n} positive integers (one may be NaN), got {o}.")
            self.output_size = tuple(None if np.isnan(v) else int(v) for v in o)  # MATLAB order
        self.method = choice(where, "Method", method, self.methods)
        self.geometric_transform_mode = choice(
            where, "GeometricTransformMode", geometric_transform_mode, ("half-pixel", "asymmetric")
        )
        self.nearest_rounding_mode = choice(where, "NearestRoundingMode", nearest_rounding_mode, _ROUNDING)

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("in", "ref") if self.enable_reference_input else ("in",)

    Scale = property(lambda self: self.scale)
    OutputSize = property(lambda self: self.output_size)
    EnableReferenceInput = property(lambda self: self.enable_reference_input)
    Method = property(lambda self: self.method)
    GeometricTransformMode = property(lambda self: self.geometric_transform_mode)
    NearestRoundingMode = property(lambda self: self.nearest_rounding_mode)

    def output_layout(self, input_layouts: list[str | None]) -> str | None:
        return input_layouts[0] if input_layouts and input_layouts[0] in self.layouts else self.layouts[0]

    def plan(self, in_sizes: tuple[int, ...], ref: torch.Tensor | None = None) -> list[tuple[int, float]]:
        """(output size, scale) per spatial axis, torch order."""
        if self.scale is not None:
            s = sp.to_torch_order(self.scale)
            return [(math.floor(n * k), k) for n, k in zip(in_sizes, s)]
        if ref is not None:
            out = tuple(ref.shape[-self.n :])
        else:
            want = sp.to_torch_order(self.output_size)
            known = [o / n for o, n in zip(want, in_sizes) if o is not None][0]  # NaN axis: keep aspect ratio
            out = tuple(o if o is not None else math.floor(n * known) for o, n in zip(want, in_sizes))
        return [(o, o / n) for o, n in zip(out, in_sizes)]

    def _source(self, out: int, scale: float, device: Any) -> torch.Tensor:
        i = torch.arange(out, dtype=torch.float64, device=device)
        return (i + 0.5) / scale - 0.5 if self.geometric_transform_mode == "half-pixel" else i / scale

    def _resample(self, x: torch.Tensor, axis: int, out: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[axis]
        u = self._source(out, scale, x.device)  # (out,)
        if self.method == "nearest":
            if self.nearest_rounding_mode == "onnx-10":
                idx = torch.floor(torch.arange(out, dtype=torch.float64, device=x.device) / scale)
            elif self.nearest_rounding_mode == "floor":
                idx = torch.floor(u)
            else:  # MATLAB round: half away from zero
                idx = torch.sign(u) * torch.floor(u.abs() + 0.5)
            return x.index_select(axis, idx.clamp(0, n - 1).long()), u
        up = u.clamp(min=0)
        i0 = up.floor().clamp(max=n - 1)
        lam = (up - i0).to(x.dtype).view(-1, *[1] * (x.ndim - axis - 1))
        i0 = i0.long()
        i1 = (i0 + 1).clamp(max=n - 1)
        return torch.lerp(x.index_select(axis, i0), x.index_select(axis, i1), lam), u

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        lay = self._check_input(x, self.layouts)
        if self.enable_reference_input:
            _check_ref(self, ref)
        plan = self.plan(tuple(x.shape[-self.n :]), ref if self.enable_reference_input else None)
        if any(o < 1 for o, _ in plan):
            raise self._fail("an input large enough to resize", x, f"output size would be {[o for o, _ in plan]}")
        if self._recorder is not None:
            for k, (out, scale) in enumerate(plan):
                self._emit(self.signals[k], self._source(out, scale, x.device), None)
        mode = self.torch_mode()
        if mode is not None:  # PyTorch has this resize: use its kernel
            kw: dict[str, Any] = {"size": [o for o, _ in plan]}
            if self.scale is not None:  # keep the given scale in the coordinate mapping, as documented
                kw = {"scale_factor": sp.to_torch_order(self.scale)}
            z = F.interpolate(sp.fold_time(x, lay), mode=mode, align_corners=False if "linear" in mode else None, **kw)
            return sp.unfold_time(z, x, lay)
        y = x
        for k, (out, scale) in enumerate(plan):
            y, _ = self._resample(y, x.ndim - self.n + k, out, scale)
        return y

    def torch_mode(self) -> str | None:
        """The ``F.interpolate`` mode equal to this layer's settings, or None (explicit formula)."""
        if self.method != "nearest":
            return self.method if self.geometric_transform_mode == "half-pixel" else None
        if self.nearest_rounding_mode == "onnx-10":
            return "nearest"
        if self.geometric_transform_mode == "asymmetric":
            return "nearest" if self.nearest_rounding_mode == "floor" else None
        return "nearest-exact" if self.nearest_rounding_mode == "round" else None

    def description(self) -> str:
        if self.scale is not None:
            how = f"scale {sp.vector(self.scale)}"
        elif self.output_size is not None:
            how = "output size " + sp.vector(["NaN" if v is None else v for v in self.output_size])
        else:
            how = "the size of the reference input"
        return f"{self.method} resize to {how}, {self.geometric_transform_mode}"


class Resize3d(Resize2d):
    r"""3-D resize: scale a volume by nearest-neighbour or trilinear sampling.

    MATLAB: ``resize3dLayer(Scale=s | OutputSize=[h w d] | EnableReferenceInput=true)``.

    Math:
        y = R_w\,R_h\,R_d\,x

    where :math:`R_a` is the 1-D resampling of :class:`Resize2d` along axis
    :math:`a` (nearest, or linear for ``'trilinear'``). Half-pixel trilinear
    equals ``F.interpolate(mode='trilinear', align_corners=False)``. Args as
    :class:`Resize2d` with 3-element ``Scale``/``OutputSize`` in MATLAB order
    [h w d]; ``method`` ``'nearest'`` or ``'trilinear'``. Default: ``'nearest'``.

    Shape:
        (B, C, D, H, W) -> (B, C, D', H', W'); MATLAB SSSCB -> SSSCB.

    Learnables: none.

    Signals:
        ``source_d``, ``source_h``, ``source_w`` (source coordinates per axis).

    Example:
        >>> dltk.resize3dLayer(OutputSize=[4, 4, 2])(torch.randn(1, 1, 3, 2, 2)).shape
        torch.Size([1, 1, 2, 4, 4])

    MATLAB: resize3dLayer(Name=Value)
    """

    n = 3
    layouts = ("BCDHW",)
    methods = ("nearest", "trilinear")
    signals = ("source_d", "source_h", "source_w")
    signal_docs = {
        "source_d": "source depth coordinate of every output slice, (D',)",
        **Resize2d.signal_docs,
    }
    matlab_name = "resize3dLayer"
    type_name = "Resize 3D"
