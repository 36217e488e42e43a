"""The worker and scheduler for real: worker processes killed with SIGKILL, two workers at once,
job leases in `job_runs`; digests go to a real aiosmtpd server on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from paperroute.jobs import scheduler
from paperroute.jobs.scheduler import Job
from paperroute.jobs.sources import sync_sources_job
from paperroute.jobs.worker import digest_job, run_worker, start_background_jobs
from paperroute.services import Services
from paperroute.store import deliveries
from test_digest_delivery import active, load_demo

# The web-process tests run only the digest job: the sync job would reach for huggingface.co.
DIGESTS_ONLY = [Job("digests", 60.0, digest_job, exclusive=False)]
# The sources job with only the Hugging Face daily papers on (enrichment would reach the web).
HF_ONLY = {"enrich_citations": False, "enrich_published": False, "enrich_code": False}


def worker_env(settings, server, rate=0):
    env = dict(os.environ)
    env.update(
        PAPERROUTE_DATABASE_URL=settings.sqlalchemy_url,
        PAPERROUTE_DATA_DIR=str(settings.data_dir),
        PAPERROUTE_SMTP_HOST=server.host,
        PAPERROUTE_SMTP_PORT=str(server.port),
        PAPERROUTE_MAIL_RATE_PER_SECOND=str(rate),
        PAPERROUTE_LOAD_DEMO="false",
    )
    return env


def digest_send(env, *args):
    cmd = [sys.executable, "-m", "paperroute.cli", "digest", "send", "--backoff", "0.01", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def subscribers(engine, count):
    load_demo(engine, 20)
    return [active(engine, f"reader{i:02d}@example.com", send_hour=0).email for i in range(count)]


def assert_one_each(server, emails):
    received = sorted(m["To"] for m in server.messages)
    assert received == sorted(emails), "every subscriber exactly one digest, none missing"
    ids = [m["Message-ID"] for m in server.messages]
    assert len(set(ids)) == len(ids)


def test_worker_killed_before_a_250_and_restarted_loses_no_digest_and_repeats_none(
    engine,
    settings,
    smtp_server,
):
    emails = subscribers(engine, 12)
    env = worker_env(settings, smtp_server)
    first = digest_send(env, "--lease-seconds", "6")
    killed = threading.Event()

    def kill_during_fifth_message(envelope):
        # SIGKILL while the worker waits for the reply to DATA: the message is neither accepted
        # nor recorded, the worker's claim stays behind, as after a real crash.
        if len(smtp_server.messages) == 4 and not killed.is_set():
            os.kill(first.pid, signal.SIGKILL)
            killed.set()
            return "451 4.3.0 Connection lost"
        return None

    smtp_server.handler.on_data = kill_during_fifth_message
    first.wait(60)
    assert first.returncode == -signal.SIGKILL
    rows = deliveries.list_deliveries(engine)
    assert sorted(r["status"] for r in rows) == ["claimed"] + ["sent"] * 4
    [stale] = [r for r in rows if r["status"] == "claimed"]
    # A restart at once leaves the crashed worker's live claim alone...
    second = digest_send(env, "--lease-seconds", "2")
    out, _ = second.communicate(timeout=60)
    assert json.loads(out)["sent"] == 7
    # ...and takes it over once its lease has expired.
    lease_end = stale["claimed_until"].replace(tzinfo=UTC)
    time.sleep(max(0.0, (lease_end - datetime.now(UTC)).total_seconds()) + 0.2)
    third = digest_send(env, "--lease-seconds", "2")
    out, errors = third.communicate(timeout=60)
    assert third.returncode == 0, errors
    assert json.loads(out)["sent"] == 1
    assert_one_each(smtp_server, emails)
    assert {r["status"] for r in deliveries.list_deliveries(engine)} == {"sent"}


def test_two_workers_at_once_share_the_batch_without_duplicates(
    engine,
    settings,
    smtp_server,
):
    emails = subscribers(engine, 40)
    env = worker_env(settings, smtp_server, rate=25)
    workers = [digest_send(env) for _ in range(2)]
    reports = []
    for proc in workers:
        out, errors = proc.communicate(timeout=120)
        assert proc.returncode == 0, errors
        reports.append(json.loads(out))
    assert_one_each(smtp_server, emails)
    assert sum(r["sent"] for r in reports) == 40
    assert all(r["sent"] > 0 for r in reports), f"both workers should share the work: {reports}"


def test_job_lease_lets_one_worker_run_an_exclusive_job_once_per_interval(engine):
    job = Job("sync", 3600.0)
    now = datetime.now(UTC)
    assert scheduler.try_lease(engine, job, "a", now)
    assert not scheduler.try_lease(engine, job, "b", now)
    scheduler.finish(engine, job, "a", "ok", "done")
    assert not scheduler.try_lease(engine, job, "b", now + timedelta(seconds=60))
    assert scheduler.try_lease(engine, job, "b", now + timedelta(seconds=3601))


def test_a_stale_job_lease_is_taken_over_after_it_expires(engine):
    job = Job("embed", 0.0, lease_seconds=30)
    now = datetime.now(UTC)
    assert scheduler.try_lease(engine, job, "crashed", now)
    assert not scheduler.try_lease(engine, job, "b", now + timedelta(seconds=29))
    assert scheduler.try_lease(engine, job, "b", now + timedelta(seconds=31))


def failing_sync(services, stop=None):
    """A job that fails as a source's parser would on a record it does not expect."""
    raise KeyError("published")


