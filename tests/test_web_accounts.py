"""Accounts and security: magic links through a real SMTP server, sessions, CSRF, admin, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from paperroute.store import auth
from paperroute.store.papers import get_paper
from paperroute.store.users import get_user_by_email
from smtp_fixture import SmtpServer
from webtools import (
    client_for,
    csrf_from,
    doc,
    link_in,
    make_app,
    page_csrf,
    seed,
    sign_in,
    texts,
)

API_DATA = Path(__file__).parent / "data" / "sources" / "api"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings, smtp):
    return settings.model_copy(update={"smtp_host": smtp.host, "smtp_port": smtp.port})


@pytest.fixture
def client(mail_settings, engine):
    seed(engine)
    return client_for(make_app(mail_settings, engine))


def ask_link(client, email: str):
    form = client.get("/signin")
    return client.post(
        "/signin", data={"email": email, "next": "/trending", "csrf_token": csrf_from(form)}
    )


def test_magic_link_email_signs_in_once(client, smtp, engine):
    response = ask_link(client, "Reader@Example.org")
    assert response.status_code == 200
    assert "reader@example.org" in texts(response, ".notice")[0]
    [message] = smtp.handler.to("reader@example.org")
    assert "Sign in" in message["Subject"]
    link = link_in(message)
    query = parse_qs(urlsplit(link).query)
    verify_page = client.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert get_user_by_email(engine, "reader@example.org") is None  # GET changed nothing
    form = {"token": query["token"][0], "next": "/trending", "csrf_token": csrf_from(verify_page)}
    done = client.post("/signin/verify", data=form)
    assert done.status_code == 303 and done.headers["location"] == "/trending"
    assert texts(client.get("/profile"), ".email") == ["reader@example.org"]
    client.post("/signout", data={"csrf_token": page_csrf(client)})
    again = client.post("/signin/verify", data={**form, "csrf_token": page_csrf(client, "/signin")})
    assert again.status_code == 400
    assert "expired or was already used" in texts(again, ".error")[0]


def test_session_cookie_is_httponly_and_lax(client):
    raw = " ".join(client.get("/signin").headers.get_list("set-cookie")).lower()
    assert "paperroute_session=" in raw
    assert "httponly" in raw and "samesite=lax" in raw
    assert "secure" not in raw  # http base_url: the cookie must still be sent


def test_secure_cookie_when_the_site_is_https(mail_settings, engine):
    app = make_app(mail_settings.model_copy(update={"base_url": "https://papers.example"}), engine)
    raw = " ".join(client_for(app).get("/signin").headers.get_list("set-cookie"))
    assert "secure" in raw.lower()


def test_expired_links_do_not_sign_in(engine):
    token = auth.create_login_token(
        engine, "late@example.org", now=datetime.now(UTC) - timedelta(minutes=16)
    )
    assert auth.consume_login_token(engine, token) is None
    fresh = auth.create_login_token(engine, "late@example.org")
    assert auth.consume_login_token(engine, fresh) == "late@example.org"
    assert auth.consume_login_token(engine, fresh) is None


def test_tokens_are_stored_hashed(engine):
    from sqlalchemy import select

    from paperroute.store.schema import login_tokens

    token = auth.create_login_token(engine, "hash@example.org")
    with engine.connect() as conn:
        stored = conn.execute(select(login_tokens.c.token_hash)).scalars().all()
    assert token not in stored and auth.hash_token(token) in stored


def test_sign_in_links_are_never_logged_when_mail_works(client, smtp, caplog):
    caplog.set_level("DEBUG", logger="paperroute")
    ask_link(client, "dev@example.org")
    assert "token=" in link_in(smtp.messages[-1])
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("paperroute")]
    assert not [m for m in ours if "token=" in m]


def test_an_unreachable_mail_server_is_a_clear_message(settings, engine):
    from webtools import free_port

    unreachable = {"smtp_host": "127.0.0.1", "smtp_port": free_port()}
    app = make_app(settings.model_copy(update=unreachable), engine)
    response = ask_link(client_for(app), "x@example.org")
    assert response.status_code == 503
    assert "could not send the email" in texts(response, ".error")[0]
    assert doc(response).xpath("//input[@name='email']/@value") == ["x@example.org"]  # kept


def test_post_without_csrf_token_is_refused(client, engine):
    sign_in(client, engine, "c@example.org")
    assert client.post("/papers/2502.00001/upvote").status_code == 403
    assert client.post("/signout", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/signin", data={"email": "c@example.org"}).status_code == 403


def test_sign_out_is_post_only(client, engine):
    sign_in(client, engine, "d@example.org")
    assert client.get("/signout").status_code in (404, 405)
    assert texts(client.get("/profile"), ".email") == ["d@example.org"]


def test_sign_in_requests_are_rate_limited(client, smtp):
    codes = [ask_link(client, "spam@example.org").status_code for _ in range(6)]
    assert codes[:5] == [200] * 5 and codes[5] == 429
    assert len(smtp.handler.to("spam@example.org")) == 5


def test_bad_email_is_named_in_the_error(client):
    response = ask_link(client, "not-an-email")
    assert response.status_code == 422
    assert "'not-an-email' is not one email address" in texts(response, ".error")[0]


def test_redirect_after_sign_in_stays_on_this_site(client, engine):
    add = auth.create_login_token(engine, "e@example.org")
    page = client.get(f"/signin/verify?token={add}&next=https://evil.example/")
    assert doc(page).cssselect("input[name=next]")[0].get("value") == "/"


def test_admin_pages_refuse_non_admins(client, engine):
    assert client.get("/admin").status_code == 403
    sign_in(client, engine, "user@example.org")
    assert client.get("/admin").status_code == 403
    csrf = page_csrf(client)
    response = client.post(
        "/admin/papers/2502.00001/flags", data={"hidden": "1", "csrf_token": csrf}
    )
    assert response.status_code == 403
    assert not get_paper(engine, "2502.00001").hidden


def test_admin_hides_and_features_papers(client, engine):
    sign_in(client, engine, "boss@example.org", admin=True)
    csrf = page_csrf(client, "/admin")
    client.post("/admin/papers/2502.00001/flags", data={"featured": "1", "csrf_token": csrf})
    featured = client.get("/date/2025-02-03")
    assert [
        e.get("data-paper-id") for e in doc(featured).cssselect(".featured-list .paper-card")
    ] == ["2502.00001"]
    client.post("/admin/papers/2502.00002/flags", data={"hidden": "1", "csrf_token": csrf})
    assert get_paper(engine, "2502.00002").hidden
    assert "Evil" not in texts(client.get("/admin"), "ul.hidden-papers")[0]
    assert texts(client.get("/admin"), "ul.hidden-papers a") == ["Paper 2502.00002 on learning"]


def test_admin_adds_a_paper_by_arxiv_url_through_the_arxiv_api(mail_settings, engine, httpserver):
    httpserver.expect_request(
        "/api/query", query_string={"id_list": "2104.12255", "start": "0", "max_results": "1"}
    ).respond_with_data(
        (API_DATA / "id_2104.12255v1_s0_m100.xml").read_bytes(),
        content_type="application/atom+xml",
    )
    app_settings = mail_settings.model_copy(
        update={"arxiv_api_url": httpserver.url_for("/api/query"), "arxiv_api_delay": 0.0}
    )
    client = client_for(make_app(app_settings, engine))
    sign_in(client, engine, "boss@example.org", admin=True)
    csrf = page_csrf(client, "/admin")
    response = client.post(
        "/admin/papers", data={"arxiv": "https://arxiv.org/abs/2104.12255v1", "csrf_token": csrf}
    )
    assert response.status_code == 303 and response.headers["location"] == "/papers/2104.12255"
    assert get_paper(engine, "2104.12255") is not None
    bad = client.post("/admin/papers", data={"arxiv": "not an id", "csrf_token": csrf})
    assert "not an arXiv id" in texts(bad, ".error")[0]


def test_a_paper_the_admin_adds_is_found_by_words_and_by_meaning_at_once(
    mail_settings, engine, httpserver
):
    """Issue 10: the admin's add goes through the one ingest use case, so the running search
    finds the paper without a restart or an embed run."""
    from search_support import make_service

    httpserver.expect_request("/api/query").respond_with_data(
        (API_DATA / "id_0808.05394_1707.08567_s0_m100.xml").read_bytes(),
        content_type="application/atom+xml",
    )
    app_settings = mail_settings.model_copy(
        update={"arxiv_api_url": httpserver.url_for("/api/query"), "arxiv_api_delay": 0.0}
    )
    search = make_service(app_settings, engine)
    client = client_for(make_app(app_settings, engine, search=search))
    sign_in(client, engine, "boss@example.org", admin=True)
    response = client.post(
        "/admin/papers", data={"arxiv": "1707.08567", "csrf_token": page_csrf(client, "/admin")}
    )
    assert response.status_code == 303
    found = client.get("/api/papers/search", params={"q": "Workshop AEW10"}).json()
    assert "1707.08567" in [hit["paper"]["id"] for hit in found]
    assert search.vector("1707.08567") is not None  # embedded as it was stored


def test_profile_makes_and_revokes_api_tokens(client, engine):
    user = sign_in(client, engine, "tok@example.org")
    response = client.post("/profile/tokens", data={"name": "bot", "csrf_token": page_csrf(client)})
    # post/redirect/get: the browser leaves the POST URL, and the next page shows the token once
    assert response.status_code == 303 and response.headers["location"] == "/profile#tokens"
    shown = client.get("/profile")
    token = texts(shown, ".new-token")[0]
    assert shown.headers["cache-control"] == "no-store"
    assert not texts(client.get("/profile"), ".new-token")  # a reload shows it no more
    assert auth.user_id_for_api_token(engine, token) == user.id
    token_id = auth.list_api_tokens(engine, user.id)[0]["id"]
    client.post(f"/profile/tokens/{token_id}/delete", data={"csrf_token": page_csrf(client)})
    assert auth.user_id_for_api_token(engine, token) is None
