"""The `job_runs` table: leases that let exactly one worker run an exclusive periodic job.

The exclusive lease is one conditional UPDATE, which both SQLite and PostgreSQL apply
atomically, so two workers never start the same run; a worker that dies holding a lease loses
it when `lease_until` passes. Which job is due and what it runs is jobs/scheduler.py's business.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select, update

from paperroute.store.engine import dialect_insert
from paperroute.store.schema import job_runs


def try_lease(
    engine: Engine,
    name: str,
    interval_seconds: float,
    lease_seconds: float,
    owner: str,
    now: datetime | None = None,
) -> bool:
    """Take the job's run for `owner` when it is due and nobody holds it; True if taken."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(conn, job_runs)
            .values(name=name, interval_seconds=interval_seconds)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        result = conn.execute(
            update(job_runs)
            .where(
                job_runs.c.name == name,
                or_(job_runs.c.lease_until.is_(None), job_runs.c.lease_until < now),
                or_(
                    job_runs.c.last_started_at.is_(None),
                    job_runs.c.last_started_at <= now - timedelta(seconds=interval_seconds),
                ),
            )
            .values(
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds),
                last_started_at=now,
                interval_seconds=interval_seconds,
            )
        )
    return result.rowcount == 1


def finish_run(
    engine: Engine,
    name: str,
    interval_seconds: float,
    exclusive: bool,
    owner: str,
    status: str,
    message: str | None,
) -> None:
    """Record how a run ended and release the lease (only if `owner` still holds it)."""
    now = datetime.now(UTC)
    values = {"last_finished_at": now, "last_status": status, "last_message": message}
    with engine.begin() as conn:
        if exclusive:
            conn.execute(
                update(job_runs)
                .where(job_runs.c.name == name, job_runs.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None, **values)
            )
        else:
            conn.execute(
                dialect_insert(conn, job_runs)
                .values(name=name, interval_seconds=interval_seconds)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            conn.execute(
                update(job_runs)
                .where(job_runs.c.name == name)
                .values(last_started_at=now, **values)
            )


def job_status(engine: Engine) -> list[dict]:
    """Every job's last run, for `paperroute worker --status` and the admin page."""
    with engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(job_runs).order_by(job_runs.c.name)).mappings()
        ]