def test_worker_round_runs_jobs_and_records_a_failing_one_without_stopping(
    engine,
    settings,
    smtp_server,
):
    subscribers(engine, 2)
    mail = settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    )
    jobs = [
        Job("sync", 3600.0, failing_sync),
        Job("digests", 60.0, digest_job, exclusive=False),
    ]
    ran = []
    services = Services.for_worker(mail, engine)
    run_worker(services, threading.Event(), jobs, once=True, on_run=lambda *a: ran.append(a))
    assert [(name, status) for name, status, _ in ran] == [("sync", "error"), ("digests", "ok")]
    assert len(smtp_server.messages) == 2
    status = {r["name"]: r for r in scheduler.job_status(engine)}
    assert status["digests"]["last_message"].startswith("due 2, sent 2")
    assert status["sync"]["last_message"].startswith("KeyError: 'published'")


def _instances(monkeypatch, cls) -> list:
    """Every instance of `cls` made from now on, in order (its __init__ wrapped)."""
    made, init = [], cls.__init__

    def counting_init(self, *args, **kwargs):
        made.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", counting_init)
    return made


def test_every_job_of_a_process_shares_its_one_search_service(engine, settings, monkeypatch):
    """One embedding model and one set of indexes per process: the worker's jobs used to build a
    SearchService (a second MiniLM, a second vector index) on every run."""
    from paperroute.jobs.worker import embed_job
    from paperroute.ranking.foryou import Recommender
    from paperroute.search.service import SearchService
    from paperroute.services import LazySearch
    from webtools import make_app

    built = _instances(monkeypatch, SearchService)
    recommenders = _instances(monkeypatch, Recommender)
    services = Services.for_worker(settings, engine, LazySearch(settings, engine, warm_up=False))
    jobs = [Job("embed", 0.0, embed_job, lease_seconds=30), Job("digests", 0.0, digest_job)]
    ran = []
    for _ in range(2):
        run_worker(services, threading.Event(), jobs, once=True, on_run=lambda *a: ran.append(a))
    assert [(name, status) for name, status, _ in ran] == [("embed", "ok"), ("digests", "ok")] * 2
    assert built == [services.search_service()]
    # ... and one recommender, whose caches every digest run (and /for-you in the web) reuse
    assert recommenders == [services.recommender()]
    # The web process's jobs (run_jobs_in_web) run on the app's own services and search service.
    app = make_app(settings, engine, enable_search=True)
    assert app.state.services.search.get == app.state.search_provider
    assert app.state.services.ingest is app.state.ingest


def test_background_jobs_start_and_stop_with_the_web_process(
    engine,
    settings,
    smtp_server,
):
    subscribers(engine, 1)
    mail = settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    )
    stop = start_background_jobs(Services.for_worker(mail, engine), DIGESTS_ONLY)
    deadline = time.monotonic() + 20
    while not smtp_server.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    stop()
    assert len(smtp_server.messages) == 1


def test_web_app_lifespan_runs_the_jobs_and_stops_them(engine, settings, smtp_server):
    from fastapi.testclient import TestClient

    from paperroute.jobs.worker import attach_background_jobs
    from webtools import make_app

    subscribers(engine, 1)
    mail = settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    )
    app = make_app(mail, engine)
    attach_background_jobs(app, DIGESTS_ONLY)
    with TestClient(app):
        deadline = time.monotonic() + 20
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(smtp_server.messages) == 1
    assert not any(t.name == "paperroute-jobs" and t.is_alive() for t in threading.enumerate())


