"""Community pages: submitting papers (the arXiv API answered by a loopback server replaying
recorded responses), limits, the daily page's modes, authorship claims, members, organisations."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factories import record
from paperroute.community.notifications import send_notification_mail
from paperroute.models import Author
from paperroute.store import claims as claim_store
from paperroute.store import notifications as notify_store
from paperroute.store import orgs as org_store
from paperroute.store.auth import create_api_token
from paperroute.store.papers import get_paper, upsert_records
from paperroute.store.subscriptions import follow_author
from paperroute.store.users import add_user, get_user_by_email, update_profile
from webtools import DAY3, client_for, doc, make_app, page_csrf, seed, sign_in, texts

API_DATA = Path(__file__).parent / "data" / "sources" / "api"
RECORDED = "2104.12255"  # published 2021-04-20


@pytest.fixture
def arxiv(httpserver):
    """The arXiv API on loopback: 2104.12255 exists, 0000.0000 does not."""
    for pid, name in (
        (RECORDED, "id_2104.12255v1_s0_m100.xml"),
        ("0000.0000", "id_0000.0000_s0_m100.xml"),
    ):
        query = {"id_list": pid, "start": "0", "max_results": "1"}
        httpserver.expect_request("/api/query", query_string=query).respond_with_data(
            (API_DATA / name).read_bytes(), content_type="application/atom+xml"
        )
    return httpserver


def community_app(settings, engine, arxiv, **changes):
    seed(engine)
    values = {"arxiv_api_url": arxiv.url_for("/api/query"), "arxiv_api_delay": 0.0,
              "submission_max_age_days": 100_000, **changes}  # fmt: skip
    return make_app(settings.model_copy(update=values), engine)


def member_client(app, engine, email: str, name: str | None = None, admin: bool = False):
    client = client_for(app)
    user = sign_in(client, engine, email, admin=admin)
    if name:
        update_profile(engine, user.id, name)
    return client, user


def submit(client, value: str):
    return client.post("/submit", data={"arxiv": value, "csrf_token": page_csrf(client, "/submit")})


def test_a_member_submits_a_paper_and_the_daily_page_says_who(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv)
    ada, _ = member_client(app, engine, "ada@example.org", "Ada <i>L</i>")
    assert texts(ada.get("/"), "a.submit-link") == ["Submit a paper"]
    response = submit(ada, f"https://arxiv.org/abs/{RECORDED}v1")
    assert response.status_code == 303 and response.headers["location"] == f"/papers/{RECORDED}"
    assert get_paper(engine, RECORDED).title  # fetched and stored through the ingest path
    today = datetime.now(UTC).date()
    for page in (client_for(app).get("/"), ada.get(f"/date/{today.isoformat()}")):
        card = doc(page).cssselect(f'[data-paper-id="{RECORDED}"] .submitted-by')
        assert card and " ".join(card[0].text_content().split()) == "submitted by Ada <i>L</i>"
    show = ada.get(f"/papers/{RECORDED}")
    assert texts(show, ".submission .submitted-by a") == ["Ada <i>L</i>"]
    assert (
        ada.get(f"/papers/{RECORDED}?format=json").json()["submitted_by"]["name"] == "Ada <i>L</i>"
    )
    # The old announced day still lists what it listed.
    assert len(texts(ada.get(f"/date/{DAY3.isoformat()}"), "article.paper-card")) == 4


def test_the_second_submitter_is_told_who_was_first(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv)
    ada, _ = member_client(app, engine, "ada@example.org", "Ada")
    assert submit(ada, RECORDED).status_code == 303
    grace, _ = member_client(app, engine, "grace@example.org")
    again = submit(grace, RECORDED)
    assert again.status_code == 422
    assert f"{RECORDED} was already submitted by Ada on" in texts(again, "#arxiv-error")[0]


def test_papers_that_cannot_be_fetched_or_are_too_old_get_clear_errors(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv, submission_max_age_days=14)
    ada, user = member_client(app, engine, "ada@example.org")
    for value, said in (
        ("0000.0000", "arXiv API: arXiv has no paper 0000.0000"),
        ("not a paper", "arxiv: not an arXiv id: 'not a paper'"),
        (RECORDED, f"{RECORDED} was published on 20 Apr 2021, more than 14 days ago"),
    ):
        response = submit(ada, value)
        assert response.status_code == 422
        assert said in texts(response, "#arxiv-error")[0]
        assert doc(response).cssselect("#arxiv")[0].get("value") == value  # kept at the field
    assert get_user_by_email(engine, "ada@example.org").id == user.id


def test_new_accounts_have_a_smaller_daily_quota_and_addresses_a_rate_limit(
    settings, engine, arxiv
):
    app = community_app(settings, engine, arxiv, community_rate_per_hour=6)
    ada, _ = member_client(app, engine, "ada@example.org")
    assert submit(ada, "2502.00001").status_code == 303  # held already: not fetched again
    second = submit(ada, "2502.00002")
    assert second.status_code == 422
    assert "the most a new account may submit a day is 1" in texts(second, "#arxiv-error")[0]
    # New accounts get half the hourly rate (3 of 6); the fourth try from this address is refused.
    assert submit(ada, "2502.00003").status_code == 422
    assert submit(ada, "2502.00004").status_code == 429


def test_the_api_submits_with_a_bearer_token(settings, engine, arxiv):
    import httpx

    from webtools import LiveServer

    app = community_app(settings, engine, arxiv)
    user = add_user(engine, "bot@example.org")
    update_profile(engine, user.id, "Bot")
    token = create_api_token(engine, user.id, "bot")
    with LiveServer(app) as live:
        anonymous = httpx.post(f"{live.url}/api/submissions", json={"arxiv": RECORDED})
        assert anonymous.status_code == 401
        headers = {"authorization": f"Bearer {token}"}
        made = httpx.post(f"{live.url}/api/submissions", json={"arxiv": RECORDED}, headers=headers)
        assert made.status_code == 201
        assert made.json()["paper"]["submittedOnDailyBy"]["fullname"] == "Bot"
        again = httpx.post(f"{live.url}/api/submissions", json={"arxiv": RECORDED}, headers=headers)
        assert again.status_code == 422 and "already submitted by Bot" in again.json()["error"]


def test_a_curated_daily_page_shows_submitted_and_featured_papers_with_a_full_listing(
    settings, engine, arxiv
):
    from paperroute.store.listings import set_flags

    app = community_app(settings, engine, arxiv, daily_page="curated")
    set_flags(engine, "2502.00005", featured=True)
    page = client_for(app).get(f"/date/{DAY3.isoformat()}")
    assert [e.get("data-paper-id") for e in doc(page).cssselect("article.paper-card")] == [
        "2502.00005"
    ]
    assert texts(page, "a.full-listing") == ["Every paper of the day"]
    full = client_for(app).get(f"/date/{DAY3.isoformat()}/all")
    assert len(doc(full).cssselect(".paper-list article.paper-card")) == 4
    ada, _ = member_client(app, engine, "ada@example.org", "Ada")
    assert submit(ada, RECORDED).status_code == 303
    home = client_for(app).get("/")  # the newest curated day is today's submissions
    assert [e.get("data-paper-id") for e in doc(home).cssselect("article.paper-card")] == [RECORDED]


def test_a_claim_approved_by_an_admin_gives_the_author_badge(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv)
    ada, user = member_client(app, engine, "ada@unrelated.example", "Ada")
    page = ada.get("/papers/2502.00001")
    assert texts(page, ".claim-form option") == ["Ada Lovelace", "Author 2502.00001"]
    csrf = page_csrf(ada, "/papers/2502.00001")
    claimed = ada.post(
        "/claims",
        data={"paper_id": "2502.00001", "author_name": "Ada Lovelace", "csrf_token": csrf},
    )
    assert claimed.status_code == 303
    assert texts(ada.get("/profile"), ".my-claims .claim-status") == ["pending"]
    assert doc(ada.get("/papers/2502.00001")).cssselect(".author-badge") == []
    boss, _ = member_client(app, engine, "boss@example.org", admin=True)
    assert ada.get("/admin/claims").status_code == 403
    queue = boss.get("/admin/claims")
    assert texts(queue, ".claimed-author") == ["Ada Lovelace"]
    claim_id = doc(queue).cssselect("tr.claim")[0].get("data-claim-id")
    csrf = page_csrf(boss, "/admin/claims")
    decided = boss.post(
        f"/admin/claims/{claim_id}", data={"decision": "approve", "csrf_token": csrf}
    )
    assert decided.status_code == 303
    badge = doc(client_for(app).get("/papers/2502.00001")).cssselect(".authors .author-badge")
    assert [b.get("href") for b in badge] == [f"/members/member-{user.id}"]
    profile = client_for(app).get(f"/members/member-{user.id}")
    assert texts(profile, ".member-name .author-badge") == ["author"]
    assert [e.get("data-paper-id") for e in doc(profile).cssselect(".authored article")] == [
        "2502.00001"
    ]
    assert "ada@unrelated.example" not in profile.text  # a public page never shows the address
    assert claim_store.claim_of(engine, user.id, "2502.00001").how == "admin"


def test_profile_sets_a_handle_and_checks_the_orcid_id(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv)
    ada, user = member_client(app, engine, "ada@example.org")
    bad = ada.post("/profile/public", data={"handle": "ada", "orcid": "0000-0002-1825-0098",
                                            "csrf_token": page_csrf(ada)})  # fmt: skip
    assert (
        bad.status_code == 422
        and "orcid: '0000-0002-1825-0098' has a wrong check digit" in texts(bad, ".error-detail")[0]
    )
    ok = ada.post("/profile/public", data={"handle": "ada", "orcid": "0000-0002-1825-0097",
                                           "csrf_token": page_csrf(ada)})  # fmt: skip
    assert ok.status_code == 303
    page = client_for(app).get("/members/ada")
    assert texts(page, "a.orcid") == ["0000-0002-1825-0097"]
    assert client_for(app).get(f"/members/member-{user.id}").status_code == 404
    assert client_for(app).get("/members/nobody").status_code == 404


def test_organisation_pages_list_papers_members_and_a_feed(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv)
    upsert_records(engine, [record("2502.00901", DAY3, 4, organization="Deep <Lab>",
                                   authors=[Author("Kim Org")])])  # fmt: skip
    card = doc(client_for(app).get(f"/date/{DAY3.isoformat()}")).cssselect(
        "#paper-2502\\.00901 a.org"
    )
    assert card[0].get("href") == "/orgs/deep-lab" and card[0].text_content() == "Deep <Lab>"
    page = client_for(app).get("/orgs/deep-lab")
    assert texts(page, "h1.org-name") == ["Deep <Lab>"]
    assert [e.get("data-paper-id") for e in doc(page).cssselect("article.paper-card")] == [
        "2502.00901"
    ]
    feed = client_for(app).get("/feeds/orgs/deep-lab.atom")
    assert (
        feed.status_code == 200 and "<id>http://127.0.0.1:8000/papers/2502.00901</id>" in feed.text
    )
    assert client_for(app).get("/orgs/nothing-here").status_code == 404
    boss, _ = member_client(app, engine, "boss@example.org", "Boss", admin=True)
    form = {"name": "Deep Research", "names": "Deep <Lab>", "domains": "deep.example"}
    made = boss.post("/admin/orgs", data={**form, "csrf_token": page_csrf(boss, "/admin/orgs")})
    assert made.status_code == 303 and made.headers["location"] == "/orgs/deep-research"
    kim, user = member_client(app, engine, "kim@deep.example", "Kim")
    kim.post("/claims", data={"paper_id": "2502.00901", "author_name": "Kim Org",
                              "csrf_token": page_csrf(kim, "/papers/2502.00901")})  # fmt: skip
    assert claim_store.claim_of(engine, user.id, "2502.00901").how == "email_domain"
    assert texts(client_for(app).get("/orgs/deep-research"), ".org-members a") == ["Kim"]
    bad = boss.post(
        "/admin/orgs", data={"name": "Deep Research", "csrf_token": page_csrf(boss, "/admin/orgs")}
    )
    assert bad.status_code == 422 and "exists already" in texts(bad, ".error")[0]
    assert org_store.get_org(engine, "deep-research").domains == ("deep.example",)


def test_following_an_author_from_their_page(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv)
    ada, _ = member_client(app, engine, "ada@example.org")
    page = ada.get("/authors/Grace%20Hopper")
    assert texts(page, "button.follow") == ["Follow Grace Hopper"]
    done = ada.post(
        "/authors/follow",
        data={"name": "Grace Hopper", "csrf_token": page_csrf(ada, "/authors/Grace%20Hopper")},
    )
    assert done.status_code == 303
    assert texts(ada.get("/profile"), ".followed-authors li > a") == ["Grace Hopper"]
    assert texts(client_for(app).get("/authors/Grace%20Hopper"), "a.follow-signin") == ["Sign in"]


def test_followers_of_an_author_are_told_of_a_new_paper_in_app_and_by_mail_once(
    settings,
    engine,
    arxiv,
    smtp_server,
):
    app = community_app(settings, engine, arxiv, smtp_host=smtp_server.host,
                        smtp_port=smtp_server.port, mail_rate_per_second=0)  # fmt: skip
    grace, grace_user = member_client(app, engine, "grace@example.org")
    follow_author(engine, grace_user.id, grace_user.email, "quan thoi  minh nguyen")
    ada, ada_user = member_client(app, engine, "ada@example.org", "Ada")
    follow_author(engine, ada_user.id, ada_user.email, "Quan Thoi Minh Nguyen")
    assert submit(ada, RECORDED).status_code == 303  # stored through the one ingest path
    [note] = notify_store.list_notifications(engine, grace_user.id)
    assert (note.kind, note.paper_id) == ("followed_author", RECORDED)
    assert texts(grace.get("/"), ".account .nav-notifications .unread-count") == ["1"]
    deadline = time.monotonic() + 20
    while not smtp_server.handler.to("grace@example.org") and time.monotonic() < deadline:
        time.sleep(0.05)
    send_notification_mail(app.state.settings, engine)
    [mail] = smtp_server.handler.to("grace@example.org")
    title = get_paper(engine, RECORDED).title
    assert mail["Subject"] == f"paperroute: new paper by an author you follow: {title}"
    # The submitter who follows the author is told too; storing the paper again tells nobody.
    assert [n.kind for n in notify_store.list_notifications(engine, ada_user.id)] == [
        "followed_author"
    ]
    assert app.state.ingest.arxiv([RECORDED]).result.added == 0
    assert len(notify_store.list_notifications(engine, grace_user.id)) == 1


def test_a_paper_older_than_the_submission_window_tells_no_follower(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv, submission_max_age_days=14)
    _, grace_user = member_client(app, engine, "grace@example.org")
    follow_author(engine, grace_user.id, grace_user.email, "Quan Thoi Minh Nguyen")
    found = app.state.ingest.arxiv([RECORDED])  # an admin adding a 2021 paper
    assert found.result.added == 1
    assert notify_store.list_notifications(engine, grace_user.id) == []


def test_an_author_followed_from_their_page_feeds_the_digest(settings, engine, arxiv):
    app = community_app(settings, engine, arxiv)
    ada, _ = member_client(app, engine, "ada@example.org")
    page_token = page_csrf(ada, "/authors/Grace%20Hopper")
    ada.post("/authors/follow", data={"name": "Grace Hopper", "csrf_token": page_token})
    today = datetime.now(UTC).date()
    upsert_records(engine, [record("2612.00042", today, 1, authors=[Author("Grace Hopper")])])
    app.state.caches.changed("paper")
    preview = ada.get("/digest/preview?format=json").json()
    by_author = [s for s in preview["sections"] if s["key"] == "authors"]
    found = {p["id"]: p["why"] for p in by_author[0]["papers"]} if by_author else {}
    assert "by Grace Hopper" in found["2612.00042"]
