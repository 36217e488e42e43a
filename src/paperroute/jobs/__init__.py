"""Background work: the scheduler, the worker and the web's background imports."""

from __future__ import annotations

import contextlib
import os

BACKGROUND_NICE = 10  # background work yields the CPU to page requests on the same machine


def yield_cpu_to_requests() -> None:
    """Lower this process's CPU priority (Unix nice), so that a worker, a digest run or an
    import sharing the machine with `paperroute serve` does not slow its pages (bench/load.py)."""
    # Not on this platform, or not allowed: run as we are.
    with contextlib.suppress(AttributeError, OSError):
        os.nice(BACKGROUND_NICE)
