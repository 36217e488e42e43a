"""Digest delivery end to end against a real aiosmtpd server on loopback, on SQLite and PostgreSQL.

Messages are parsed back with the `email` package; the tests check what a reader's mail client
would show (headers, both MIME parts, links) and that the ledger loses no digest and repeats none
without a crash (crashes: tests/test_jobs_worker.py).
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

import paperroute
from paperroute.digest.delivery import DeliveryOptions, send_due_digests
from paperroute.digest.tokens import read_token
from paperroute.search.embedder import paper_text
from paperroute.sources.files import read_file
from paperroute.store import deliveries, papers
from paperroute.store.schema import embeddings
from paperroute.store.subscriptions import (
    Preferences,
    confirm_subscription,
    get_subscription,
    get_subscription_by_email,
    subscribe,
)
from search_support import HashEmbedder, real_embedder

DEMO = Path(paperroute.__file__).parent / "data" / "demo_papers.jsonl.gz"
FAST = DeliveryOptions(attempts=4, backoff=0.01, retry_after=0.0)


_VECTORS: dict[str, bytes] = {}


def load_demo(engine, count=60, settings=None):
    """The first `count` papers of the bundled demo corpus, first seen now.

    With `settings`, their real embeddings are stored too, as the search side's embed job would:
    computed once per test session, which keeps the model-backed tests fast.
    """
    records = [r for r in islice(read_file(DEMO), count * 2) if not isinstance(r, Exception)]
    papers.upsert_records(engine, records[:count])
    found = papers.get_papers(engine, [r.id for r in records[:count]], with_versions=False)
    if settings is not None:
        missing = [p for p in found if p.id not in _VECTORS]
        if missing:
            vectors = real_embedder().embed([paper_text(p.title, p.abstract) for p in missing])
            _VECTORS.update(
                (p.id, v.astype("<f4").tobytes()) for p, v in zip(missing, vectors, strict=True)
            )
        now = datetime.now(UTC)
        rows = [
            {"paper_id": p.id, "model": settings.embedding_model, "content_hash": "test",
             "dim": len(_VECTORS[p.id]) // 4, "vector": _VECTORS[p.id], "created_at": now}
            for p in found
        ]  # fmt: skip
        with engine.begin() as conn:
            conn.execute(embeddings.insert(), rows)
    return found


def active(engine, email, **prefs):
    sub = subscribe(engine, email, Preferences(**prefs))
    return confirm_subscription(engine, sub.id)


def send(settings, engine, moment=None, **kw):
    # No search service: these digests have no topic or "for you" section.
    return send_due_digests(settings, engine, None, moment=moment, **kw)


def test_digest_arrives_only_after_confirmation_with_headers_parts_and_links(
    engine,
    mail_settings,
    smtp_server,
):
    demo = load_demo(engine)
    author = demo[1].author_names[0]
    sub = subscribe(
        engine, "reader@example.com", Preferences(follow_authors=[author.upper()], send_hour=0)
    )
    assert send(mail_settings, engine).due == 0
    assert smtp_server.messages == []

    confirm_subscription(engine, sub.id)
    report = send(mail_settings, engine)
    assert report.sent == 1
    [msg] = smtp_server.messages
    assert msg["To"] == "reader@example.com"
    assert msg["From"] == "Paper Route <digest@papers.example.org>"
    assert msg["Reply-To"] == "editors@papers.example.org"
    assert msg["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<digest\.\d+\.\d{4}-\d\d-\d\d@papers\.example\.org>", msg["Message-ID"])
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [https_unsub] = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
    assert https_unsub.startswith("https://papers.example.org/subscriptions/unsubscribe?token=")
    token = parse_qs(urlparse(https_unsub).query)["token"][0]
    assert read_token(mail_settings, token, "unsubscribe") == sub.id

    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    by_author = [p for p in demo if author in p.author_names]
    trending = sorted((p for p in demo if p.total_upvotes), key=lambda p: -p.total_upvotes)
    assert "Authors you follow" in text and "Trending" in text
    assert text.index("Authors you follow") < text.index("Trending")
    for paper in by_author:
        assert f"https://papers.example.org/papers/{paper.id}" in html
        assert f"https://papers.example.org/papers/{paper.id}" in text
        assert paper.title.split()[0] in text
    assert f"by {author.upper()}" in text
    assert any(f"/papers/{p.id}" in html for p in trending[:10])
    assert 'name="color-scheme"' in html and "prefers-color-scheme: dark" in html
    assert "Unsubscribe" in html and "/subscriptions/preferences?token=" in html

    # Another run in the same period sends nothing more.
    assert send(mail_settings, engine).sent == 0
    assert len(smtp_server.messages) == 1
    [row] = deliveries.list_deliveries(engine)
    assert row["status"] == "sent" and row["message_id"] == msg["Message-ID"]


def test_a_digest_has_one_date_message_id_and_mime_version_as_received(
    engine,
    mail_settings,
    smtp_server,
):
    load_demo(engine, 20)
    active(engine, "headers@example.com", send_hour=0, send_empty=True)
    assert send(mail_settings, engine).sent == 1
    [raw] = smtp_server.handler.raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)  # the stdlib parser
    for name in ("Date", "Message-ID", "MIME-Version", "Subject", "From", "To"):
        assert len(parsed.get_all(name) or []) == 1, name
    assert not [p for p in parsed.iter_parts() if p["MIME-Version"]]  # top level only
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # policy.SMTP line ends


def test_list_unsubscribe_goes_on_the_wire_as_the_bare_url(
    engine,
    mail_settings,
    smtp_server,  # noqa: F811
):
    # Mail clients read List-Unsubscribe as written (RFC 2369): RFC 2047 encoded words, which
    # the header registry used to fold a long URL into, would hide the URL from them.
    load_demo(engine, 20)
    active(engine, "leaving@example.com", send_hour=0, send_empty=True)
    assert send(mail_settings, engine).sent == 1
    [raw] = smtp_server.handler.raw
    [line] = [h for h in raw.split(b"\r\n") if h.startswith(b"List-Unsubscribe:")]
    assert re.fullmatch(
        rb"List-Unsubscribe: <https://papers\.example\.org/subscriptions/unsubscribe\?token=[\w.%-]+>",
        line,
    )
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


def test_a_legacy_subscription_holding_an_address_list_is_not_fanned_out(
    engine,
    mail_settings,
    smtp_server,
):
    from sqlalchemy import update

    from paperroute.store.schema import subscriptions

    load_demo(engine, 20)
    bad = active(engine, "first@example.com", send_hour=0, send_empty=True)
    with engine.begin() as conn:  # a row stored before addresses were checked
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == bad.id)
            .values(email="first@example.com,second@example.com")
        )
    active(engine, "fine@example.com", send_hour=0, send_empty=True)
    report = send(mail_settings, engine)
    assert report.sent == 1 and report.failed == 1
    assert [m["To"] for m in smtp_server.messages] == ["fine@example.com"]
    [failed] = [r for r in deliveries.list_deliveries(engine) if r["status"] == "failed"]
    assert "not exactly one address" in failed["last_error"]


def test_temporary_smtp_failures_then_recovery_send_each_digest_once(
    engine,
    mail_settings,
    smtp_server,
):
    load_demo(engine, 20)
    emails = [f"r{i}@example.com" for i in range(5)]
    for address in emails:
        active(engine, address, send_hour=0)
    smtp_server.handler.fail_next(
        ["421 4.3.2 Service shutting down", "451 4.3.0 Try again later", "451 4.3.0 Later"]
    )
    report = send(mail_settings, engine, options=FAST)
    assert report.sent == 5 and report.deferred == 0
    assert sorted(m["To"] for m in smtp_server.messages) == emails
    assert smtp_server.handler.data_commands == 8
    assert {r["status"] for r in deliveries.list_deliveries(engine)} == {"sent"}


def test_unreachable_server_defers_the_digest_and_a_later_run_sends_it(
    engine,
    mail_settings,
    smtp_server,
):
    load_demo(engine, 20)
    active(engine, "later@example.com", send_hour=0)
    down = mail_settings.model_copy(update={"smtp_port": 1})
    report = send(down, engine, options=FAST)
    assert report.deferred == 1 and report.stopped
    [row] = deliveries.list_deliveries(engine)
    assert row["status"] == "retry" and "connect" in row["last_error"]
    assert send(mail_settings, engine, options=FAST).sent == 1
    assert len(smtp_server.messages) == 1


def test_hard_bounces_are_recorded_and_pause_the_address(
    engine,
    mail_settings,
    smtp_server,
):
    load_demo(engine, 20)
    # send_empty: the later days hold no new papers, yet a digest is still attempted.
    sub = active(engine, "gone@example.com", send_hour=0, send_empty=True)
    active(engine, "fine@example.com", send_hour=0)
    smtp_server.handler.refuse.add("gone@example.com")
    options = DeliveryOptions(attempts=2, backoff=0.01, pause_after=2)
    day = datetime.now(UTC)
    first = send(mail_settings, engine, moment=day, options=options)
    assert (first.sent, first.failed, first.paused) == (1, 1, [])
    failed = [r for r in deliveries.list_deliveries(engine, sub.id)]
    assert failed[0]["status"] == "failed" and "550" in failed[0]["last_error"]
    second = send(mail_settings, engine, moment=day + timedelta(days=1), options=options)
    assert second.paused == ["gone@example.com"]
    assert get_subscription(engine, sub.id).status == "paused"
    third = send(mail_settings, engine, moment=day + timedelta(days=2), options=options)
    assert third.failed == 0
    assert smtp_server.handler.to("gone@example.com") == []


def test_empty_digest_is_not_sent_unless_asked(engine, mail_settings, smtp_server):
    active(engine, "quiet@example.com", send_hour=0)
    active(engine, "always@example.com", send_hour=0, send_empty=True)
    report = send(mail_settings, engine)
    assert (report.sent, report.skipped_empty) == (1, 1)
    [msg] = smtp_server.messages
    assert msg["To"] == "always@example.com"
    assert "No new papers matched" in msg.get_body(("plain",)).get_content()


def test_smtp_authentication_from_settings(settings):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from pydantic import SecretStr

    from paperroute.digest.render import subscription_message
    from paperroute.mail.smtp import Mailer
    from paperroute.store.subscriptions import Subscription
    from smtp_fixture import Recorder, free_port

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"digest" and auth_data.password == b"s3cret"
        return AuthResult(success=ok)

    handler, port = Recorder(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_required=True,
                            auth_require_tls=False, authenticator=authenticator)  # fmt: skip
    controller.start()
    try:
        msg = subscription_message(
            settings, Subscription(1, "auth@example.org", "pending", Preferences())
        )
        base = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_user": "digest"}
        good = settings.model_copy(update={**base, "smtp_password": SecretStr("s3cret")})
        with Mailer(good, rate=0) as mailer:
            mailer.send(msg)
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_send_rate_limit_spaces_messages(smtp_server):
    import time as clock

    from paperroute.config import Settings
    from paperroute.digest.render import subscription_message
    from paperroute.mail.smtp import Mailer
    from paperroute.store.subscriptions import Subscription

    settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                        mail_rate_per_second=20)  # fmt: skip
    msg = subscription_message(settings, Subscription(1, "r@example.org", "pending", Preferences()))
    started = clock.monotonic()
    with Mailer(settings) as mailer:
        for _ in range(6):
            mailer.send(msg)
    assert clock.monotonic() - started >= 5 / 20
    assert len(smtp_server.messages) == 6


def test_cli_subscribe_sends_a_confirmation_and_names_bad_fields(
    settings,
    engine,
    smtp_server,
):
    from typer.testing import CliRunner

    from paperroute.cli import app

    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.sqlalchemy_url]
    env = {"PAPERROUTE_SMTP_HOST": smtp_server.host, "PAPERROUTE_SMTP_PORT": str(smtp_server.port)}
    bad = runner.invoke(app, [*base, "subscribe", "cli@example.org", "--timezone", "Mars/Base"],
                        env=env)  # fmt: skip
    assert bad.exit_code == 2 and "timezone" in bad.output
    ok = runner.invoke(app, [*base, "subscribe", "cli@example.org", "--topic", "graph neural nets",
                             "--cadence", "weekly", "--weekday", "2"], env=env)  # fmt: skip
    assert ok.exit_code == 0, ok.output
    [message] = smtp_server.handler.to("cli@example.org")
    assert "/subscriptions/confirm?token=" in message.get_body(("plain",)).get_content()
    sub = get_subscription_by_email(engine, "cli@example.org")
    assert (sub.status, sub.prefs.cadence, sub.prefs.topics) == (
        "pending",
        "weekly",
        ["graph neural nets"],
    )


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_smtp_over_starttls_and_implicit_tls(settings, tmp_path, mode):
    import shutil
    import ssl
    import subprocess

    from aiosmtpd.controller import Controller

    from paperroute.digest.render import subscription_message
    from paperroute.mail.smtp import Mailer
    from paperroute.store.subscriptions import Subscription
    from smtp_fixture import Recorder, free_port

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))  # trusts only the test certificate
    handler, port = Recorder(), free_port()
    tls = {"tls_context": server_ctx, "require_starttls": True} if mode == "starttls" else {}
    if mode == "ssl":
        tls = {"ssl_context": server_ctx}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        secure = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": mode}
        )
        msg = subscription_message(
            settings, Subscription(1, "tls@example.org", "pending", Preferences())
        )
        with Mailer(secure, rate=0, tls_context=client_ctx) as mailer:
            mailer.send(msg)
        assert [m["To"] for m in handler.messages] == ["tls@example.org"]
    finally:
        controller.stop()


def test_daily_and_weekly_readers_are_matched_against_their_own_new_papers(engine, settings):
    from sqlalchemy import update

    from paperroute.digest.signals import gather_inputs
    from paperroute.models import PaperRecord
    from paperroute.search.service import SearchService
    from paperroute.store.schema import papers as papers_table

    now = datetime.now(UTC)
    records = [
        PaperRecord(source="test", id=f"2501.{i:05d}", title=title, abstract="Graph learning.")
        for i, title in enumerate(
            ["Graph neural networks", "Graph neural networks again", "Graph neural networks today"]
        )
    ]
    papers.upsert_records(engine, records)
    for record, age in zip(records, (5, 4, 0), strict=True):
        with engine.begin() as conn:
            conn.execute(
                update(papers_table)
                .where(papers_table.c.id == record.id)
                .values(first_seen=now - timedelta(days=age, hours=1))
            )
    prefs = {"topics": ["graph neural networks"], "sections": {"topics": 5, "trending": 0}}
    daily = active(engine, "daily@example.org", **prefs)
    weekly = active(engine, "weekly@example.org", cadence="weekly", **prefs)
    since = {daily.id: now - timedelta(days=1), weekly.id: now - timedelta(days=7)}

    # No stored vectors, so words match: this test is about which papers each reader is matched
    # against, not about meaning.
    search = SearchService(settings, engine, embedder=HashEmbedder())
    got = gather_inputs(engine, settings, [daily, weekly], since, search, now)
    matches = {r.subscription.email: r.signals.topic_matches["graph neural networks"] for r in got}
    assert matches["daily@example.org"] == ["2501.00002"]
    assert sorted(matches["weekly@example.org"]) == ["2501.00000", "2501.00001", "2501.00002"]


def test_the_digests_trending_order_is_the_trending_pages_among_its_papers(engine, settings):
    from sqlalchemy import update

    from paperroute.digest.signals import gather_inputs
    from paperroute.ranking.leaderboard import list_trending
    from paperroute.store.schema import papers as papers_table

    demo = load_demo(engine, 40)
    now = datetime.now(UTC)
    # Hugging Face upvotes on every third paper, and local saves on a few others.
    with engine.begin() as conn:
        for n, p in enumerate(demo):
            conn.execute(
                update(papers_table)
                .where(papers_table.c.id == p.id)
                .values(hf_upvotes=(n * 7) % 13 if n % 3 == 0 else 0, saves=int(n % 5 == 1))
            )
    sub = active(engine, "trends@example.org", sections={"trending": 5})
    [reader] = gather_inputs(engine, settings, [sub], {sub.id: now - timedelta(days=1)}, None, now)

    page = [p.id for p, score in list_trending(engine, now, limit=200) if score.points > 0]
    pool = {p.id for p in reader.papers}
    assert reader.signals.trending == [pid for pid in page if pid in pool]
    assert len(reader.signals.trending) > 5
