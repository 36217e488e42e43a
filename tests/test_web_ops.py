"""What a self-hoster's tooling sees: a real `paperroute serve` that stops on SIGTERM within 5 s
while it embeds, JSON logs, /healthz and /readyz, and Prometheus /metrics behind a token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, select

from factories import record
from paperroute.search.embedding import embed_pending
from paperroute.search.service import SearchService
from paperroute.store import embeddings as emb_store
from paperroute.store.papers import upsert_records
from paperroute.store.schema import job_runs
from webtools import DAY1, client_for, free_port, make_app, seed


def serve(settings, port: int, **env_extra: str) -> subprocess.Popen:
    """`paperroute serve` in its own process, on the test database, never reaching out."""
    env = dict(os.environ)
    env.update(
        PAPERROUTE_DATA_DIR=str(settings.data_dir),
        PAPERROUTE_DATABASE_URL=settings.sqlalchemy_url,
        PAPERROUTE_LOAD_DEMO="false",
        PAPERROUTE_HF_API_URL="http://127.0.0.1:9",  # the hourly sync fails at once, offline
        PAPERROUTE_HTTP_RETRIES="0",
        PAPERROUTE_EMBEDDING_QUERY_BACKEND="torch",  # no ONNX export: a faster start
        **env_extra,
    )
    cmd = [sys.executable, "-m", "paperroute.cli", "serve", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_stops_the_server_within_5_s_while_it_embeds_and_the_job_resumes(settings, engine):
    upsert_records(engine, [record(f"2502.{n:05d}", DAY1, 1) for n in range(1, 1501)])
    model = settings.embedding_model
    server = serve(settings, free_port())
    try:
        wait_for(lambda: emb_store.count_vectors(engine, model) > 0, 240, "embedding to start")
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        took = time.monotonic() - started
    finally:
        server.kill()
        _, stderr = server.communicate()
    # uvicorn shuts down cleanly, then re-raises the signal so the exit status tells of it.
    assert server.returncode == -signal.SIGTERM, stderr[-2000:]
    assert "Application shutdown complete." in stderr
    assert took < 5.0, f"SIGTERM took {took:.1f}s"
    with engine.connect() as conn:
        run = conn.execute(select(job_runs).where(job_runs.c.name == "embed")).mappings().one()
    assert run["lease_owner"] is None, "the lease is given back, not held for an hour"
    assert "stopped by shutdown" in run["last_message"]
    kept = emb_store.count_vectors(engine, model)
    assert 0 < kept < 1500 and emb_store.count_pending(engine, model) == 1500 - kept
    service = SearchService(settings, engine)
    service.open()
    assert embed_pending(service, limit=5) == 5, "the next run goes on where it stopped"
    assert emb_store.count_vectors(engine, model) == kept + 5


@pytest.fixture
def sqlite_settings(tmp_path):
    from paperroute.config import load_settings

    return load_settings(data_dir=tmp_path / "data", load_demo=False)


def test_json_logs_and_probes_on_a_real_server(sqlite_settings):
    port = free_port()
    server = serve(
        sqlite_settings, port, PAPERROUTE_LOG_FORMAT="json", PAPERROUTE_RUN_JOBS_IN_WEB="false"
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy():
            try:
                return httpx.get(f"{url}/healthz").json()
            except httpx.HTTPError:
                return None

        assert wait_for(healthy, 60, "the server") == {"status": "ok"}
        ready = wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200, 240, "ready")
        assert ready and httpx.get(f"{url}/readyz").json()["search"] == "ready"
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    finally:
        server.kill()
        _, stderr = server.communicate()
    lines = [line for line in stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    messages = [r["message"] for r in records]
    assert any(m.startswith("serving on http://127.0.0.1") for m in messages)
    assert "Application startup complete." in messages
    assert all({"time", "level", "logger"} <= r.keys() for r in records)


def test_readyz_says_why_it_is_not_ready(settings, engine):
    # With the production page cache: a probe must see a change at once, not 10 s later.
    client = client_for(make_app(settings, engine, page_cache_ttl=10.0))
    assert client.get("/readyz").json() == {
        "ready": True,
        "database": "ok",
        "schema": "current",
        "search": "disabled",
    }
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["reason"].startswith("schema: database schema is at 0000")
    client.app.state.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    down = client
    assert down.get("/healthz").json() == {"status": "ok"}  # the process is still up
    answer = down.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["reason"].startswith("database: unreachable (OperationalError")


def test_readyz_is_503_until_the_search_indexes_are_open(settings, engine):
    app = make_app(settings, engine, enable_search=True)
    app.state.search_status = lambda: "opening"  # as while LazySearch loads the model
    answer = client_for(app).get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"ready": False, "reason": "search indexes: opening"}


def test_metrics_need_the_token_and_count_requests_by_route_template(settings, engine):
    seed(engine)
    closed = client_for(make_app(settings, engine))
    assert closed.get("/metrics").status_code == 404  # off unless metrics_token is set
    token = settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    client = client_for(make_app(token, engine))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
    for pid in ("2502.00001", "2502.00002", "2502.99999"):
        client.get(f"/papers/{pid}")
    body = client.get("/metrics", headers={"authorization": "Bearer scrape-me"}).text
    line = (
        'paperroute_http_requests_total{method="GET",route="/papers/{paper_id:path}",status="200"}'
    )
    assert _value(body, line) >= 2
    assert "/papers/2502.00001" not in body, "raw paths would make one series per paper"
    assert _value(body, 'paperroute_index_documents{index="papers"}') == 9
    assert 'paperroute_mails_total{outcome="bounced"}' in body
    assert "paperroute_http_request_duration_seconds_bucket" in body


def _value(body: str, series: str) -> float:
    for line in body.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in /metrics")


def test_metrics_count_mails_sent_retried_and_bounced(settings, smtp_server):
    from email.message import EmailMessage

    from paperroute.mail import MailError, send_email
    from paperroute.metrics import MAILS

    live = settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    )

    def counts():
        return {o: MAILS.labels(o)._value.get() for o in ("sent", "retried", "bounced")}

    def message(to: str) -> EmailMessage:
        msg = EmailMessage()
        msg["To"], msg["Subject"] = to, "hello"
        msg.set_content("hi")
        return msg

    before = counts()
    send_email(live, message("reader@example.org"))
    smtp_server.handler.fail_next(["451 4.3.0 try later"])
    with pytest.raises(MailError):
        send_email(live, message("reader@example.org"))
    smtp_server.handler.refuse.add("nobody@example.org")
    with pytest.raises(MailError):
        send_email(live, message("nobody@example.org"))
    after = counts()
    assert {o: after[o] - before[o] for o in after} == {"sent": 1, "retried": 1, "bounced": 1}


def test_metrics_count_job_runs_by_outcome(settings, engine):
    from paperroute.jobs.scheduler import Job, run_job
    from paperroute.metrics import JOB_RUNS
    from paperroute.services import Services

    def broken(services, stop=None):
        raise RuntimeError("the source changed its format")

    job = Job("broken", 60.0, broken)
    before = JOB_RUNS.labels("broken", "error")._value.get()
    assert run_job(Services.for_worker(settings, engine), job, "w1")[0] == "error"
    assert JOB_RUNS.labels("broken", "error")._value.get() == before + 1
