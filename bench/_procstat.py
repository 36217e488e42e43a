"""CPU time of other processes, from Linux's /proc (for benchmarks on shared cores).

Wall-clock latency on cores shared with other work measures the other work too; the CPU a
process spent per request does not (much), so benchmarks report both.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def process_cpu_ms(pid: int) -> tuple[float, float]:
    """(own CPU ms: every thread, live or exited; CPU ms of its waited-for children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) * _TICK_MS  # utime, stime
    children = (int(fields[13]) + int(fields[14])) * _TICK_MS  # cutime, cstime
    return own, children


def threads_cpu_ns(pid: int) -> dict[int, int]:
    """ns on CPU of each live thread (schedstat: exact, not sampled at clock ticks)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[int(task.name)] = int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
    return found


def split_cpu_ms(pid: int, before: dict[int, int], after: dict[int, int]) -> tuple[float, float]:
    """(ms on the main thread, ms on every other thread) between two threads_cpu_ns samples."""
    main = (after.get(pid, 0) - before.get(pid, 0)) / 1e6
    rest = sum(ns - before.get(tid, 0) for tid, ns in after.items() if tid != pid) / 1e6
    return main, rest
