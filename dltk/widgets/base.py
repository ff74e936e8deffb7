"""Shared plumbing of the dltk widgets.

* :class:`FigureView` — a figure built once and shown in a widget: the ipympl
  canvas itself under ``%matplotlib widget``, otherwise an ``Image`` widget
  holding a PNG of the figure (inline/Agg backends, static renderers).
  Artists that change often are *animated*: only they are redrawn over a
  cached background (blitting), so one update costs a few milliseconds.
* :class:`DltkWidget` — the base of every widget: an error area where
  callback exceptions are shown (never lost in a log), a busy indicator,
  :func:`debounce` for long work (immediate when no event loop runs, e.g. in
  tests; one pending call per instance), ``close()`` that closes every
  widget it built (inner boxes, layouts and links included), unlinks their
  callbacks, empties its figures and drops its recording and data, and
  ``_ipython_display_``. Re-running the notebook cell that built a widget
  closes the widget the cell's previous run built (see :class:`_CellWidgets`).
"""

from __future__ import annotations

import asyncio
import functools
import html
import struct
import sys
import traceback
import warnings
import weakref
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as W
import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["FigureView", "DltkWidget", "debounce", "png_bytes", "use_ipympl"]


def use_ipympl() -> bool:
    """True when the ``%matplotlib widget`` (ipympl) backend is active."""
    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or backend in ("widget", "ipympl")


class FigureView:
    """A figure shown in a widget, with blitted updates of its animated artists.

    Args:
        fig: a figure built by :mod:`dltk.viz` (not known to pyplot). One wider
            than the notebook column (:data:`dltk.viz.style.COLUMN_WIDTH_PX`) is
            drawn at a lower dpi so that it fits.
        animated: the artists that :meth:`refresh` redraws over the cached
            background; everything else changes only with ``refresh(full=True)``.
        interactive: use an ipympl canvas. Default: when the widget backend is active.

    Attributes:
        fig, widget (the canvas or the ``Image``), animated, png_updates (how
        many PNGs the static fallback has published).
    """

    def __init__(self, fig: Figure, animated: Iterable[Artist] = (), interactive: bool | None = None) -> None:
        from ..viz.style import fit_column

        self.fig = fit_column(fig)  # wider than the notebook column: drawn smaller, never scrolled sideways
        self.interactive = use_ipympl() if interactive is None else interactive
        self.animated: list[Artist] = []
        self._background: Any = None
        self.png_updates = 0
        if self.interactive:
            from ipympl.backend_nbagg import Canvas, FigureManager

            with warnings.catch_warnings():  # ipympl's Toolbar trips a traitlets DeprecationWarning
                warnings.simplefilter("ignore", DeprecationWarning)
                canvas = Canvas(fig)
                self._manager = FigureManager(canvas, id(fig))
            canvas.header_visible = False
            canvas.toolbar_visible = False
            canvas.mpl_connect("draw_event", self._on_draw)
            self.widget: W.DOMWidget = canvas
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            if not isinstance(fig.canvas, FigureCanvasAgg):
                FigureCanvasAgg(fig)
            w, h = fig.get_size_inches() * fig.dpi
            self.widget = W.Image(format="png", layout=W.Layout(width=f"{int(w)}px", height=f"{int(h)}px"))
        self.set_animated(animated)

    def set_animated(self, artists: Iterable[Artist], refresh: bool = True) -> None:
        """Replace the set of animated artists (and redraw the background)."""
        for a in self.animated:
            a.set_animated(False)
        self.animated = [a for a in artists if a is not None]
        for a in self.animated:
            a.set_animated(True)
        if refresh:
            self.refresh(full=True)

    def _on_draw(self, event: Any) -> None:  # ipympl redraws (resize, zoom): keep the animated artists
        if self._in_refresh:
            return
        canvas = self.fig.canvas
        self._background = canvas.copy_from_bbox(self.fig.bbox)
        with matplotlib.rc_context(self.rc):
            self._draw_animated()
        # savefig (ipympl's PNG for the notebook file) draws with canvas.manager unset: nothing to send then
        if canvas.manager is not None and self._front_end_ready():
            canvas._force_full = True
            canvas.blit(self.fig.bbox)  # send the frame with the animated artists

    _in_refresh = False

    def _draw_animated(self) -> None:
        for a in self.animated:
            if a.get_visible() and a.figure is self.fig:
                self.fig.draw_artist(a)

    #: publish a PNG on every refresh (static fallback); the benchmark turns it off to time Agg alone
    publish = True

    #: text rendering for widget frames: unhinted glyphs draw ~30 % faster and
    #: look the same at screen resolution (matplotlib's own image tests use it)
    rc = {"text.hinting": "no_hinting"}

    def refresh(self, full: bool = False) -> None:
        """Show the figure's current state (``full``: the static part changed too)."""
        canvas = self.fig.canvas
        self._in_refresh = True
        try:
            with matplotlib.rc_context(self.rc):
                self._render(full)
        finally:
            self._in_refresh = False
        if self.interactive:
            if self._front_end_ready():
                canvas._force_full = True  # see _front_end_ready
                canvas.blit(self.fig.bbox)
        elif self.publish:
            self.widget.value = self.png()
            self.png_updates += 1

    def _render(self, full: bool) -> None:
        canvas = self.fig.canvas
        if full or self._background is None:
            if self.interactive:
                FigureCanvasAgg.draw(canvas)  # render only: refresh() sends one frame (see _front_end_ready)
            else:
                canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._background)
        self._draw_animated()

    def _front_end_ready(self) -> bool:
        """ipympl only: True once the browser view has initialized the canvas.

        A frame sent before that (``draw``/``blit`` push one) leaves the view
        blank: JupyterLab shows a 0×0 canvas and logs "Error setting state:
        ... drawImage ... 'broken' state" (found by ``tests/browser``). Until
        then the figure is only rendered; the view asks for its first frame
        itself and gets a full one (animated artists included, see ``_on_draw``).
        Each refresh then sends exactly one *full* frame: the browser loads
        frames into one image element, so of two frames sent back to back
        the first is dropped — a lost frame, or with ipympl's diff frames a
        wrong picture.
        """
        return not getattr(self.fig.canvas, "syncing_data_url", False)

    def png(self) -> bytes:
        """The canvas as it stands, as PNG bytes (see :func:`png_bytes`)."""
        return png_bytes(np.asarray(self.fig.canvas.buffer_rgba())[..., :3])

    def close(self) -> None:
        """Close the canvas/image widget and empty the figure.

        The figure is not tracked by pyplot; closing clears its artists (and the
        data they hold), drops the cached renderer and background, and empties
        the PNG, so that a closed view holds no memory even while referenced.
        """
        close_widgets([self.widget])
        if not self.interactive:
            self.widget.value = b""
        self.animated = []
        self._background = None
        self._manager = None
        fig = self.fig
        if fig is not None:
            fig.clear()
            canvas = fig.canvas
            registry = canvas.callbacks  # draw_event -> self._on_draw, clicks -> the widget's callbacks
            for cid in [cid for cids in registry.callbacks.values() for cid in cids]:
                registry.disconnect(cid)
            canvas.__dict__.pop("renderer", None)  # Agg's pixel buffer (rebuilt on the next draw)


