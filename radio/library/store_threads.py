"""The threads the event loop calls the catalog and the admin's stores on.

The stores are synchronous (the CLI calls them directly). From the event loop they run in a
thread, but not on asyncio's default executor: that one also builds MIDI downloads and blends
models for the mixer, and a store that stalls (a MongoDB that stopped answering, a SQLite file
another process holds locked) would tie up every one of its threads. Store calls get this small
executor of their own; a stall queues store calls behind it, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")
STORE_THREADS = 4  # the admin's pollers, its page and a job's writes; a store call takes milliseconds

_executor: ThreadPoolExecutor | None = None


def store_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="continuo-store")
    return _executor


async def in_store_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``await asyncio.to_thread(fn, ...)``, on the store executor (context variables kept)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(store_executor(), call)