def test_sync_job_fetches_todays_hugging_face_papers_from_the_configured_server(
    engine, settings, httpserver
):
    from pathlib import Path

    from paperroute.store.papers import count_papers

    day = Path(__file__).parent / "data" / "sources" / "hf" / "2026-08-21.json"
    httpserver.expect_request("/api/daily_papers").respond_with_data(
        day.read_bytes(), content_type="application/json"
    )
    live = settings.model_copy(
        update={"hf_api_url": httpserver.url_for("/").rstrip("/"), **HF_ONLY,
                "submission_max_age_days": 100_000}  # the recorded day is months old
    )  # fmt: skip
    from paperroute.store import notifications as notify_store
    from paperroute.store.subscriptions import follow_author
    from paperroute.store.users import add_user

    kou = add_user(engine, "kou-fan@example.org")
    follow_author(engine, kou.id, kou.email, "Kou Shi")
    note = sync_sources_job(Services.for_worker(live, engine))
    assert count_papers(engine) == 3
    assert len(httpserver.log) == 2, "yesterday and today"
    assert note.startswith("hf-daily: ok 6 records: 3 papers added")  # one reply, both days
    # The job's ingest tells the followers of the new papers' authors.
    found = notify_store.list_notifications(engine, kou.id)
    assert [(n.kind, n.paper_id) for n in found] == [("followed_author", "2608.18580")]


def test_an_unreachable_source_is_logged_as_a_message_without_a_traceback(
    engine, settings, monkeypatch, caplog
):
    # Port 9 on loopback refuses connections: the sync job's source is offline, as on a laptop.
    offline = settings.model_copy(
        update={"hf_api_url": "http://127.0.0.1:9", "http_retries": 0, **HF_ONLY}
    )
    with caplog.at_level("WARNING", logger="paperroute.jobs"):
        note = sync_sources_job(Services.for_worker(offline, engine))
    assert note.startswith("hf-daily: error") and "unreachable" in note
    assert caplog.records and all(r.exc_info is None for r in caplog.records)


class LedgerLock:
    """Holds the delivery ledger's write lock from another connection, as a slow commit would."""

    def __init__(self, engine):
        self.engine = engine
        self.conn = None

    def take(self) -> None:
        self.conn = self.engine.connect()
        if self.engine.dialect.name == "sqlite":
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")  # the one SQLite writer is now us
        else:
            self.conn.begin()
            self.conn.exec_driver_sql("LOCK TABLE deliveries IN EXCLUSIVE MODE")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def test_a_kill_between_the_250_and_the_ledger_commit_resends_that_digest_once_with_its_message_id(
    engine,
    settings,
    smtp_server,
):
    emails = subscribers(engine, 6)
    env = worker_env(settings, smtp_server)
    env["PAPERROUTE_MAIL_FROM"] = "Papers <digest@old.example.org>"
    first = digest_send(env, "--lease-seconds", "2")
    lock = LedgerLock(engine)

    def kill_after_accepting_the_third(envelope):
        # Accept the third digest (250) while the ledger cannot commit, then SIGKILL the worker:
        # the worst moment, the message delivered and its `sent` row not yet written.
        if len(smtp_server.messages) == 2 and lock.conn is None:
            lock.take()

            def kill():
                os.kill(first.pid, signal.SIGKILL)
                first.wait(10)
                lock.release()

            threading.Timer(1.0, kill).start()
        return None

    smtp_server.handler.on_data = kill_after_accepting_the_third
    first.wait(60)
    assert first.returncode == -signal.SIGKILL
    assert len(smtp_server.messages) == 3
    [claimed] = [r for r in deliveries.list_deliveries(engine) if r["status"] == "claimed"]
    assert claimed["message_id"] == smtp_server.messages[2]["Message-ID"]  # stored before sending
    # The operator fixes the From address before the restart: the re-send keeps its Message-ID.
    env["PAPERROUTE_MAIL_FROM"] = "Papers <digest@new.example.org>"
    smtp_server.handler.on_data = None
    time.sleep(2.2)  # the crashed worker's lease runs out
    second = digest_send(env, "--lease-seconds", "2")
    out, errors = second.communicate(timeout=60)
    assert second.returncode == 0, errors
    assert json.loads(out)["sent"] == 4
    received = sorted(m["To"] for m in smtp_server.messages)
    twice = smtp_server.messages[2]["To"]
    assert received == sorted([*emails, twice]), "none lost, exactly one duplicate"
    copies = [m["Message-ID"] for m in smtp_server.messages if m["To"] == twice]
    assert len(copies) == 2 and copies[0] == copies[1]
    assert {r["status"] for r in deliveries.list_deliveries(engine)} == {"sent"}
