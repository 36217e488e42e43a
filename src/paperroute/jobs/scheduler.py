"""The scheduler: which periodic job is due, and a lease in `job_runs` so only one worker runs it.

A job is `exclusive` (source syncs, embedding: one worker at a time, once per interval) or
concurrent (digests: every worker may run it, because the delivery ledger already splits the work
per digest). The lease itself lives in the store (store/jobs.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from paperroute.metrics import JOB_RUNS
from paperroute.sources.base import SourceError
from paperroute.store import jobs as lease_store

if TYPE_CHECKING:
    from paperroute.services import Services

log = logging.getLogger(__name__)

# (services, stop): a long job returns early once `stop` (the shutdown) is set.
JobFn = Callable[["Services", threading.Event | None], str | None]


@dataclass
class Job:
    """A periodic job: `run` takes the process's services and the shutdown event and returns a
    note (None: a lease only, which a job takes for each of its parts, as the sources do)."""

    name: str
    interval_seconds: float
    run: JobFn | None = None
    exclusive: bool = True
    lease_seconds: float = 3600.0


def try_lease(engine: Engine, job: Job, owner: str, now: datetime | None = None) -> bool:
    """Take the job's run for `owner` when it is due and nobody holds it; True if taken."""
    return lease_store.try_lease(
        engine, job.name, job.interval_seconds, job.lease_seconds, owner, now
    )


def finish(engine: Engine, job: Job, owner: str, status: str, message: str | None) -> None:
    """Record how a run ended and release the lease (only if `owner` still holds it)."""
    lease_store.finish_run(
        engine, job.name, job.interval_seconds, job.exclusive, owner, status, message
    )


def run_job(
    services: Services, job: Job, owner: str, stop: threading.Event | None = None
) -> tuple[str, str | None]:
    """Run one job now (lease already held, or concurrent); returns (status, message)."""
    started = time.monotonic()
    try:
        if job.run is None:
            raise ValueError(f"{job.name} is a lease only, with nothing to run")
        message = job.run(services, stop)
        status = "ok"
    except SourceError as exc:  # expected (source offline, error feed): a message, no traceback
        log.warning("job %s failed: %s", job.name, exc)
        status, message = "error", str(exc)
    except Exception as exc:  # a failing job must not stop the worker; it is recorded
        log.exception("job %s failed", job.name)
        status, message = "error", f"{type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - started
    note = f"{message or ''} ({elapsed:.1f}s)".strip()
    finish(services.engine, job, owner, status, note)
    JOB_RUNS.labels(job.name, status).inc()
    return status, note


def run_due_jobs(
    services: Services,
    jobs: list[Job],
    owner: str,
    last_local: dict[str, float],
    stop: threading.Event | None = None,
) -> list[tuple[str, str, str | None]]:
    """Run every job that is due, until `stop` is set; `last_local` remembers when this process
    last ran concurrent jobs. Returns (name, status, message) for each job run."""
    ran = []
    for job in jobs:
        if stop is not None and stop.is_set():
            break
        if job.exclusive:
            if not try_lease(services.engine, job, owner):
                continue
        else:
            last = last_local.get(job.name)
            if last is not None and time.monotonic() - last < job.interval_seconds:
                continue
            last_local[job.name] = time.monotonic()
        status, message = run_job(services, job, owner, stop)
        ran.append((job.name, status, message))
    return ran


job_status = lease_store.job_status  # every job's last run (CLI and admin page)
