"""Where a blocking store call runs when the event loop needs its answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


async def quick(engine: Engine, handler: Callable[..., T], *args: Any) -> T:
    """Run a sync call that does only primary-key lookups (and maybe a render).

    On SQLite it runs on the event loop: the lookups take microseconds, and handing the work to
    a thread costs more than the work through GIL hand-offs (bench/web.py, cold paper pages on
    2 cores: 2.7k requests/s, p95 54 ms in the thread pool; 4.4k, p95 37 ms inline), and under
    load the thread waits behind page renders for one of the few page threads (bench/load.py:
    a signed-in reader's session and state). On PostgreSQL each lookup is a network round trip,
    which must not hold up the event loop.
    """
    if engine.dialect.name == "sqlite":
        return handler(*args)
    return await run_in_threadpool(handler, *args)
