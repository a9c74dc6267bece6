"""Giving freed heap back to the OS between the steps of a long-lived process (a fleet worker,
a render that analysed first), so one step's peak does not stack on the last one's."""

from __future__ import annotations

import contextlib
import ctypes
import gc


def give_back_memory(*, collect: bool = False) -> None:
    """Return the heap the last step freed: Arrow's own pool (mimalloc keeps it) and glibc's
    (`malloc_trim`; a no-op where there is no glibc). `collect` runs the garbage collector
    first (slower; for the end of a customer's work)."""
    if collect:
        gc.collect()
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
