"""The worker: a loop that asks the scheduler what is due and runs it, in its own process
(`paperroute worker`) or in a thread of the web server (`start_background_jobs`).

The jobs are listed once, in JOBS, by reference: each takes the process's `Services` (one search
service, one ingest path) and the shutdown event, and returns a short note; each is also a CLI
command.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager

from paperroute.community.notifications import send_notification_mail
from paperroute.digest.delivery import send_due_digests, worker_id
from paperroute.jobs.scheduler import Job, run_due_jobs
from paperroute.jobs.sources import sync_sources_job
from paperroute.search.embedding import embed_pending
from paperroute.services import Services

log = logging.getLogger(__name__)

# How long a shutdown waits for the running job. Jobs that run long check `stop` between small
# steps (embedding: ~1 s); one that does not (a digest run) is then left to die with the
# process, which is safe: the delivery ledger re-sends what was not recorded as sent.
STOP_SECONDS = 4.0


def digest_job(services: Services, stop: threading.Event | None = None) -> str:
    """Send every digest that is due now (the `paperroute digest send` command)."""
    search = services.search_service()  # without it, no topic or "for you" sections
    report = send_due_digests(
        services.settings,
        services.engine,
        search,
        recommender=services.recommender() if search is not None else None,
        mailer=services.mailer,
    )
    note = (
        f"due {report.due}, sent {report.sent}, empty {report.skipped_empty}, "
        f"failed {report.failed}, deferred {report.deferred}, busy {report.busy}"
    )
    return f"{note}; stopped: {report.stopped}" if report.stopped else note


def embed_job(services: Services, stop: threading.Event | None = None) -> str:
    """Embed new or changed papers for semantic search (`paperroute embed`); stops between
    small batches once `stop` is set, keeping what it finished (the next run goes on)."""
    service = services.search_service()
    if service is None:
        raise RuntimeError("the search service is unavailable (see the log), so nothing to embed")
    n = embed_pending(service, progress=False, stop=stop)
    if stop is not None and stop.is_set():
        return f"stopped by shutdown after embedding {n} papers; the next run goes on"
    return f"embedded {n} papers"


def notification_mail_job(services: Services, stop: threading.Event | None = None) -> str:
    """Mail the notifications that are due (those not gathered into digests)."""
    report = send_notification_mail(services.settings, services.engine, mailer=services.mailer)
    note = f"sent {report.sent}, failed {report.failed}, deferred {report.deferred}"
    return f"{note}; stopped: {report.stopped}" if report.stopped else note


JOBS: list[Job] = [
    # Digests are concurrent: the delivery ledger gives each digest to exactly one worker.
    Job("digests", 60.0, digest_job, exclusive=False),
    # Every source (the Hugging Face daily papers hourly, Crossref, OpenAlex, PubMed, ACL,
    # bioRxiv, OpenReview, journal feeds, enrichment): each under its own lease and interval,
    # listed, paused and resumed like the others (jobs/sources.py). Its ingest indexes what
    # changed and tells the followers of new papers' authors.
    Job("sync-sources", 60.0, sync_sources_job, lease_seconds=6 * 3600.0),
    Job("embed", 300.0, embed_job, lease_seconds=3600.0),
    # Notification mail: the ledger in store/notifications.py gives each mail to one worker.
    Job("notification-mail", 60.0, notification_mail_job, exclusive=False),
]


def run_worker(
    services: Services,
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
            ran = run_due_jobs(services, jobs, owner, last_local, stop)
            for name, status, message in ran:
                log.info("job %s: %s %s", name, status, message or "")
                if on_run:
                    on_run(name, status, message)
        except Exception:  # the database may be briefly unreachable; try again next tick
            log.exception("worker round failed")
        if once:
            return
        stop.wait(tick_seconds)


def start_background_jobs(services: Services, jobs: list[Job] | None = None) -> Callable[[], None]:
    """Run the worker in a daemon thread of this process; returns a function that stops it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(services, stop, jobs), name="paperroute-jobs", daemon=True
    )
    thread.start()

    def stop_jobs(timeout: float = STOP_SECONDS) -> None:
        stop.set()
        thread.join(timeout)

    return stop_jobs


def attach_background_jobs(app, jobs: list[Job] | None = None) -> None:
    """Run the worker inside a web app's lifespan, on the app's own services."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application):
        stop = start_background_jobs(application.state.services, jobs)
        try:
            async with inner(application) as state:
                yield state
        finally:
            stop()

    app.router.lifespan_context = lifespan
