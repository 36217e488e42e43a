"""Community journeys in a real browser, on both backends (a SQLite file and the embedded
PostgreSQL), with real SMTP on loopback (aiosmtpd):

- a member signs in through an emailed link, submits a paper that the arXiv API (a loopback
  server replaying a recorded response) gives, and sees it on the daily page "submitted by"
  them; they claim authorship, an admin approves it in the claims queue, and the author badge
  shows on the paper and their page;
- another member comments on the author's paper with Markdown and math; the author gets an
  in-app notification (the unread count in the header) and a mail, and replies mentioning a
  third member, who is mailed exactly once (an edit adding the mention again mails nobody);
- a member reports a comment, and an admin hides it from the moderation queue."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from paperroute.community.notifications import send_notification_mail
from paperroute.config import load_settings
from paperroute.store import auth, claims
from paperroute.store.engine import make_engine, migrate
from paperroute.store.papers import get_paper
from paperroute.store.users import add_user, get_user_by_email
from smtp_fixture import SmtpServer
from webtools import LiveServer, free_port, link_in, make_app, seed

API_DATA = Path(__file__).parent.parent / "data" / "sources" / "api"
PAPER = "2104.12255"
AUTHOR = "Quan Thoi Minh Nguyen"


@pytest.fixture
def community_site(tmp_path, database_url, httpserver):
    """The app on uvicorn over a fresh database of each backend, with its own SMTP server."""
    smtp = SmtpServer().start()
    httpserver.expect_request("/api/query").respond_with_data(
        (API_DATA / "id_2104.12255v1_s0_m100.xml").read_bytes(),
        content_type="application/atom+xml",
    )
    port = free_port()
    settings = load_settings(
        data_dir=tmp_path, database_url=database_url, mail_rate_per_second=0,
        load_demo=False, smtp_host=smtp.host, smtp_port=smtp.port,
        base_url=f"http://127.0.0.1:{port}", arxiv_api_url=httpserver.url_for("/api/query"),
        arxiv_api_delay=0.0, submission_max_age_days=100_000,
    )  # fmt: skip
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    seed(engine)
    with LiveServer(make_app(settings, engine), port=port) as live:
        live.engine, live.smtp, live.settings = engine, smtp, settings
        yield live
    engine.dispose()
    smtp.stop()


def _sign_in_by_mail(page, site, smtp, email: str) -> None:
    page.goto(site.url + "/signin")
    page.fill("main input[name=email]", email)
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Check your email")
    page.goto(link_in(smtp.handler.to(email)[-1]))
    page.click("#finish-signin")
    page.wait_for_selector("a.who")


def _member(browser, site, email: str, name: str, errors: list[str]):
    """A new member's tab, signed in by mail, with a display name (so they can be mentioned)."""
    tab = browser.new_context().new_page()
    tab.set_default_timeout(20_000)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in_by_mail(tab, site, site.smtp, email)
    tab.goto(site.url + "/profile")
    tab.fill("#display_name", name)
    tab.click("form[action='/profile'] button[type=submit]")
    tab.wait_for_selector(f"a.who:has-text('{name}')")
    return tab


def _admin(browser, site):
    add_user(site.engine, "boss@example.org", is_admin=True)
    boss = browser.new_context().new_page()
    boss.set_default_timeout(20_000)
    token = auth.create_login_token(site.engine, "boss@example.org")
    boss.goto(f"{site.url}/signin/verify?token={token}")
    boss.click("#finish-signin")
    boss.wait_for_selector("a.who")
    return boss


def _notification_mail(site, address: str, expected: int) -> list:
    """The notification mails `address` got once `expected` arrived (the app sends them seconds
    after a comment), after one more sending run here: anything else due would be in it too."""

    def mails():
        return [m for m in site.smtp.handler.to(address) if "notifications" in (m["List-Id"] or "")]

    deadline = time.monotonic() + 20
    while len(mails()) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    send_notification_mail(site.settings, site.engine)
    return mails()


def test_member_submits_a_paper_claims_it_and_an_admin_approves(community_site, browser):
    site = community_site
    smtp = site.smtp
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

    boss = _admin(browser, site)
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


DISCUSSED = "2502.00002"