def png_bytes(rgb: np.ndarray, level: int = 1) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG, favouring speed.

    A minimal PNG (IHDR, one IDAT, IEND; no row filters, zlib level 1): about
    twice as fast as Pillow's encoder on figure renders, and as small, which
    matters because the static fallback re-sends the whole image per update.
    """
    h, w, _ = rgb.shape
    rows = np.empty((h, 3 * w + 1), np.uint8)
    rows[:, 0] = 0  # filter type 0 (none) for every scanline
    rows[:, 1:] = rgb.reshape(h, 3 * w)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + (chunk(b"IEND", b""))
    )


def debounce(wait: float) -> Callable[[Callable[..., Any]], Any]:
    """Call the function once, ``wait`` seconds after the last call.

    Runs immediately when ``wait`` is 0 or no asyncio loop is running (plain
    Python, tests): then every call is executed at once (*immediate mode*).
    On a method, each instance keeps its own pending call: a burst on one
    widget never cancels the pending call of another.
    """

    def deco(fn: Callable[..., Any]) -> Any:
        return _Debounced(fn, wait)

    return deco


class _Debounced:
    """A debounced callable (see :func:`debounce`); as a method, one pending call per instance."""

    def __init__(self, fn: Callable[..., Any], wait: float) -> None:
        functools.update_wrapper(self, fn)
        self.fn, self.wait = fn, wait
        self.handle: asyncio.TimerHandle | None = None  # the pending call (plain functions)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self._schedule(self, self.fn, args, kwargs)

    def _schedule(self, slot: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            loop = asyncio.get_running_loop() if self.wait > 0 else None
        except RuntimeError:
            loop = None
        if loop is None:
            fn(*args, **kwargs)
            return
        if slot.handle is not None:
            slot.handle.cancel()
        slot.handle = loop.call_later(self.wait, lambda: fn(*args, **kwargs))

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        key = f"_debounced_{self.__name__}_{id(self)}"  # cached on the instance: its own pending call
        bound = obj.__dict__.get(key)
        if bound is None:
            bound = obj.__dict__[key] = _BoundDebounced(self, obj)
        return bound


class _BoundDebounced:
    """A :class:`_Debounced` method bound to one instance, holding that instance's pending call."""

    def __init__(self, deb: _Debounced, obj: Any) -> None:
        self.deb, self.fn = deb, functools.partial(deb.fn, obj)
        self.handle: asyncio.TimerHandle | None = None
        self.__doc__ = deb.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.deb._schedule(self, self.fn, args, kwargs)

    def cancel(self) -> None:
        """Drop the pending call (widgets do so when closed)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


#: how many callback exceptions the process keeps (the newest); a long-running kernel
#: must not accumulate every exception (each holds its traceback's frames and their data)
CALLBACK_ERRORS_KEPT = 50

#: the newest exceptions dltk widget callbacks caught in this process (newest last), at most
#: :data:`CALLBACK_ERRORS_KEPT`; lessons' tests assert it stays empty (see :func:`callback_errors`)
_CALLBACK_ERRORS: deque[BaseException] = deque(maxlen=CALLBACK_ERRORS_KEPT)


def callback_errors() -> list[BaseException]:
    """Exceptions caught by dltk widget callbacks so far, the newest 50 (shown in their widgets too)."""
    return list(_CALLBACK_ERRORS)


def close_widgets(roots: Iterable[Any]) -> None:
    """Close ``roots`` and every widget reachable from them, and unlink their callbacks.

    Walks each widget's widget-valued traits (a box's ``children``, every
    ``layout`` and ``style``, a link's ``source``/``target``, ipympl's toolbar):
    an inner ``HBox`` left open stays in ipywidgets' registry, and its children's
    observers would keep the whole dltk widget (figures, recording) alive.
    Every closed widget also drops its observers and click handlers.
    """
    seen: set[int] = set()
    stack = [w for w in roots if isinstance(w, W.Widget)]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        for name in w.keys:
            stack.extend(_widgets_in(getattr(w, name, None)))
        w.unobserve_all()
        handlers = getattr(w, "_click_handlers", None)
        if handlers is not None:
            handlers.callbacks.clear()
        w.close()


def _widgets_in(value: Any) -> list[W.Widget]:
    if isinstance(value, W.Widget):
        return [value]
    if isinstance(value, (tuple, list)):
        return [w for v in value for w in _widgets_in(v)]
    return []


class _CellWidgets:
    """The dltk widgets each notebook cell built, so that re-running the cell closes them.

    An IPython ``pre_run_cell`` hook (installed with the first widget) starts a
    new run of a cell; the k-th widget of a class built in that run replaces
    (closes) the k-th widget of that class built by the cell's previous run.
    Cells are known by their id (JupyterLab, Notebook 7, VS Code send it);
    without one (plain IPython), nothing is replaced.
    """

    def __init__(self) -> None:
        self.cell: str | None = None
        self.counts: dict[str, int] = {}
        self.built: dict[tuple[str, str, int], weakref.ref[DltkWidget]] = {}
        self.shell: Any = None

    def install(self) -> None:
        """Register the hook with the running IPython (once; nothing outside IPython)."""
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
        if shell is None or shell is self.shell:
            return
        if self.shell is not None:
            self.shell.events.unregister("pre_run_cell", self.pre_run_cell)
        self.shell = shell
        shell.events.register("pre_run_cell", self.pre_run_cell)
        self.start(_current_cell_id(shell))  # the cell running now (that imports dltk.widgets, say)

    def pre_run_cell(self, info: Any = None) -> None:
        self.start(getattr(info, "cell_id", None))

    def start(self, cell: str | None) -> None:
        """A new run of ``cell`` begins."""
        self.cell, self.counts = cell, {}
        for key in [k for k, ref in self.built.items() if ref() is None or ref().closed]:
            del self.built[key]

    def claim(self, widget: DltkWidget) -> None:
        """``widget`` was built in the current cell run: close what it replaces."""
        self.install()
        if self.cell is None:
            return
        kind = type(widget).__qualname__
        k = self.counts[kind] = self.counts.get(kind, 0) + 1
        key = (self.cell, kind, k)
        old = self.built.get(key)
        old = old() if old is not None else None
        if old is not None and old is not widget and not old.closed:
            old.close()
        self.built[key] = weakref.ref(widget)


def _current_cell_id(shell: Any) -> str | None:
    """The id of the cell executing now, from ipykernel's request metadata (None when unknown)."""
    try:
        parent = shell.kernel.get_parent()
        return parent.get("metadata", {}).get("cellId")
    except Exception:  # noqa: BLE001 - no kernel (plain IPython, tests) or an older ipykernel
        return None


