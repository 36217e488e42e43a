"""Abuse of sign-in and /subscribe (issue 15 items 2, 6, 7, 11, 13) and how their mails look
(issue 11 items 2 and 9): real app, real aiosmtpd on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from paperroute.store import account, auth, users
from paperroute.store import subscriptions as subs
from paperroute.store.schema import login_tokens, subscriptions
from paperroute.store.schema import users as users_table
from smtp_fixture import SmtpServer
from webtools import LiveServer, client_for, csrf_from, doc, link_in, make_app, sign_in, texts


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings, smtp):
    return settings.model_copy(
        update={"smtp_host": smtp.host, "smtp_port": smtp.port, "mail_rate_per_second": 0}
    )


@pytest.fixture
def client(mail_settings, engine):
    return client_for(make_app(mail_settings, engine))


def ask_link(client, address: str):
    form = client.get("/signin")
    return client.post("/signin", data={"email": address, "csrf_token": csrf_from(form)})


def ask_digest(client, address: str, **fields):
    form = client.get("/subscribe")
    data = {"email": address, "csrf_token": csrf_from(form), "send_hour": "0", **fields}
    return client.post("/subscribe", data=data)


def token_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(login_tokens)).scalar_one()


def confirm_link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    [found] = [w for w in body.split() if "/subscriptions/confirm?token=" in w]
    return found


def click(client, url: str):
    """Open an emailed link's page and press its button, as the address owner would."""
    parts = urlsplit(url)
    page = client.get(f"{parts.path}?{parts.query}")
    if not doc(page).cssselect("input[name=csrf_token]"):  # e.g. "already confirmed": no button
        page = client.get("/subscribe")  # a forged POST must still change nothing
    token = parse_qs(parts.query)["token"][0]
    return client.post(parts.path, data={"token": token, "csrf_token": csrf_from(page)})


HOSTILE = {
    "list of 20": ",".join(f"v{i}@example.org" for i in range(20)),
    "trailing comma": "victim@example.org,",
    "semicolon list": "victim@example.org;other@example.org",
    "display name": '"v@example.org"<attacker@example.com>',
    "CR LF header": "victim@example.org\r\nBcc: all@example.org",
    "LF": "victim@example.org\n",
    "U+0085": "victim@example.org\u0085",
    "U+2028": "victim@exam\u2028ple.org",
    "trailing junk": "victim@example.org junk",
    "no at-sign": "victim.example.org",
}


