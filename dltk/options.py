"""MATLAB-style argument handling shared by every MATLAB-named constructor.

MATLAB functions take positional arguments followed by name-value options,
written either as ``Name=Value`` (keywords here) or as string pairs
``"Name", Value``. Names match case-insensitively, as in MATLAB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import OptionError


def _allowed_text(names: Iterable[str]) -> str:
    return ", ".join(sorted(names, key=str.lower))


def split_args(
    where: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    positional: Sequence[str],
    options: Iterable[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split MATLAB-style arguments into positionals and name-value options.

    Args:
        where: function name used in error messages (``"lstmLayer"``).
        args: positional arguments as given; trailing ``"Name", value`` pairs allowed.
        kwargs: keyword options (``OutputMode="last"``).
        positional: names of the positional parameters, in order.
        options: the option names this function accepts (MATLAB spelling).

    Returns:
        ``(positionals, opts)``: dicts keyed by the canonical names.

    Raises:
        OptionError: unknown option, missing value, too many positionals,
            or an option given twice.
    """
    canon = {o.lower(): o for o in options}
    pos: dict[str, Any] = {}
    opts: dict[str, Any] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if isinstance(a, str) and a.lower() in canon:
            break
        if i >= len(positional):
            if isinstance(a, str):
                raise OptionError(f"{where}: unknown option {a!r}. Allowed options: {_allowed_text(canon.values())}.")
            raise OptionError(
                f"{where}: too many positional arguments ({len(args)} given, at most {len(positional)}: "
                f"{', '.join(positional) or 'none'})."
            )
        pos[positional[i]] = a
        i += 1
    rest = list(args[i:])
    if len(rest) % 2:
        raise OptionError(f"{where}: option {rest[-1]!r} has no value (name-value pairs come in twos).")
    pairs = list(zip(rest[0::2], rest[1::2])) + list(kwargs.items())
    for name, value in pairs:
        if not isinstance(name, str) or name.lower() not in canon:
            raise OptionError(f"{where}: unknown option {name!r}. Allowed options: {_allowed_text(canon.values())}.")
        key = canon[name.lower()]
        if key in opts:
            raise OptionError(f"{where}: option {key!r} given twice.")
        opts[key] = value
    return pos, opts


def choice(where: str, option: str, value: Any, allowed: Sequence[str]) -> str:
    """Validate a text option against its allowed values (case-insensitive).

    Returns the canonical spelling from ``allowed``.
    """
    if isinstance(value, str):
        for a in allowed:
            if value.lower() == a.lower():
                return a
    raise OptionError(f"{where}: invalid {option} {value!r}. Allowed values: {', '.join(repr(a) for a in allowed)}.")


def positive_int(where: str, option: str, value: Any, *, allow_zero: bool = False) -> int:
    """Validate a positive (or non-negative) integer option."""
    ok = isinstance(value, (int,)) and not isinstance(value, bool)
    if not ok:
        try:
            import numpy as np

            ok = isinstance(value, np.integer) or (isinstance(value, float) and float(value).is_integer())
        except ImportError:  # pragma: no cover
            ok = False
    if not ok or (value < 0 if allow_zero else value <= 0):
        kind = "a non-negative" if allow_zero else "a positive"
        raise OptionError(f"{where}: {option} must be {kind} integer, got {value!r}.")
    return int(value)


def number(
    where: str,
    option: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Validate a real scalar option within optional bounds."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{where}: {option} must be a number, got {value!r}.") from None
    bad = v != v
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
        hi = "" if high is None else (f"< {high}" if high_open else f"<= {high}")
        rng = " and ".join(x for x in (lo, hi) if x)
        raise OptionError(f"{where}: {option} must be {rng}, got {value!r}.")
    return v


def flag(where: str, option: str, value: Any) -> bool:
    """Validate a logical option (True/False/0/1)."""
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise OptionError(f"{where}: {option} must be true or false, got {value!r}.")


def int_tuple(where: str, option: str, value: Any, n: int, *, allow_zero: bool = False) -> tuple[int, ...]:
    """A scalar or n-element size (``3`` or ``[3 3]``) as an n-tuple of ints."""
    try:
        import numpy as np

        arr = np.atleast_1d(np.asarray(value)).ravel().tolist()
    except Exception:  # noqa: BLE001
        raise OptionError(f"{where}: {option} must be an integer or {n} integers, got {value!r}.") from None
    if len(arr) == 1:
        arr = arr * n
    if len(arr) != n:
        raise OptionError(f"{where}: {option} must be an integer or {n} integers, got {value!r}.")
    return tuple(positive_int(where, option, a, allow_zero=allow_zero) for a in arr)
