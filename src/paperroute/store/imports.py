"""The `import_jobs` table: library and account imports a reader started from the web.

A row is created when the upload is stored; the background job claims it with one conditional
UPDATE (queued -> running), so two web processes never run the same import, then records the
stage it is at and, at the end, the report or the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from paperroute.store.schema import import_jobs

KINDS = ("library", "account", "ids")  # ids: arXiv ids pasted on the cold-start form


@dataclass
class ImportJob:
    """One import: what was uploaded, by whom, and how far it got."""

    id: int
    user_id: int
    kind: str
    filename: str
    collection: str | None
    path: str
    status: str
    stage: str | None
    report: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        """True once the import is done or failed."""
        return self.status in {"done", "failed"}


def create_import(
    engine: Engine, user_id: int, kind: str, filename: str, path: str, collection: str | None
) -> int:
    """Record a stored upload waiting to be imported; returns its id."""
    if kind not in KINDS:
        raise ValueError(f"import kind: must be one of {', '.join(KINDS)}")
    with engine.begin() as conn:
        return conn.execute(
            import_jobs.insert().returning(import_jobs.c.id),
            {
                "user_id": user_id,
                "kind": kind,
                "filename": filename[:255],
                "collection": collection,
                "path": path,
                "status": "queued",
                "stage": "waiting to start",
                "created_at": datetime.now(UTC),
            },
        ).scalar_one()


def get_import(engine: Engine, import_id: int) -> ImportJob | None:
    """One import, or None when it does not exist (any more)."""
    with engine.connect() as conn:
        row = conn.execute(select(import_jobs).where(import_jobs.c.id == import_id)).first()
    return ImportJob(**row._asdict()) if row else None


def claim_import(engine: Engine, import_id: int) -> bool:
    """Take a queued import for running; False when it is gone or someone else took it."""
    with engine.begin() as conn:
        result = conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == import_id, import_jobs.c.status == "queued")
            .values(status="running", stage="starting", started_at=datetime.now(UTC))
        )
    return result.rowcount == 1


def set_stage(engine: Engine, import_id: int, stage: str) -> None:
    """Say how far a running import got."""
    with engine.begin() as conn:
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == import_id, import_jobs.c.status == "running")
            .values(stage=stage)
        )


def finish_import(
    engine: Engine, import_id: int, report: dict[str, Any] | None, error: str | None = None
) -> None:
    """Record the report (done) or the error (failed)."""
    with engine.begin() as conn:
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == import_id)
            .values(
                status="failed" if error else "done",
                stage=None,
                report=report,
                error=error,
                finished_at=datetime.now(UTC),
            )
        )


def requeue_import(engine: Engine, import_id: int) -> None:
    """Give a running import back (the process is shutting down); the next start resumes it."""
    with engine.begin() as conn:
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == import_id, import_jobs.c.status == "running")
            .values(status="queued", stage="waiting to start (the server restarted)")
        )


def queued_import_ids(engine: Engine) -> list[int]:
    """Imports waiting to run, oldest first."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(import_jobs.c.id)
                .where(import_jobs.c.status == "queued")
                .order_by(import_jobs.c.id)
            ).scalars()
        )
