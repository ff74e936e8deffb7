"""Recurrent building blocks for the packages above the layers (public, stable names).

The recording of a student's own ``nn.LSTM``/``nn.GRU``/``nn.RNN``
(:mod:`dltk.introspect.torch_modules.recurrent`) rebuilds gates and states with
the same pieces the dltk recurrent layers use; they are re-exported here so that
nothing above :mod:`dltk.layers` imports its private modules (the import contract
in ``pyproject.toml``).

* ``linear_scan(a, b, x0)`` — :math:`x_t = a_t \\odot x_{t-1} + b_t` over the time axis
  (the cell-state recurrence :math:`c_t = f_t \\odot c_{t-1} + i_t \\odot g_t`).
* ``shift_prev(h, h0)`` — :math:`h_{t-1}` for every step, :math:`h_0` at the first.
* ``reverse_within(x, lengths)`` — each right-padded sequence reversed within its own length.
* ``zero_padding(x, lengths)`` — the padded steps of a right-padded batch set to 0.
* ``compiled_lstm`` — the optional compiled LSTM/GRU recording loops (``usable(like)``, ``lstm_record(...)``,
  ``gru_record(...)``).
* ``LSTM_SIGNALS``, ``GRU_SIGNALS`` — the recorded signal names, defined once in ``lstm.py``/``gru.py``.
"""

from __future__ import annotations

from . import _lstm_kernel as compiled_lstm
from ._recurrent_rebuild import linear_scan
from ._sequence_masks import reverse_within, shift_prev, zero_padding
from .gru import GRU_SIGNALS
from .lstm import LSTM_SIGNALS

# nothing here is a layer: dltk.layers skips this module when it collects the families (_SKIP)
__all__ = [
    "linear_scan",
    "shift_prev",
    "reverse_within",
    "zero_padding",
    "compiled_lstm",
    "LSTM_SIGNALS",
    "GRU_SIGNALS",
]
