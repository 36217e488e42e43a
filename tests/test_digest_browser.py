"""Digests in a real browser (Debian chromium via Playwright): subscribing through the form and
the confirmation link, and the digest email's HTML on a phone-sized screen in light and dark mode.
"""

from __future__ import annotations

import re
from itertools import islice

import pytest

from paperroute.config import load_settings
from paperroute.digest.compose import Signals, compose_digest
from paperroute.digest.render import render_digest
from paperroute.models import Author, Paper
from paperroute.sources.demo import demo_corpus_path
from paperroute.sources.files import read_file
from paperroute.store.engine import make_engine, migrate
from paperroute.store.subscriptions import Preferences, Subscription, get_subscription_by_email
from smtp_fixture import SmtpServer
from webtools import LiveServer, free_port, make_app

DEMO = demo_corpus_path()


def digest_html(settings) -> str:
    records = [r for r in islice(read_file(DEMO), 12) if not isinstance(r, Exception)]
    papers = [
        Paper(id=r.id, title=r.title, abstract=r.abstract,
              authors=[Author(a.name) for a in r.authors], hf_upvotes=r.upvotes or 0)
        for r in records
    ]  # fmt: skip
    sub = Subscription(1, "reader@example.org", "active", Preferences(sections={"trending": 10}))
    digest = compose_digest(sub, papers, Signals(), "2026-11-29")
    return render_digest(settings, sub, digest)[0]


@pytest.mark.parametrize(("scheme", "background"), [("light", "rgb(255, 255, 255)"),
                                                     ("dark", "rgb(22, 24, 29)")])  # fmt: skip
def test_digest_email_fits_a_phone_and_follows_the_color_scheme(
    browser, tmp_path, scheme, background
):
    settings = load_settings(data_dir=tmp_path, base_url="https://papers.example.org")
    context = browser.new_context(viewport={"width": 375, "height": 700}, color_scheme=scheme)
    page = context.new_page()
    page.set_content(digest_html(settings))
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scroll"
        card = page.locator(".pr-card").first
        assert card.evaluate("e => getComputedStyle(e).backgroundColor") == background
        titles = page.locator("a.paper-title")
        assert titles.count() == 9  # the demo papers with at least one upvote
        assert re.fullmatch(r"https://papers\.example\.org/papers/\d{4}\.\d{5}",
                            titles.first.get_attribute("href"))  # fmt: skip
        assert titles.first.bounding_box()["width"] <= 375
    finally:
        context.close()


def test_reader_subscribes_in_the_browser_and_confirms_from_the_email(browser, tmp_path):
    smtp = SmtpServer().start()
    port = free_port()
    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'p.db'}",
                             smtp_host=smtp.host, smtp_port=smtp.port, load_demo=False,
                             base_url=f"http://127.0.0.1:{port}")  # fmt: skip
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        with LiveServer(make_app(settings, engine), port=port) as site:
            page.goto(site.url + "/subscribe")
            page.fill("input[name=email]", "browser@example.org")
            page.select_option("select[name=cadence]", "weekly")
            page.fill("input[name=timezone]", "Europe/Berlin")
            page.fill("textarea[name=topics]", "diffusion models for video")
            page.click("button[type=submit]")
            page.wait_for_selector("text=Check your email")
            [message] = smtp.handler.to("browser@example.org")
            body = message.get_body(("plain",)).get_content()
            confirm = re.search(r"http://\S+/subscriptions/confirm\?token=\S+", body).group(0)
            page.goto(confirm)
            assert get_subscription_by_email(engine, "browser@example.org").status == "pending"
            page.click("text=Confirm subscription")
            page.wait_for_selector("text=You are subscribed")
            sub = get_subscription_by_email(engine, "browser@example.org")
            assert sub.status == "active"
            assert (sub.prefs.cadence, sub.prefs.timezone) == ("weekly", "Europe/Berlin")
            assert sub.prefs.topics == ["diffusion models for video"]
    finally:
        context.close()
        smtp.stop()
        engine.dispose()
