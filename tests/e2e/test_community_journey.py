"""Community journeys in a real browser: a member signs in through an emailed link (real SMTP on
loopback), submits a paper that the arXiv API (a loopback server replaying a recorded response)
gives, and sees it on the daily page "submitted by" them; they claim authorship, an admin
approves it in the claims queue, and the author badge shows on the paper and their page."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperroute.config import load_settings
from paperroute.store import auth
from paperroute.store.engine import make_engine, migrate
from paperroute.store.users import add_user
from webtools import LiveServer, free_port, link_in, make_app, seed

API_DATA = Path(__file__).parent.parent / "data" / "sources" / "api"
PAPER = "2104.12255"
AUTHOR = "Quan Thoi Minh Nguyen"


@pytest.fixture
def community_site(tmp_path, smtp, httpserver):
    httpserver.expect_request("/api/query").respond_with_data(
        (API_DATA / "id_2104.12255v1_s0_m100.xml").read_bytes(),
        content_type="application/atom+xml",
    )
    port = free_port()
    settings = load_settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'paperroute.db'}",
        load_demo=False, smtp_host=smtp.host, smtp_port=smtp.port,
        base_url=f"http://127.0.0.1:{port}", arxiv_api_url=httpserver.url_for("/api/query"),
        arxiv_api_delay=0.0, submission_max_age_days=100_000,
    )  # fmt: skip
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    seed(engine)
    with LiveServer(make_app(settings, engine), port=port) as live:
        live.engine = engine
        yield live
    engine.dispose()


def _sign_in_by_mail(page, site, smtp, email: str) -> None:
    page.goto(site.url + "/signin")
    page.fill("main input[name=email]", email)
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Check your email")
    page.goto(link_in(smtp.handler.to(email)[-1]))
    page.click("#finish-signin")
    page.wait_for_selector("a.who")


def test_member_submits_a_paper_claims_it_and_an_admin_approves(community_site, smtp, browser):
    site = community_site
    errors: list[str] = []
    ada = browser.new_context().new_page()
    ada.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in_by_mail(ada, site, smtp, "ada@example.org")
    ada.goto(site.url + "/profile")
    ada.fill("#display_name", "Ada Lovelace")
    ada.click("form[action='/profile'] button[type=submit]")
    ada.wait_for_selector("a.who:has-text('Ada Lovelace')")

    ada.click(".main-nav a.nav-submit")
    ada.fill("#arxiv", f"https://arxiv.org/abs/{PAPER}v1")
    ada.click(".submit-form button[type=submit]")
    ada.wait_for_url(f"**/papers/{PAPER}")
    assert ada.locator(".submission .submitted-by").inner_text() == "submitted by Ada Lovelace"
    ada.goto(site.url + "/")
    card = ada.locator(f"article[data-paper-id='{PAPER}']")
    assert card.locator(".submitted-by").inner_text() == "submitted by Ada Lovelace"

    ada.goto(f"{site.url}/papers/{PAPER}")
    ada.select_option("#claim-author", AUTHOR)
    ada.click(".claim-form button[type=submit]")
    ada.wait_for_selector(".my-claims .claim-status.pending")

    add_user(site.engine, "boss@example.org", is_admin=True)
    boss = browser.new_context().new_page()
    boss.goto(
        f"{site.url}/signin/verify?token={auth.create_login_token(site.engine, 'boss@example.org')}"
    )
    boss.click("#finish-signin")
    boss.wait_for_selector("a.who")
    boss.goto(site.url + "/admin")
    boss.click("text=Authorship claims")
    row = boss.locator("tr.claim", has_text=AUTHOR)
    assert row.locator("td").first.inner_text() == "Ada Lovelace"
    row.locator("button.approve").click()
    boss.wait_for_selector("text=No claims are waiting.")

    ada.goto(f"{site.url}/papers/{PAPER}")
    badge = ada.locator(".authors .author-badge")
    assert badge.count() == 1 and badge.inner_text() == "author"
    badge.click()
    ada.wait_for_selector(".member-name .author-badge")
    assert ada.locator(".authored article").get_attribute("data-paper-id") == PAPER
    assert not errors, errors
