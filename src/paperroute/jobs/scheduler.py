"""The scheduler: which periodic job is due, and a lease in `job_runs` so only one worker runs it.

A job is `exclusive` (source syncs, embedding: one worker at a time, once per interval) or
concurrent (digests: every worker may run it, because the delivery ledger already splits the work
per digest). The exclusive lease is one conditional UPDATE on `job_runs`, which both SQLite and
PostgreSQL apply atomically, so two workers never start the same run; a worker that dies holding
a lease loses it when `lease_until` passes.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select, update

from paperroute.config import Settings
from paperroute.sources.base import SourceError
from paperroute.store.engine import dialect_insert
from paperroute.store.schema import job_runs

log = logging.getLogger(__name__)

JobFn = Callable[[Settings, Engine], str | None]


@dataclass
class Job:
    """A periodic job: `target` is "module:function" taking (settings, engine), returning a note."""

    name: str
    interval_seconds: float
    target: str
    exclusive: bool = True
    lease_seconds: float = 3600.0

    def resolve(self) -> JobFn:
        """The function to call; ImportError/AttributeError when that part is not installed."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


def try_lease(engine: Engine, job: Job, owner: str, now: datetime | None = None) -> bool:
    """Take the job's run for `owner` when it is due and nobody holds it; True if taken."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(conn, job_runs)
            .values(name=job.name, interval_seconds=job.interval_seconds)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        result = conn.execute(
            update(job_runs)
            .where(
                job_runs.c.name == job.name,
                or_(job_runs.c.lease_until.is_(None), job_runs.c.lease_until < now),
                or_(
                    job_runs.c.last_started_at.is_(None),
                    job_runs.c.last_started_at <= now - timedelta(seconds=job.interval_seconds),
                ),
            )
            .values(
                lease_owner=owner,
                lease_until=now + timedelta(seconds=job.lease_seconds),
                last_started_at=now,
                interval_seconds=job.interval_seconds,
            )
        )
    return result.rowcount == 1


def finish(engine: Engine, job: Job, owner: str, status: str, message: str | None) -> None:
    """Record how a run ended and release the lease (only if `owner` still holds it)."""
    now = datetime.now(UTC)
    values = {"last_finished_at": now, "last_status": status, "last_message": message}
    with engine.begin() as conn:
        if job.exclusive:
            conn.execute(
                update(job_runs)
                .where(job_runs.c.name == job.name, job_runs.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None, **values)
            )
        else:
            conn.execute(
                dialect_insert(conn, job_runs)
                .values(name=job.name, interval_seconds=job.interval_seconds)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            conn.execute(
                update(job_runs)
                .where(job_runs.c.name == job.name)
                .values(last_started_at=now, **values)
            )


def run_job(settings: Settings, engine: Engine, job: Job, owner: str) -> tuple[str, str | None]:
    """Run one job now (lease already held, or concurrent); returns (status, message)."""
    started = time.monotonic()
    try:
        fn = job.resolve()
    except (ImportError, AttributeError) as exc:
        status, message = "unavailable", f"{job.target}: {exc}"
    else:
        try:
            message = fn(settings, engine)
            status = "ok"
        except SourceError as exc:  # expected (source offline, error feed): a message, no traceback
            log.warning("job %s failed: %s", job.name, exc)
            status, message = "error", str(exc)
        except Exception as exc:  # a failing job must not stop the worker; it is recorded
            log.exception("job %s failed", job.name)
            status, message = "error", f"{type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - started
    note = f"{message or ''} ({elapsed:.1f}s)".strip()
    finish(engine, job, owner, status, note)
    return status, note


def run_due_jobs(
    settings: Settings,
    engine: Engine,
    jobs: list[Job],
    owner: str,
    last_local: dict[str, float],
) -> list[tuple[str, str, str | None]]:
    """Run every job that is due; `last_local` remembers when this process last ran concurrent
    jobs. Returns (name, status, message) for each job run."""
    ran = []
    for job in jobs:
        if job.exclusive:
            if not try_lease(engine, job, owner):
                continue
        else:
            last = last_local.get(job.name)
            if last is not None and time.monotonic() - last < job.interval_seconds:
                continue
            last_local[job.name] = time.monotonic()
        status, message = run_job(settings, engine, job, owner)
        ran.append((job.name, status, message))
    return ran


def job_status(engine: Engine) -> list[dict]:
    """Every job's last run, for `paperroute worker --status` and the admin page."""
    with engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(job_runs).order_by(job_runs.c.name)).mappings()
        ]
