"""numpy scalars bound as numbers, not bytes, whenever synth writes to a store.

sqlite3 binds any object with the buffer protocol as a BLOB, and a numpy integer is one:
a line number taken from a pandas column was stored as ``b'\\x02\\x00...'``. Adapters
are looked up by exact type and are global to ``sqlite3``, so they are registered once,
when ``synth.store`` is imported (which every path to :func:`synth.store.db.connect`
does). ``numpy.float64`` subclasses ``float`` and needs none.
"""

from __future__ import annotations

import sqlite3

import numpy as np

#: numpy scalar types that sqlite3 would otherwise store as raw bytes (C aliases such as
#: ``intc`` and ``longlong`` are distinct types on some platforms, so they are listed too)
_AS_INT = (
    np.int8, np.int16, np.int32, np.int64, np.intc, np.longlong,
    np.uint8, np.uint16, np.uint32, np.uint64, np.uintc, np.ulonglong, np.bool_,
)  # fmt: skip
_AS_FLOAT = (np.float16, np.float32, np.longdouble)


def register_numpy_adapters() -> None:
    """Make sqlite3 store numpy integers, booleans and small floats as Python numbers."""
    for t in _AS_INT:
        sqlite3.register_adapter(t, int)
    for t in _AS_FLOAT:
        sqlite3.register_adapter(t, float)
