"""Ctrl-C (the notebook's ■) during training: stop at a safe point, never lose the network.

:class:`InterruptGuard` installs a SIGINT handler for the length of a training
run (main thread only, and only over Python's default handler):

* outside a critical section, an interrupt raises ``KeyboardInterrupt`` at
  once, as usual: the loop stops and finishes;
* inside :meth:`InterruptGuard.critical` (the solver step with its
  bookkeeping), the interrupt is recorded and raised when the section ends,
  so a parameter update is never left half applied;
* after :meth:`InterruptGuard.stop` (training is finishing: final validation,
  plot, device move, returning ``(net, info)``), every further interrupt is
  only counted — a second or tenth Ctrl-C cannot lose the trained network.

Elsewhere (a worker thread, a custom SIGINT handler already installed) the
guard does nothing and interrupts behave as without it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

__all__ = ["InterruptGuard"]


class InterruptGuard:
    """Defer SIGINT around critical sections of a training run (see the module docstring).

    Attributes:
        active: the handler is installed (main thread, default handler found).
        received: interrupts seen while installed.
        ignored: interrupts counted only, because training was already finishing.
        stopping: :meth:`stop` was called (or an interrupt was raised).
    """

    def __init__(self) -> None:
        self.active = False
        self.received = 0
        self.ignored = 0
        self.stopping = False
        self._depth = 0
        self._pending = False
        self._previous: Any = None

    # -------------------------------------------------------------- handler
    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        if self.stopping:
            self.ignored += 1
            return
        if self._depth:
            self._pending = True  # raised when the critical section ends
            return
        self.stopping = True
        raise KeyboardInterrupt

    def __enter__(self) -> InterruptGuard:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self.active = True
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.active:
            signal.signal(signal.SIGINT, self._previous)
            self.active = False

    # ------------------------------------------------------------- sections
    @contextmanager
    def critical(self) -> Iterator[None]:
        """A block no interrupt may cut: an interrupt inside it is raised when it ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._pending and not self.stopping:
            self._pending = False
            self.stopping = True
            raise KeyboardInterrupt

    def stop(self) -> None:
        """Training is finishing: from now on interrupts are only counted."""
        self.stopping = True
        self._pending = False