def test_discussion_notifies_by_header_count_and_mail_and_a_mention_mails_once(
    community_site, browser
):
    site = community_site
    errors: list[str] = []
    ada = _member(browser, site, "ada@example.org", "Ada Lovelace", errors)
    bob = _member(browser, site, "bob@example.org", "Bob Babbage", errors)
    carol = _member(browser, site, "carol@example.org", "Carol Shaw", errors)
    author = get_paper(site.engine, DISCUSSED).authors[0].name
    made = claims.claim_authorship(
        site.engine, get_user_by_email(site.engine, "ada@example.org"), DISCUSSED, author
    )
    claims.decide_claim(site.engine, made.id, approve=True)  # the claim journey is the test above

    bob.goto(f"{site.url}/papers/{DISCUSSED}")
    bob.fill("#body-new", "**Nice** bound: $E = mc^2$, but is\n\n- the constant tight?")
    bob.click("form.comment-form:has(#body-new) button[type=submit]")
    question = bob.locator(".discussion > article.comment").first
    question.wait_for()
    assert question.locator(".comment-body strong").inner_text() == "Nice"
    assert question.locator(".comment-body math msup").count() == 1
    assert question.locator(".comment-body li").inner_text() == "the constant tight?"
    question_id = question.get_attribute("data-comment-id")

    ada.goto(site.url + "/")
    assert ada.locator(".account .nav-notifications .unread-count").inner_text() == "1"
    [mail] = _notification_mail(site, "ada@example.org", 1)
    assert mail["Subject"] == "paperroute: Bob Babbage commented on a paper you authored"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    ada.click(".account .nav-notifications")
    ada.click("li.notification.unread a")
    ada.wait_for_url(f"**/papers/{DISCUSSED}#comment-{question_id}")
    thread = ada.locator(f"#comment-{question_id}")
    thread.locator("details.reply > summary").first.click()
    ada.fill(f"#body-{question_id}", "Tight up to $\\log n$; @CarolShaw proved the lower bound.")
    ada.click(f"form.comment-form:has(#body-{question_id}) button[type=submit]")
    reply = ada.locator(f"#comment-{question_id} .replies article.comment").first
    reply.wait_for()
    assert "@CarolShaw" in reply.locator(".comment-body .mention").inner_text()
    assert reply.locator(".comment-body math").count() == 1
    ada.click(f"#comment-{reply.get_attribute('data-comment-id')} a.comment-edit")
    ada.fill("textarea[name=body]", "Tight up to $\\log n$; @CarolShaw and @carolshaw, see.")
    ada.click("main form button[type=submit]")
    ada.wait_for_selector(".replies .edited")

    [to_bob] = _notification_mail(site, "bob@example.org", 1)
    assert to_bob["Subject"] == "paperroute: Ada Lovelace replied to your comment"
    [to_carol] = _notification_mail(site, "carol@example.org", 1)
    assert to_carol["Subject"] == "paperroute: Ada Lovelace mentioned you"
    time.sleep(1.0)  # time for a wrongly queued second mail to go out
    assert len(_notification_mail(site, "carol@example.org", 1)) == 1
    carol.reload()
    assert carol.locator(".account .nav-notifications .unread-count").inner_text() == "1"

    # Carol reports Bob's comment; an admin hides it from the moderation queue.
    carol.goto(f"{site.url}/papers/{DISCUSSED}")
    carol.click(f"#comment-{question_id} > .comment-actions a.comment-report")
    carol.fill("#reason", "off-topic")
    carol.click(".report-form button[type=submit]")
    carol.wait_for_selector(".report-done")
    boss = _admin(browser, site)
    boss.goto(site.url + "/admin")
    boss.click("a.moderation-link")
    reported = boss.locator(f"#reported-{question_id}")
    assert "off-topic" in reported.locator(".reasons").inner_text()
    reported.locator("button.moderate-hide").click()
    boss.wait_for_selector(f"text=comment {question_id}: hide")
    assert boss.locator(f"#reported-{question_id}").count() == 0  # handled: out of the queue

    carol.goto(f"{site.url}/papers/{DISCUSSED}")
    hidden = carol.locator(f"#comment-{question_id}")
    assert hidden.locator(".comment-placeholder").first.inner_text() == "[hidden by a moderator]"
    assert "Nice" not in hidden.locator(":scope > .comment-body").all_inner_texts()
    assert "@CarolShaw" in hidden.locator(".replies .comment-body").inner_text()  # replies stay
    assert not errors, errors
