"""The worker: a loop that asks the scheduler what is due and runs it, in its own process
(`paperroute worker`) or in a thread of the web server (`start_background_jobs`).

The jobs are listed once, in JOBS, by "module:function" (each function takes (settings, engine,
stop) and returns a short note; `stop` is set on shutdown); each is also a CLI command. A job
whose module is not installed yet is recorded as `unavailable` instead of stopping the worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from paperroute.community.notifications import notify_followers_of_new_papers
from paperroute.config import Settings
from paperroute.digest.delivery import send_due_digests, worker_id
from paperroute.jobs.scheduler import Job, run_due_jobs

log = logging.getLogger(__name__)

# How long a shutdown waits for the running job. Jobs that run long check `stop` between small
# steps (embedding: ~1 s); one that does not (a digest run) is then left to die with the
# process, which is safe: the delivery ledger re-sends what was not recorded as sent.
STOP_SECONDS = 4.0

JOBS: list[Job] = [
    # Digests are concurrent: the delivery ledger gives each digest to exactly one worker.
    Job("digests", 60.0, "paperroute.jobs.worker:digest_job", exclusive=False),
    Job(
        "sync-hf-daily",
        3600.0,
        "paperroute.jobs.worker:sync_hf_daily_job",
        lease_seconds=3 * 3600.0,
    ),
    # Every other source (Crossref, OpenAlex, PubMed, ACL, bioRxiv, OpenReview, journal feeds):
    # each under its own lease and interval, see jobs/sources.py.
    Job("sync-sources", 60.0, "paperroute.jobs.sources:sync_sources_job", lease_seconds=6 * 3600.0),
    Job("embed", 300.0, "paperroute.jobs.worker:embed_job", lease_seconds=3600.0),
    # Notification mail: the ledger in store/notifications.py gives each mail to one worker.
    Job("notification-mail", 60.0, "paperroute.community.notifications:mail_job", exclusive=False),
]


def digest_job(settings: Settings, engine: Engine, stop: threading.Event | None = None) -> str:
    """Send every digest that is due now (the `paperroute digest send` command)."""
    from paperroute.search.service import SearchService

    report = send_due_digests(settings, engine, SearchService(settings, engine))
    note = (
        f"due {report.due}, sent {report.sent}, empty {report.skipped_empty}, "
        f"failed {report.failed}, deferred {report.deferred}, busy {report.busy}"
    )
    return f"{note}; stopped: {report.stopped}" if report.stopped else note


def sync_hf_daily_job(
    settings: Settings, engine: Engine, stop: threading.Event | None = None
) -> str:
    """Fetch today's and yesterday's Hugging Face daily papers (`paperroute sync hf-daily`) and
    keyword-index what changed."""
    from paperroute.search.service import SearchService
    from paperroute.sources.hf_daily import HfDailySource
    from paperroute.sources.ingest import Ingest

    today = datetime.now(UTC).date()
    source = HfDailySource.from_settings(settings, [today - timedelta(days=1), today])
    ingest = Ingest(
        engine, settings, lambda ids: SearchService(settings, engine).index_papers(ids),
        on_added=lambda ids: notify_followers_of_new_papers(
            engine, ids, settings.submission_max_age_days
        ),
    )  # fmt: skip
    return ingest.source(source, progress=False).summary()  # the notification-mail job mails


def embed_job(settings: Settings, engine: Engine, stop: threading.Event | None = None) -> str:
    """Embed new or changed papers for semantic search (`paperroute embed`); stops between
    small batches once `stop` is set, keeping what it finished (the next run goes on)."""
    from paperroute.search.service import SearchService

    service = SearchService(settings, engine)
    service.open()
    n = service.embed_pending(progress=False, stop=stop)
    if stop is not None and stop.is_set():
        return f"stopped by shutdown after embedding {n} papers; the next run goes on"
    return f"embedded {n} papers"


def run_worker(
    settings: Settings,
    engine: Engine,
    stop: threading.Event,
    jobs: list[Job] | None = None,
    tick_seconds: float = 15.0,
    once: bool = False,
    on_run: Callable[[str, str, str | None], None] | None = None,
) -> None:
    """Run due jobs every `tick_seconds` until `stop` is set (or one round with `once`)."""
    owner = worker_id()
    last_local: dict[str, float] = {}
    jobs = JOBS if jobs is None else jobs
    while not stop.is_set():
        try:
            ran = run_due_jobs(settings, engine, jobs, owner, last_local, stop)
            for name, status, message in ran:
                log.info("job %s: %s %s", name, status, message or "")
                if on_run:
                    on_run(name, status, message)
        except Exception:  # the database may be briefly unreachable; try again next tick
            log.exception("worker round failed")
        if once:
            return
        stop.wait(tick_seconds)


def start_background_jobs(
    settings: Settings, engine: Engine, jobs: list[Job] | None = None
) -> Callable[[], None]:
    """Run the worker in a daemon thread of this process; returns a function that stops it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(settings, engine, stop, jobs), name="paperroute-jobs", daemon=True
    )
    thread.start()

    def stop_jobs(timeout: float = STOP_SECONDS) -> None:
        stop.set()
        thread.join(timeout)

    return stop_jobs


def attach_background_jobs(app, jobs: list[Job] | None = None) -> None:
    """Run the worker inside a web app's lifespan (uses app.state.settings and .engine)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application):
        state = application.state
        stop = start_background_jobs(state.settings, state.engine, jobs)
        try:
            async with inner(application) as state:
                yield state
        finally:
            stop()

    app.router.lifespan_context = lifespan
