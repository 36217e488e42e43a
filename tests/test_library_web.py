"""The for-you page, library import/export and account export/import through the real app.

Runs on SQLite and PostgreSQL with the in-process client. The vectors here are small
deterministic ones (vision papers along one axis, language papers along another), stored in the
real embeddings table: these tests are about pages, forms, CSRF and tokens, not ranking quality
(that is judged with the real model in test_ranking_recommend.py).
"""

from __future__ import annotations

import json
import time
from datetime import date

import numpy as np
import pytest
from sqlalchemy import select

from factories import record
from paperroute.store import auth
from paperroute.store import collections as coll
from paperroute.store.embeddings import save_vectors
from paperroute.store.papers import upsert_records
from paperroute.store.schema import papers
from webtools import client_for, csrf_from, doc, make_app, sign_in, texts

DAY = date(2026, 6, 10)
VISION = [f"2606.0010{i}" for i in range(5)]
LANGUAGE = [f"2606.0020{i}" for i in range(5)]


def _seed(engine, settings) -> None:
    recs = [
        record(pid, DAY, 1, title=f"Vision paper {n}: image segmentation", categories=["cs.CV"])
        for n, pid in enumerate(VISION)
    ] + [
        record(pid, DAY, 1, title=f"Language paper {n}: machine translation", categories=["cs.CL"])
        for n, pid in enumerate(LANGUAGE)
    ]
    upsert_records(engine, recs)
    rng = np.random.default_rng(0)
    ids = VISION + LANGUAGE
    vecs = np.zeros((len(ids), 8), dtype=np.float32)
    vecs[: len(VISION), 0] = 1.0
    vecs[len(VISION) :, 1] = 1.0
    vecs += rng.normal(0, 0.15, vecs.shape).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with engine.connect() as conn:
        hashes = dict(conn.execute(select(papers.c.id, papers.c.content_hash)).all())
    save_vectors(engine, settings.embedding_model, ids, [hashes[i] for i in ids], vecs)


@pytest.fixture
def client(settings, engine):
    _seed(engine, settings)
    return client_for(make_app(settings, engine))


BIB = f"""@article{{v0, title = {{Vision paper 0}}, eprint = {{{VISION[0]}}},
  archiveprefix = {{arXiv}}
}}

@article{{broken, title = {{Unclosed

@misc{{v1, url = {{https://arxiv.org/abs/{VISION[1]}v2}}}}
"""


def _import(client, csrf, data=BIB, name="mine.bib"):
    started = client.post(
        "/for-you/import",
        data={"csrf_token": csrf, "collection": "Zotero"},
        files={"library": (name, data.encode(), "application/x-bibtex")},
    )
    return finished(client, started)


def finished(client, started, timeout=60.0):
    """The import page once the background import is over (it answers 303 to it at once)."""
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    deadline = time.monotonic() + timeout
    while client.get(url + "?format=json").json()["status"] in {"queued", "running"}:
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.05)
    return client.get(url)


def test_import_a_bibtex_file_then_see_recommendations_with_reasons_and_reject_one(client, engine):
    sign_in(client, engine, "reader@example.org")
    first = client.get("/for-you")
    assert first.status_code == 200
    assert "pick topics" in texts(first, ".foryou-message")[0]

    report = _import(client, csrf_from(first))
    assert report.status_code == 200
    assert "2 matched (2 newly saved" in texts(report, ".import-summary")[0]
    assert texts(report, ".import-errors li") == [
        "line 5: unbalanced braces: an entry or field is not closed"
    ]
    again = _import(client, csrf_from(first))
    assert "2 matched (0 newly saved" in texts(again, ".import-summary")[0]

    page = client.get("/for-you?window=month")
    shown = [a.get("data-paper-id") for a in doc(page).cssselect(".recommendations .paper-card")]
    assert shown[:3] and set(shown[:3]) <= set(VISION[2:])
    reason = texts(page, ".reason")[0]
    assert "Because you saved" in reason and "Vision paper" in reason
    assert "By Ada Lovelace, also an author of your papers." in texts(page, ".shared-authors")[0]

    rejected = shown[0]
    csrf = csrf_from(page)
    refused = client.post("/for-you/not-interested", data={"paper_id": rejected})
    assert refused.status_code == 403
    done = client.post("/for-you/not-interested", data={"paper_id": rejected, "csrf_token": csrf})
    assert done.status_code == 303
    after = client.get("/for-you?window=month")
    now = [a.get("data-paper-id") for a in doc(after).cssselect(".recommendations .paper-card")]
    assert rejected not in now
    title = f"Vision paper {VISION.index(rejected)}: image segmentation"
    assert title in texts(after, ".not-interested-list li")[0]