_CELLS = _CellWidgets()


class DltkWidget:
    """Base of the dltk widgets (see the module docstring).

    Subclasses build ``self.box`` (the layout) from controls made with
    :meth:`_w` and figures shown with :meth:`_view`, and wrap every callback
    with :meth:`_guard`.

    Attributes:
        error_area: ``HTML`` showing the last callback error (empty when none).
        status: ``HTML`` busy/idle indicator.
        errors: every exception a callback raised (for tests and debugging).
        views: the :class:`FigureView` objects.
    """

    def __init__(self, interactive: bool | None = None) -> None:
        self.closed = False
        _CELLS.claim(self)  # re-running a cell closes the widget its previous run built (frees it first)
        self.interactive = use_ipympl() if interactive is None else interactive
        self._widgets: list[W.Widget] = []
        self.views: list[FigureView] = []
        self.errors: deque[BaseException] = deque(maxlen=CALLBACK_ERRORS_KEPT)  # the newest
        self.error_area = self._w(W.HTML(""))
        self.error_area.add_class("dltk-widget-error")
        self.status = self._w(W.HTML(""))
        self.busy = False
        self.box: W.Box | None = None

    # ---------------------------------------------------------- building
    def _w(self, widget: Any) -> Any:
        """Register a widget so that :meth:`close` closes it."""
        self._widgets.append(widget)
        return widget

    def _view(self, fig: Figure, animated: Iterable[Artist] = ()) -> FigureView:
        view = FigureView(fig, animated, self.interactive)
        self.views.append(view)
        return view

    # --------------------------------------------------------- callbacks
    def _guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback: errors go to :attr:`error_area`, success clears it."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                out = fn(*args, **kwargs)
            except Exception as e:  # shown in the widget, not lost in a log
                self._show_error(e)
                return None
            if self.error_area.value:
                self.error_area.value = ""
            return out

        return wrapper

    def _show_error(self, e: BaseException) -> None:
        self.errors.append(e)
        _CALLBACK_ERRORS.append(e)
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:])
        self.error_area.value = (
            "<div style='color:#b00020;border:1px solid #b00020;padding:4px;white-space:pre-wrap'>"
            f"<b>{html.escape(type(e).__name__)}</b>: {html.escape(str(e))}"
            f"<details><summary>details</summary><pre>{html.escape(tb)}</pre></details></div>"
        )

    def add_class(self, name: str) -> DltkWidget:
        """Add a CSS class to the widget's root box (lessons mark their main widget ``dltk-main``)."""
        if self.box is not None:
            self.box.add_class(name)
        return self

    @contextmanager
    def working(self, message: str, controls: Iterable[W.Widget] = ()) -> Iterator[None]:
        """Busy state: disable ``controls`` and show ``message`` until the block ends."""
        controls = list(controls)
        before = [c.disabled for c in controls]
        for c in controls:
            c.disabled = True
        self.busy = True
        self.status.value = f"<span style='color:#a15c00'>⏳ {html.escape(message)}</span>"
        try:
            yield
        finally:
            for c, d in zip(controls, before):
                c.disabled = d
            self.busy = False
            self.status.value = ""

    # ------------------------------------------------------------ display
    #: attributes :meth:`close` keeps (small, and read after closing: tests, error reports)
    _KEPT_ON_CLOSE = frozenset({"interactive", "errors", "closed", "busy"})

    def close(self) -> None:
        """Close this widget and free what it holds.

        Closes every control, inner box, layout and link (all of them leave
        ipywidgets' registry, observers and click handlers unlinked) and every
        figure view (figures emptied), cancels pending debounced calls, and
        drops the recording, figures, networks and data it refers to, so that
        the memory comes back even while a variable still names the widget.
        The widget cannot be shown again; a second ``close()`` does nothing.
        Re-running the notebook cell that built a widget closes it too.
        """
        if self.closed:
            return
        self.closed = True
        for v in self.views:
            v.close()
        close_widgets([*self._widgets, self.box])
        for name, value in list(vars(self).items()):
            if isinstance(value, _BoundDebounced):
                value.cancel()
            if name in self._KEPT_ON_CLOSE or isinstance(value, (W.Widget, FigureView)):
                continue
            setattr(self, name, None)  # recordings, figures, diagrams, networks, caches: freed now
        self._widgets, self.views = [], []

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.closed:
            print(f"(a closed {type(self).__name__}: build it again to show it)")
            return
        display(self.box)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs) if self.box is not None else None


_CELLS.install()  # importing dltk.widgets in a notebook installs the hook before any widget is built
