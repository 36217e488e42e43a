"""Subscribing on the web, end to end: form -> confirmation email (real aiosmtpd) -> confirm page
-> digest with the chosen sections; one-click unsubscribe; preferences; the preview page.

Topic matching uses the real bundled embedding model (topics are what these tests judge)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from paperroute.digest.delivery import send_due_digests
from paperroute.digest.tokens import link
from paperroute.search.service import SearchService
from paperroute.store import subscriptions as subs
from paperroute.store.votes import set_vote
from search_support import real_embedder
from test_digest_delivery import active, load_demo
from webtools import csrf_from, doc, make_app, sign_in, texts


@pytest.fixture
def web_settings(settings, smtp_server):
    return settings.model_copy(
        update={
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "base_url": "https://papers.example.org",
            "mail_rate_per_second": 0,
        }
    )


def https_client(settings, engine) -> TestClient:
    """A browser-like client on https (the site's cookies are Secure when base_url is https)."""
    # The real search service: the digest preview's topics and "for you" come from it.
    app = make_app(settings, engine, search=SearchService(settings, engine, real_embedder()))
    return TestClient(
        app, base_url="https://testserver", headers={"accept": "text/html"}, follow_redirects=False
    )


@pytest.fixture
def client(web_settings, engine):
    return https_client(web_settings, engine)


def deliver(settings, engine):
    """A digest run with the real model (a fresh search service: the papers were just loaded)."""
    return send_due_digests(settings, engine, SearchService(settings, engine, real_embedder()))


def local(url: str) -> str:
    """The path and query of an absolute link, for the in-process client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def links_in(message) -> list[str]:
    return re.findall(
        r"https://papers\.example\.org/\S+", message.get_body(("plain",)).get_content()
    )


def test_subscribe_confirm_and_receive_a_digest_with_the_chosen_sections(
    client,
    engine,
    web_settings,
    smtp_server,
):
    demo = load_demo(engine, 80, web_settings)
    sparse = next(p for p in demo if "SpargeAttention2" in p.title)
    author = demo[3].author_names[0]
    form = client.get("/subscribe")
    assert form.status_code == 200
    response = client.post(
        "/subscribe",
        data={
            "csrf_token": csrf_from(form),
            "email": "New.Reader@Example.org",
            "cadence": "daily",
            "send_hour": "0",
            "timezone": "Europe/Berlin",
            "topics": "sparse attention to speed up video diffusion models",
            "follow_authors": author,
            "section_topics": "2",
            "section_trending": "3",
        },
    )
    assert response.status_code == 200
    assert "new.reader@example.org" in texts(response, ".notice")[0]  # one normalised form
    [confirmation] = smtp_server.messages
    assert confirmation["Subject"].startswith("Confirm your")
    assert deliver(web_settings, engine).due == 0, "nothing before the click"

    [confirm_url] = [u for u in links_in(confirmation) if "/subscriptions/confirm" in u]
    page = client.get(local(confirm_url))
    assert page.status_code == 200
    assert subs.get_subscription_by_email(engine, "New.Reader@example.org").status == "pending"
    token = confirm_url.split("token=")[1]
    done = client.post(
        "/subscriptions/confirm", data={"token": token, "csrf_token": csrf_from(page)}
    )
    assert done.status_code == 200 and "You are subscribed" in done.text

    report = deliver(web_settings, engine)
    assert report.sent == 1
    digest = smtp_server.messages[-1]
    text = digest.get_body(("plain",)).get_content().replace("\r\n", "\n")
    sections = re.findall(r"^== (.+) ==$", text, flags=re.M)
    assert sections == ["Your topics", "Authors you follow", "Trending"]
    topics_part = text.split("== Your topics ==")[1].split("==")[0]
    assert sparse.title.split(":")[0] in topics_part
    assert 'why: topic "sparse attention to speed up video diffusion models"' in topics_part
    assert topics_part.count("\n* ") == 2
    trending_part = text.split("== Trending ==")[1]
    assert trending_part.count("\n* ") == 3
    ids = re.findall(r"/papers/(\d{4}\.\d{4,5})", text)
    assert len(ids) == len(set(ids)), "a paper at most once per digest"
    html = digest.get_body(("html",)).get_content()
    assert f'href="https://papers.example.org/papers/{sparse.id}"' in html


def test_one_click_unsubscribe_post_works_without_session_or_csrf(
    client,
    engine,
    web_settings,
    smtp_server,
):
    load_demo(engine, 20)
    sub = active(engine, "leaving@example.org", send_hour=0)
    assert deliver(web_settings, engine).sent == 1
    header = smtp_server.messages[-1]["List-Unsubscribe"]
    url = re.search(r"<(https://[^>]+)>", header).group(1)

    mail_client = https_client(web_settings, engine)  # no cookies, no CSRF token
    response = mail_client.post(local(url), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert subs.get_subscription(engine, sub.id).status == "unsubscribed"
    assert deliver(web_settings, engine).due == 0


def test_unsubscribe_link_opens_a_page_and_get_changes_nothing(client, engine, web_settings):
    sub = active(engine, "stay@example.org")
    page = client.get(local(link(web_settings, sub.id, "unsubscribe")))
    assert page.status_code == 200
    assert texts(page, "form button") == ["Unsubscribe"]
    assert subs.get_subscription(engine, sub.id).status == "active"


def test_forged_expired_or_misused_tokens_are_refused(client, engine, web_settings):
    sub = active(engine, "guarded@example.org")
    preferences = link(web_settings, sub.id, "preferences")
    misused = local(preferences).replace("/preferences?", "/unsubscribe?")
    assert client.post(misused).status_code == 400
    assert client.get(local(preferences) + "x").status_code == 400
    other = web_settings.model_copy(update={"secret_key": SecretStr("another-secret")})
    forged = link(other, sub.id, "unsubscribe")
    assert client.post(local(forged)).status_code == 400
    assert subs.get_subscription(engine, sub.id).status == "active"


def test_preferences_link_changes_schedule_and_names_bad_fields(client, engine, web_settings):
    sub = active(engine, "tuner@example.org")
    page = client.get(local(link(web_settings, sub.id, "preferences")))
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_from(page),
        "token": local(link(web_settings, sub.id, "preferences")).split("token=")[1],
        "cadence": "weekly",
        "weekday": "4",
        "send_hour": "18",
        "timezone": "Mars/Olympus_Mons",
        "follow_categories": "cs.CL, cs.LG",
    }
    bad = client.post("/subscriptions/preferences", data=form)
    assert bad.status_code == 422
    assert "timezone" in texts(bad, ".error")[0]
    good = client.post("/subscriptions/preferences", data={**form, "timezone": "Asia/Tokyo"})
    assert good.status_code == 200
    prefs = subs.get_subscription(engine, sub.id).prefs
    assert (prefs.cadence, prefs.weekday, prefs.send_hour, prefs.timezone) == (
        "weekly",
        4,
        18,
        "Asia/Tokyo",
    )
    assert prefs.follow_categories == ["cs.CL", "cs.LG"]


def test_signed_in_reader_subscribes_from_settings_and_previews_for_you(
    client,
    engine,
    web_settings,
    smtp_server,
):
    demo = load_demo(engine, 80, web_settings)
    user = sign_in(client, engine, "member@example.org")
    liked = next(p for p in demo if "SpargeAttention2" in p.title)
    set_vote(engine, user.id, liked.id, True)
    page = client.get("/settings/digest")
    assert page.status_code == 200
    response = client.post(
        "/subscribe",
        data={"csrf_token": csrf_from(page), "email": "member@example.org", "send_hour": "0"},
    )
    assert response.status_code == 303, "own account address: already proven, active at once"
    assert subs.get_subscription_by_email(engine, "member@example.org").status == "active"
    assert smtp_server.messages == []
    preview = client.get("/digest/preview?format=json").json()
    for_you = [s for s in preview["sections"] if s["key"] == "for_you"]
    assert for_you, preview
    assert all(liked.title in why for p in for_you[0]["papers"] for why in p["why"][:1])
    html = client.get("/digest/preview")
    assert html.status_code == 200
    cards = texts(html, ".digest-section[data-section=for_you] .paper-card .why")
    assert cards and all(liked.title in why for why in cards)
    text = client.get("/digest/preview?format=text")
    assert text.headers["content-type"].startswith("text/plain") and "== For you ==" in text.text
    assert client.get("/settings/digest").status_code == 200


def test_preview_and_settings_need_sign_in(client):
    assert client.get("/digest/preview").status_code == 401
    assert client.get("/settings/digest").status_code == 401


def test_development_without_a_mail_server_shows_the_link_on_the_page(settings, engine, caplog):
    dev = settings.model_copy(update={"smtp_host": "", "base_url": "https://papers.example.org"})
    client = https_client(dev, engine)
    caplog.set_level("DEBUG", logger="paperroute")
    form = client.get("/subscribe")
    response = client.post(
        "/subscribe", data={"csrf_token": csrf_from(form), "email": "dev@example.org"}
    )
    assert response.status_code == 200
    assert "Development only" in texts(response, ".dev-only")[0]
    [shown] = doc(response).xpath("//a[@class='dev-link']/@href")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("paperroute")]
    assert not [m for m in ours if "token=" in m]  # links never go into the log
    page = client.get(local(shown))
    confirmed = client.post(
        "/subscriptions/confirm",
        data={"csrf_token": csrf_from(page), "token": local(shown).split("token=")[1]},
    )
    assert confirmed.status_code == 200
    assert subs.get_subscription_by_email(engine, "dev@example.org").status == "active"