@pytest.mark.parametrize("address", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_sign_in_address_is_a_422_at_the_field_with_no_token_and_no_mail(
    client, engine, smtp, address
):
    response = ask_link(client, address)
    assert response.status_code == 422
    [error] = texts(response, "#email-error")
    assert error.startswith("Email:") and "is not one email address" in error
    if address.isprintable():  # control characters cannot round-trip through the HTML parser
        assert doc(response).xpath("//input[@name='email']/@value") == [address]
    assert token_count(engine) == 0
    assert smtp.messages == []


@pytest.mark.parametrize("address", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_subscribe_address_is_a_422_at_the_field_and_sends_nothing(
    client, engine, smtp, address
):
    response = ask_digest(client, address)
    assert response.status_code == 422
    assert "is not one email address" in texts(response, "#email-error")[0]
    if address.isprintable():
        assert doc(response).xpath("//input[@name='email']/@value") == [address]
    assert subs.list_subscriptions(engine, None) == []
    assert smtp.messages == []


def test_a_nul_in_an_address_is_a_422_naming_the_field_and_sends_nothing(client, engine, smtp):
    # The app-wide NUL check (web/protocol.refuse_nul) answers before the form handler does.
    for response in (ask_link(client, "victim@example.org\x00"), ask_digest(client, "v@x.org\x00")):
        assert response.status_code == 422
        assert "email: contains a NUL character" in response.text
    assert token_count(engine) == 0
    assert subs.list_subscriptions(engine, None) == []
    assert smtp.messages == []


def test_an_address_is_stored_normalised_with_an_idna_domain(client, engine, smtp):
    assert ask_link(client, "  Reader@BÜCHER.example  ").status_code == 200
    [message] = smtp.messages
    assert message["To"] == "reader@xn--bcher-kva.example"
    with engine.connect() as conn:
        assert conn.execute(select(login_tokens.c.email)).scalars().all() == [
            "reader@xn--bcher-kva.example"
        ]


def test_sign_in_limit_counts_every_spelling_of_one_address_together(client, smtp):
    spellings = ["victim@example.org", "Victim@Example.org", "VICTIM@example.ORG"]
    codes = [ask_link(client, spellings[n % 3]).status_code for n in range(7)]
    assert codes == [200] * 5 + [429] * 2
    assert len(smtp.handler.to("victim@example.org")) == 5
    for variant in ("victim@example.org,", "victim@example.org\x00", " victim@example.org,x"):
        assert ask_link(client, variant).status_code == 422
    assert len(smtp.messages) == 5


def test_subscribe_confirmation_mails_are_limited_per_address_and_per_client(client, smtp):
    codes = [ask_digest(client, "victim@example.org").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = ask_digest(client, "Victim@EXAMPLE.org")
    assert refused.status_code == 429
    assert "3 confirmation emails in the last hour" in texts(refused, ".error")[0]
    assert len(smtp.handler.to("victim@example.org")) == 3
    # One client cannot spread the bombing over many addresses either (20 per 15 minutes).
    codes = [ask_digest(client, f"other{n}@example.org").status_code for n in range(16)]
    assert codes[:14] == [200] * 14 and set(codes[14:]) == {429}
    assert len(smtp.messages) == 3 + 14


def test_a_signed_in_attacker_cannot_take_over_an_unsubscribed_address(client, engine, smtp):
    victim = subs.subscribe(engine, "victim@example.org", subs.Preferences(topics=["mine"]))
    subs.confirm_subscription(engine, victim.id)
    subs.unsubscribe(engine, victim.id)
    attacker = sign_in(client, engine, "attacker@example.org")
    response = ask_digest(client, "victim@example.org", topics="attacker topic")
    assert response.status_code == 200  # the same answer as for any address: nothing leaks
    row = subs.get_subscription(engine, victim.id)
    assert row.user_id is None and row.status == "unsubscribed"
    assert row.prefs.topics == ["mine"]
    assert account.export_account(engine, attacker.id)["subscription"] is None
    assert client.get("/settings/digest").status_code == 200
    assert "victim@example.org" not in client.get("/settings/digest").text


def test_a_pending_address_keeps_its_owners_request_whatever_others_post(
    mail_settings, client, engine, smtp
):
    assert ask_digest(client_for(make_app(mail_settings, engine)), "victim@example.org",
                      topics="owner topic").status_code == 200  # fmt: skip
    owners_mail = smtp.messages[-1]
    attacker = sign_in(client, engine, "attacker@example.org")
    assert ask_digest(client, "victim@example.org", topics="attacker topic").status_code == 200
    anonymous = client_for(make_app(mail_settings, engine))
    assert ask_digest(anonymous, "victim@example.org", topics="anon topic").status_code == 200
    sub = subs.get_subscription_by_email(engine, "victim@example.org")
    assert sub.prefs.topics == ["owner topic"] and sub.user_id is None
    # The owner confirms from their own mail: their request is what takes effect.
    owner = client_for(make_app(mail_settings, engine))
    assert click(owner, confirm_link(owners_mail)).status_code == 200
    sub = subs.get_subscription(engine, sub.id)
    assert sub.status == "active" and sub.prefs.topics == ["owner topic"]
    assert sub.user_id is None
    assert account.export_account(engine, attacker.id)["subscription"] is None
    # The other requests' links died with the confirmation: they change nothing now.
    for stale in smtp.messages[-2:]:
        assert click(owner, confirm_link(stale)).status_code == 200
    assert subs.get_subscription(engine, sub.id).prefs.topics == ["owner topic"]


def test_an_anonymous_subscribe_does_not_overwrite_an_unsubscribed_addresses_preferences(
    client, engine, smtp
):
    sub = subs.subscribe(engine, "reader@example.org", subs.Preferences(topics=["kept"]))
    subs.confirm_subscription(engine, sub.id)
    subs.unsubscribe(engine, sub.id)
    assert ask_digest(client, "reader@example.org", topics="overwritten").status_code == 200
    assert subs.get_subscription(engine, sub.id).prefs.topics == ["kept"]
    # Only the owner's click on the mail that request produced applies it.
    assert click(client, confirm_link(smtp.messages[-1])).status_code == 200
    after = subs.get_subscription(engine, sub.id)
    assert after.status == "active" and after.prefs.topics == ["overwritten"]


def test_the_account_export_shows_only_subscriptions_the_user_owns(engine):
    user = users.add_user(engine, "reader@example.org")
    subs.subscribe(engine, "reader@example.org", subs.Preferences(topics=["someone's"]))
    assert account.export_account(engine, user.id)["subscription"] is None  # same address only
    users.record_login(engine, "reader@example.org")  # signing in proves the address
    exported = account.export_account(engine, user.id)["subscription"]
    assert exported["preferences"]["topics"] == ["someone's"]


def test_a_legacy_comma_list_account_can_still_use_the_digest_pages(client, engine, smtp):
    sign_in(client, engine, "legacy@example.org")
    with engine.begin() as conn:  # a row stored before addresses were checked
        conn.execute(
            update(users_table).values(email="legacy@example.org,v1@example.org,v2@example.org")
        )
    assert client.get("/subscribe").status_code == 200
    assert client.get("/settings/digest").status_code == 200
    response = ask_digest(client, "work@example.org")
    assert response.status_code == 200
    assert [m["To"] for m in smtp.messages] == ["work@example.org"]
    own = ask_digest(client, "legacy@example.org,v1@example.org,v2@example.org")
    assert own.status_code == 422 and "is not one email address" in texts(own, ".error")[0]


def test_a_legacy_sign_in_token_for_a_bad_address_is_a_clear_400(client, engine):
    token = auth.create_login_token(engine, "ok@example.org")
    with engine.begin() as conn:  # a token stored before addresses were checked
        conn.execute(update(login_tokens).values(email="a@example.org,b@example.org"))
    page = client.get(f"/signin/verify?token={token}")
    done = client.post("/signin/verify", data={"token": token, "csrf_token": csrf_from(page)})
    assert done.status_code == 400
    assert "cannot be used" in texts(done, ".error")[0]


def test_development_without_smtp_shows_the_sign_in_link_marked_development_only(
    settings, engine, caplog
):
    assert settings.environment == "development" and not settings.smtp_configured
    client = client_for(make_app(settings, engine))
    caplog.set_level("DEBUG", logger="paperroute")
    response = ask_link(client, "dev@example.org")
    assert response.status_code == 200
    assert "Development only" in texts(response, ".dev-only")[0]
    assert not texts(response, ".error")
    [shown] = doc(response).xpath("//a[@class='dev-link']/@href")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("paperroute")]
    assert not [m for m in ours if "token=" in m]
    parts = urlsplit(shown)
    page = client.get(f"{parts.path}?{parts.query}")
    form = {"token": parse_qs(parts.query)["token"][0], "csrf_token": csrf_from(page)}
    assert client.post("/signin/verify", data=form).status_code == 303
    assert texts(client.get("/profile"), ".email") == ["dev@example.org"]


def test_production_without_smtp_refuses_to_build_the_app(settings, engine):
    from paperroute.app import create_app

    production = settings.model_copy(
        update={"environment": "production", "secret_key": SecretStr("a-real-long-random-secret")}
    )
    with pytest.raises(ValueError, match="PAPERROUTE_SMTP_HOST"):
        create_app(production, engine=engine)


def headers_of(raw: bytes):
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return {
        name: len(parsed.get_all(name) or []) for name in ("Date", "Message-ID", "MIME-Version")
    }


def test_sign_in_confirmation_and_manage_mails_have_each_header_exactly_once(client, engine, smtp):
    assert ask_link(client, "reader@example.org").status_code == 200
    assert ask_digest(client, "reader@example.org").status_code == 200
    click(client, confirm_link(smtp.messages[-1]))
    assert ask_digest(client, "reader@example.org").status_code == 200  # active: manage mail
    subjects = [m["Subject"] for m in smtp.messages]
    assert [s.split()[0] for s in subjects] == ["Sign", "Confirm", "Your"]
    for raw in smtp.handler.raw:
        assert headers_of(raw) == {"Date": 1, "Message-ID": 1, "MIME-Version": 1}
    assert link_in(smtp.messages[0]).startswith("http")


def test_slow_smtp_during_subscribe_does_not_hold_up_other_requests(mail_settings, engine, smtp):
    smtp.handler.on_data = lambda envelope: time.sleep(1.5)
    with LiveServer(make_app(mail_settings, engine)) as live, httpx.Client(base_url=live.url) as c:
        form = c.get("/subscribe")
        data = {"email": "slow@example.org", "csrf_token": csrf_from(form)}
        done: list[int] = []
        worker = threading.Thread(
            target=lambda: done.append(c.post("/subscribe", data=data).status_code)
        )
        worker.start()
        time.sleep(0.3)  # the subscribe request is now waiting for the SMTP server
        started = time.monotonic()
        assert httpx.get(f"{live.url}/signin").status_code == 200
        waited = time.monotonic() - started
        worker.join(10)
    assert done == [200]
    assert waited < 0.8, f"another request waited {waited:.2f} s behind the SMTP conversation"


def test_the_migration_gives_taken_over_subscriptions_back_to_the_address_owner(database_url):
    from datetime import UTC, datetime

    from alembic import command

    from paperroute.store.engine import _alembic_config, make_engine, migrate

    engine = make_engine(database_url)
    command.upgrade(_alembic_config(engine), "0001")  # a database from before the fix
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for email in ("attacker@example.org", "victim@example.org"):
            conn.execute(users_table.insert().values(email=email, is_admin=False, created_at=now))
        ids = dict(conn.execute(select(users_table.c.email, users_table.c.id)).all())
        prefs = {"sections": {}, "topics": [], "follow_authors": [], "follow_categories": []}
        for email, owner in [
            ("victim@example.org", ids["attacker@example.org"]),  # taken over
            ("nobody@example.org", ids["attacker@example.org"]),  # taken over, no account
            ("attacker@example.org", ids["attacker@example.org"]),  # rightly theirs
        ]:
            conn.execute(
                subscriptions.insert().values(
                    email=email, user_id=owner, status="active", cadence="daily", weekday=0,
                    send_hour=7, timezone="UTC", send_empty=False, hard_bounces=0,
                    created_at=now, **prefs,
                )
            )  # fmt: skip
    migrate(engine)
    owners = {s.email: s.user_id for s in subs.list_subscriptions(engine, None)}
    assert owners == {
        "victim@example.org": ids["victim@example.org"],
        "nobody@example.org": None,
        "attacker@example.org": ids["attacker@example.org"],
    }
    engine.dispose()


def test_requests_older_than_their_link_are_dropped_and_confirm_nothing(engine):
    from datetime import timedelta

    from paperroute.store.schema import subscription_requests

    old = subs.subscribe(engine, "slow@example.org", subs.Preferences(topics=["old"]))
    with engine.begin() as conn:
        conn.execute(
            update(subscription_requests).values(
                created_at=subscription_requests.c.created_at - timedelta(days=8)
            )
        )
    subs.subscribe(engine, "slow@example.org", subs.Preferences(topics=["new"]))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(subscription_requests)).scalar() == 1
    assert subs.confirm_subscription(engine, old.id, old.request_id).status == "pending"
