"""The JSON API: the official `huggingface_hub` client against a real uvicorn server, HF's
parameters and shapes, and the token-authenticated write endpoints."""

from __future__ import annotations

import httpx
import pytest

from paperroute.store.auth import create_api_token
from paperroute.store.papers import get_paper
from paperroute.store.users import add_user
from webtools import DAY2, DAY3, MATH_ID, LiveServer, hf_api, make_app, seed


@pytest.fixture
def server(settings, engine):
    seed(engine)
    with LiveServer(make_app(settings, engine)) as live:
        yield live


def test_huggingface_hub_client_lists_daily_papers_from_paperroute(server, monkeypatch):
    api = hf_api(server.url, monkeypatch)
    papers = list(api.list_daily_papers(date=DAY3.isoformat()))
    assert {p.id for p in papers} == {"2502.00005", "2502.00006", "2502.00007", MATH_ID}
    top = next(p for p in papers if p.id == "2502.00005")
    assert top.upvotes == 90
    assert top.title == "Paper 2502.00005 on learning"
    assert [a.name for a in top.authors] == ["Ada Lovelace", "Author 2502.00005"]
    assert top.published_at.year == 2025 and top.submitted_at.date() == DAY3
    week = list(api.list_daily_papers(week="2025-W06", limit=3, p=1))
    assert len(week) == 3
    trending = list(api.list_daily_papers(sort="trending", limit=2))
    # 70 votes two days old (70 * 0.5^(48/36) = 27.8) beat 30 votes one day old (18.9).
    assert [p.id for p in trending] == ["2502.00005", "2502.00004"]
    mine = list(api.list_daily_papers(submitter="hf-user"))
    assert [p.id for p in mine] == ["2502.00007"]


def test_huggingface_hub_client_reads_one_paper(server, monkeypatch):
    info = hf_api(server.url, monkeypatch).paper_info(MATH_ID)
    assert info.id == MATH_ID
    assert info.project_page == "https://example.org/project"
    assert info.upvotes == 9


def test_daily_papers_bad_parameters_are_named(server):
    response = httpx.get(f"{server.url}/api/daily_papers", params={"week": "2025-13"})
    assert response.status_code == 400
    assert "week: '2025-13' is not YYYY-Www" in response.json()["error"]
    response = httpx.get(f"{server.url}/api/daily_papers", params={"sort": "best"})
    assert response.status_code == 422
    assert "sort" in response.json()["error"]


def test_openapi_document_and_docs_page(server):
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/api/daily_papers" in spec["paths"] and "/api/papers/search" in spec["paths"]
    page = httpx.get(f"{server.url}/docs")
    assert page.status_code == 200 and '<span class="path">/api/daily_papers</span>' in page.text
    assert "cdn" not in page.text.lower()


def test_writes_need_an_api_token(server, engine):
    anon = httpx.post(f"{server.url}/api/papers/2502.00001/upvote")
    assert anon.status_code == 401
    bad = httpx.post(
        f"{server.url}/api/papers/2502.00001/upvote", headers={"authorization": "Bearer nope"}
    )
    assert bad.status_code == 401


def test_upvote_and_collections_with_a_bearer_token(server, engine):
    user = add_user(engine, "bot@example.org")
    headers = {"authorization": f"Bearer {create_api_token(engine, user.id, 'bot')}"}
    with httpx.Client(base_url=server.url, headers=headers) as api:
        voted = api.post("/api/papers/2502.00001/upvote").json()
        assert voted == {"paper_id": "2502.00001", "voted": True, "upvotes": 1, "hf_upvotes": 5,
                         "total_upvotes": 6}  # fmt: skip
        assert api.post("/api/papers/2502.00001/upvote").json()["upvotes"] == 1  # idempotent
        assert api.delete("/api/papers/2502.00001/upvote").json()["voted"] is False
        assert api.post("/api/papers/9999.00000/upvote").status_code == 404
        made = api.post("/api/collections", json={"name": "Bots", "public": True})
        assert made.status_code == 201
        cid = made.json()["id"]
        assert api.post(f"/api/collections/{cid}/papers", json={"paper_id": "2502.00003"}).json()[
            "added"
        ]
        assert [c["name"] for c in api.get("/api/collections").json()] == ["Bots"]
    public = httpx.get(f"{server.url}/api/collections/{cid}").json()
    assert [p["id"] for p in public["papers"]] == ["2502.00003"]
    assert get_paper(engine, "2502.00003").saves == 1


def test_browser_session_writes_need_the_csrf_header(server, engine):
    from webtools import sign_in

    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}) as browser:
        sign_in(browser, engine, "web@example.org")
        assert browser.post("/api/papers/2502.00001/upvote").status_code == 403
        page = browser.get("/profile").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        ok = browser.post("/api/papers/2502.00001/upvote", headers={"x-csrf-token": token})
        assert ok.status_code == 200 and ok.json()["voted"] is True


def test_hidden_papers_are_not_in_the_api(server, engine):
    from paperroute.store.listings import set_flags

    set_flags(engine, "2502.00003", hidden=True)
    assert httpx.get(f"{server.url}/api/papers/2502.00003").status_code == 404
    day = httpx.get(f"{server.url}/api/daily_papers", params={"date": DAY2.isoformat()}).json()
    assert "2502.00003" not in {e["paper"]["id"] for e in day}


def test_huggingface_hub_client_reads_the_member_who_submitted_a_paper(server, engine, monkeypatch):
    from datetime import UTC, datetime

    from paperroute.store.submissions import Limits, record_submission
    from paperroute.store.users import get_user, update_profile, update_public_profile

    member = add_user(engine, "ada@example.org")
    update_profile(engine, member.id, "Ada Lovelace")
    update_public_profile(engine, member.id, "ada", None)
    now = datetime.now(UTC)
    roomy = Limits(max_age_days=100_000, daily_quota=5, new_account_quota=5)
    record_submission(engine, get_user(engine, member.id), "2502.00001", roomy, now=now)
    from paperroute.store.comments import add_comment

    first = add_comment(engine, "2502.00001", member.id, "Question?", "<p>Question?</p>")
    add_comment(engine, "2502.00001", member.id, "Answer.", "<p>Answer.</p>", first.id)
    api = hf_api(server.url, monkeypatch)
    today = list(api.list_daily_papers(date=now.date().isoformat()))
    assert [p.id for p in today] == ["2502.00001"]  # submitted today: on today's daily list
    assert today[0].comments == 2  # the client's numComments
    assert (today[0].submitted_by.username, today[0].submitted_by.fullname) == (
        "ada",
        "Ada Lovelace",
    )
    assert today[0].submitted_at.date() == now.date()
    info = api.paper_info("2502.00001")
    assert info.submitted_by.username == "ada" and info.submitted_by.fullname == "Ada Lovelace"
    assert info.comments == 2
    assert api.paper_info(MATH_ID).comments == 0
    assert [p.id for p in api.list_daily_papers(submitter="ada")] == ["2502.00001"]
    assert hf_api(server.url, monkeypatch).paper_info(MATH_ID).submitted_by is None


def test_huggingface_hub_client_reads_the_organisation(server, engine, monkeypatch):
    from factories import record
    from paperroute.models import Author
    from paperroute.store.papers import upsert_records

    upsert_records(engine, [record("2502.00901", DAY3, 4, organization="Deep Lab",
                                   authors=[Author("Kim")])])  # fmt: skip
    info = hf_api(server.url, monkeypatch).paper_info("2502.00901")
    assert (info.organization.name, info.organization.fullname) == ("deep-lab", "Deep Lab")