def test_api_recommendations_need_a_token_and_give_reasons(client, engine):
    user = sign_in(client, engine, "reader@example.org")
    shelf = coll.create_collection(engine, user.id, "Language")
    for pid in LANGUAGE[:2]:
        coll.add_paper(engine, user.id, shelf.id, pid)
    anonymous = client_for(client.app).get("/api/recommendations")
    assert anonymous.status_code == 401
    token = auth.create_api_token(engine, user.id, "script")
    response = client_for(client.app).get(
        "/api/recommendations?window=month&limit=3", headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert [i["paper"]["id"] for i in body["items"]] and all(
        i["paper"]["id"] in LANGUAGE[2:] for i in body["items"]
    )
    assert body["items"][0]["reason"]["closest"][0]["id"] in LANGUAGE[:2]
    twin = client.get("/for-you?window=month&format=json").json()
    assert [i["id"] for i in twin["items"][:3]] == [i["paper"]["id"] for i in body["items"]]
    assert twin["items"][0]["reason"]["closest"][0]["id"] in LANGUAGE[:2]
    bad = client_for(client.app).get(
        "/api/recommendations?window=year", headers={"authorization": f"Bearer {token}"}
    )
    assert bad.status_code == 422 and "window" in bad.json()["error"]


def test_export_a_collection_and_move_a_whole_account(client, engine):
    user = sign_in(client, engine, "reader@example.org")
    shelf = coll.create_collection(engine, user.id, "Vision")
    for pid in VISION[:2]:
        coll.add_paper(engine, user.id, shelf.id, pid)
    ris = client.get(f"/library/export?collection={shelf.id}&format=ris")
    assert ris.status_code == 200
    assert 'filename="vision.ris"' in ris.headers["content-disposition"]
    assert f"UR  - https://arxiv.org/abs/{VISION[0]}" in ris.text or VISION[0] in ris.text
    assert client.get("/library/export?ids=x&format=docx").status_code == 422

    account = client.get("/account/export")
    data = account.json()
    assert data["format"] == "paperroute-account"
    assert [p["id"] for p in data["collections"][0]["papers"]] == VISION[:2]

    other = client_for(client.app)
    sign_in(other, engine, "twin@example.org")
    csrf = csrf_from(other.get("/for-you"))
    moved = other.post(
        "/account/import",
        data={"csrf_token": csrf},
        files={"account": ("account.json", json.dumps(data).encode(), "application/json")},
    )
    moved = finished(other, moved)
    assert moved.status_code == 200
    assert "1 collection created, 2 papers saved" in texts(moved, ".account-import li")[0]
    broken = other.post(
        "/account/import",
        data={"csrf_token": csrf},
        files={"account": ("account.json", b'{"format": ', "application/json")},
    )
    broken = finished(other, broken)
    assert texts(broken, ".import-status")[0].startswith("The import failed")
    assert "not JSON (line 1" in texts(broken, ".import-error")[0]
    assert client.get(moved.url.path).status_code == 404  # only its owner sees an import


def test_cold_start_picks_and_pasted_ids(client, engine):
    user = sign_in(client, engine, "reader@example.org")
    csrf = csrf_from(client.get("/for-you"))
    response = client.post(
        "/for-you/start",
        data={"csrf_token": csrf, "categories": ["cs.CL"], "topics": "", "arxiv_ids": "bogus"},
    )
    response = finished(client, response)  # pasted ids are imported in the background too
    assert "not an arXiv id: 'bogus'" in " ".join(texts(response, ".import-errors li"))
    page = client.get("/for-you?window=month")
    shown = [a.get("data-paper-id") for a in doc(page).cssselect(".recommendations .paper-card")]
    assert shown and set(shown[:3]) <= set(LANGUAGE)
    assert "category cs.CL" in texts(page, ".reason")[0]
    response = client.post(
        "/for-you/start", data={"csrf_token": csrf, "arxiv_ids": f"arXiv:{VISION[0]}"}
    )
    assert "1 matched (1 newly saved" in texts(finished(client, response), ".import-summary")[0]
    assert coll.list_collections(engine, user.id)[0].name == "Starter"
    assert client.post("/for-you/start", data={"csrf_token": csrf}).headers["location"] == (
        "/for-you"
    )


def test_a_library_file_over_50_mb_is_refused_with_a_clear_message(client, engine):
    sign_in(client, engine, "reader@example.org")
    csrf = csrf_from(client.get("/for-you"))
    huge = b"% comment line\n" * (50 * 1024 * 1024 // 15 + 1)
    response = client.post(
        "/for-you/import",
        data={"csrf_token": csrf},
        files={"library": ("huge.bib", huge, "application/x-bibtex")},
    )
    assert response.status_code == 413
    assert "over the 50 MB limit" in response.text
    assert client.get("/for-you").status_code == 200  # the server carries on


def test_not_interested_is_on_every_paper_card_and_returns_to_the_page(client, engine):
    sign_in(client, engine, "reader@example.org")
    page = client.get("/collections")  # any page: take the session's CSRF token
    listing = client.get("/date/2026-06-10")
    forms = doc(listing).cssselect(".paper-card form.not-interested-form")
    assert len(forms) == len(doc(listing).cssselect(".paper-card")) > 0
    pid = forms[0].cssselect("input[name=paper_id]")[0].get("value")
    done = client.post(
        "/for-you/not-interested",
        data={"paper_id": pid, "csrf_token": csrf_from(page)},
        headers={"referer": str(client.base_url) + "/date/2026-06-10"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/date/2026-06-10"
    mine = client.get("/for-you?window=month")
    cards = doc(mine).cssselect(".recommendations .paper-card")
    assert len(doc(mine).cssselect(".paper-card form.not-interested-form")) == len(cards)
    assert pid in " ".join(a.get("href") for a in doc(mine).cssselect(".not-interested-list a"))


def _card_controls(response) -> dict[str, str]:
    """Per card on a page: "dismiss", "undo" or "" (no "Not interested" control)."""
    found = {}
    for card in doc(response).cssselect(".paper-card"):
        dismiss = card.cssselect("form.not-interested-form")
        undo = card.cssselect("form.not-interested-undo")
        found[card.get("data-paper-id")] = "dismiss" if dismiss else "undo" if undo else ""
    return found


def test_not_interested_is_not_offered_on_saved_papers_and_a_marked_card_offers_undo(
    client, engine
):
    user = sign_in(client, engine, "reader@example.org")
    coll.save_into_collection(engine, user.id, "Keep", [VISION[0]])
    page = client.get("/date/2026-06-10")
    controls = _card_controls(page)
    assert controls.pop(VISION[0]) == "" and set(controls.values()) == {"dismiss"}

    marked = client.post(
        "/for-you/not-interested",
        data={"paper_id": VISION[1], "csrf_token": csrf_from(page)},
        headers={"accept": "application/json"},
    )
    assert marked.status_code == 200 and marked.json()["not_interested"] is True
    assert _card_controls(client.get("/date/2026-06-10"))[VISION[1]] == "undo"
    client.post(
        "/for-you/not-interested/undo",
        data={"paper_id": VISION[1], "csrf_token": csrf_from(page)},
        headers={"accept": "application/json"},
    )
    assert _card_controls(client.get("/date/2026-06-10"))[VISION[1]] == "dismiss"


def test_for_you_says_upvoted_for_an_upvote_and_keeps_reasons_and_controls_compact(client, engine):
    sign_in(client, engine, "reader@example.org")
    page = client.get("/date/2026-06-10")
    voted = client.post(f"/papers/{VISION[0]}/upvote", data={"csrf_token": csrf_from(page)})
    assert voted.status_code == 303
    mine = client.get("/for-you?window=month")
    reasons = texts(mine, ".recommendations .paper-card .reason")
    assert reasons and len(reasons) == len(doc(mine).cssselect(".recommendations .paper-card"))
    assert reasons[0].startswith("Because you upvoted Vision paper 0") and "saved" not in reasons[0]
    assert "(0." not in mine.text and ")·" not in mine.text
    assert "1 saved or upvoted paper and 0 not interested" in texts(mine, ".foryou-stats")[0]
    panels = doc(mine).cssselect("details.foryou-panel")
    assert [p.cssselect("summary")[0].text_content() for p in panels] == [
        "Tune your recommendations",
        "Import or export your library",
    ]
    assert not any(p.get("open") is not None for p in panels)
    assert doc(mine).cssselect("details.library-panel form.import-form")


def test_for_you_is_kept_between_loads_and_follows_the_readers_own_upvote_at_once(
    client, settings, engine
):
    client = client_for(make_app(settings, engine, page_cache_ttl=10))  # production caching
    user = sign_in(client, engine, "reader@example.org")
    shelf = coll.create_collection(engine, user.id, "Vision")
    for pid in VISION[:2]:
        coll.add_paper(engine, user.id, shelf.id, pid)
    first = client.get("/for-you?window=month&format=json").json()
    again = client.get("/for-you?window=month&format=json").json()
    assert again == first  # the kept ranking (its took_ms too), not ranked again
    assert LANGUAGE[0] in [i["id"] for i in first["items"]]

    page = client.get("/for-you?window=month")
    assert LANGUAGE[0] in _cards(page) and client.get("/for-you?window=month").text == page.text
    csrf = csrf_from(page)
    voted = client.post(f"/papers/{LANGUAGE[0]}/upvote", data={"csrf_token": csrf})
    assert voted.status_code == 303
    after = client.get("/for-you?window=month&format=json").json()
    shown = [i["id"] for i in after["items"]]
    assert LANGUAGE[0] not in shown  # in the reader's library now: the kept ranking was dropped
    assert LANGUAGE[0] not in _cards(client.get("/for-you?window=month"))  # and the kept page
    client.post("/for-you/not-interested", data={"paper_id": shown[0], "csrf_token": csrf})
    assert shown[0] not in _cards(client.get("/for-you?window=month"))


def _cards(page) -> list[str]:
    return [a.get("data-paper-id") for a in doc(page).cssselect(".recommendations .paper-card")]
