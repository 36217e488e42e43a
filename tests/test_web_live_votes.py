"""Vote counts on cached pages are filled in as the pages are served (web/livevotes.py): a vote
shows at once for the voter and for every other reader, signed in or not, without the cached
page being rendered again. Runs with the page cache on, as `paperroute serve` does."""

from __future__ import annotations

import time

from factories import record
from paperroute.store.listings import set_flags
from paperroute.store.papers import upsert_records
from paperroute.store.users import add_user
from paperroute.store.votes import toggle_vote
from paperroute.web import cache
from webtools import DAY1, client_for, doc, make_app, page_csrf, seed, sign_in, texts

PAPER, DAY = "2502.00001", "/date/2025-02-03"  # 5 upvotes on Hugging Face; 2502.00002 has 50


def _card(response, paper_id: str):
    return doc(response).cssselect(f'.paper-card[data-paper-id="{paper_id}"] .vote .count')[0]


def _app(settings, engine, ttl=60):
    seed(engine)
    app = make_app(settings, engine, page_cache_ttl=ttl)
    anon, ada, bob = client_for(app), client_for(app), client_for(app)
    sign_in(ada, engine, "ada@example.org")
    sign_in(bob, engine, "bob@example.org")
    return anon, ada, bob


def _vote(client, paper_id: str = PAPER) -> None:
    reply = client.post(f"/papers/{paper_id}/upvote", data={"csrf_token": page_csrf(client)})
    assert reply.status_code == 303


def test_a_vote_shows_at_once_on_cached_pages_for_voter_and_others(settings, engine):
    anon, ada, bob = _app(settings, engine)
    for client in (anon, ada, bob):  # every page cached, anonymous and shared signed-in
        assert texts(client.get(f"/papers/{PAPER}"), ".total-votes") == ["5"]
        assert _card(client.get(DAY), PAPER).text == "5"
    set_flags(engine, PAPER, featured=True)  # behind the app's back: shows once re-rendered
    _vote(ada)
    for client in (ada, bob, anon):
        page = client.get(f"/papers/{PAPER}")
        assert texts(page, ".total-votes") == ["6"], client
        assert texts(page, ".local-votes") == ["1"] and texts(page, ".hf-votes") == ["5"]
        assert not doc(page).cssselect(".badge")  # the same cached page, counts filled in
        card = _card(client.get(DAY), PAPER)
        assert card.text == "6" and card.get("title") == "5 from Hugging Face + 1 here"
        assert "\x00" not in page.text and "x-paperroute-unranked" not in page.headers
        assert int(page.headers["content-length"]) == len(page.content)
    # Only the voter's own button is pressed.
    assert doc(ada.get(f"/papers/{PAPER}")).cssselect(".paper-head .upvote.on")
    assert not doc(bob.get(f"/papers/{PAPER}")).cssselect(".paper-head .upvote.on")
    _vote(bob)
    _vote(ada)  # ada takes hers back
    for client in (ada, bob, anon):
        assert texts(client.get(f"/papers/{PAPER}"), ".total-votes") == ["6"]
        assert _card(client.get(DAY), PAPER).text == "6"
    assert not doc(ada.get(f"/papers/{PAPER}")).cssselect(".paper-head .upvote.on")


def test_upvote_word_follows_the_live_count(settings, engine):
    seed(engine)
    app = make_app(settings, engine, page_cache_ttl=60)
    anon, voter = client_for(app), client_for(app)
    line = lambda: texts(anon.get("/papers/2502.00006"), ".votes-line")[0]  # noqa: E731
    assert line().startswith("1 upvote (")  # 1 from Hugging Face
    sign_in(voter, engine, "v@example.org")
    _vote(voter, "2502.00006")
    assert line().startswith("2 upvotes (")


def test_votes_from_another_process_show_within_the_cache_ttl(settings, engine):
    anon, _, bob = _app(settings, engine, ttl=1)
    assert texts(anon.get(f"/papers/{PAPER}"), ".total-votes") == ["5"]
    assert texts(bob.get(f"/papers/{PAPER}"), ".total-votes") == ["5"]
    toggle_vote(engine, add_user(engine, "elsewhere@example.org").id, PAPER)  # not through app
    deadline = time.monotonic() + 3
    for client in (anon, bob):
        while texts(client.get(f"/papers/{PAPER}"), ".total-votes") != ["6"]:
            assert time.monotonic() < deadline, "the other process's vote never showed"
            time.sleep(0.1)


def test_json_answers_and_the_ranking_follow_a_vote(settings, engine, monkeypatch):
    monkeypatch.setattr(cache, "VOTES_REORDER_WITHIN_S", 0.3)
    anon, ada, bob = _app(settings, engine)
    ranking = lambda client: [  # noqa: E731
        e.get("data-paper-id") for e in doc(client.get(DAY)).cssselect(".paper-card")
    ]
    json_votes = lambda: anon.get(f"/papers/{PAPER}?format=json").json()["total_upvotes"]  # noqa: E731
    assert ranking(anon) == ranking(bob) == ["2502.00002", "2502.00001"]
    assert json_votes() == 5
    for n in range(46):  # 46 local votes lift 2502.00001 (5 + 46) above 2502.00002 (50)
        toggle_vote(engine, add_user(engine, f"u{n}@example.org").id, PAPER)
    _vote(ada)  # the 47th, through the app
    deadline = time.monotonic() + 3
    while json_votes() != 52 or ranking(anon) != ["2502.00001", "2502.00002"]:
        assert time.monotonic() < deadline, "the vote never re-ordered the cached page"
        time.sleep(0.1)
    assert ranking(bob) == ["2502.00001", "2502.00002"]
    assert _card(bob.get(DAY), PAPER).text == "52"


def test_no_stored_text_can_spell_a_vote_slot(settings, engine):
    """A title shaped like a slot stays text: only the process's secret markers are filled."""
    seed(engine)
    fake = "\x00votes:total:2502.00002\x00 :votes:hf:2502.00002 votes:total:2502.00002"
    upsert_records(engine, [record("2502.00009", DAY1, 4, title=f"Fake {fake}")])
    app = make_app(settings, engine, page_cache_ttl=60)
    anon = client_for(app)
    page = anon.get("/papers/2502.00009")
    title = texts(page, "h1.paper-title")[0]
    assert "votes:total:2502.00002" in title and "\x00" not in page.text
    assert texts(page, ".total-votes") == ["4"]


def test_a_paper_page_fills_its_counts_from_the_paper_it_read(settings, engine):
    """The page reads its paper anyway: the counts come with it, not from a second query."""
    seed(engine)
    app = make_app(settings, engine, page_cache_ttl=60)
    asked = []
    load = app.state.caches.votes.load
    app.state.caches.votes.load = lambda ids: asked.append(ids) or load(ids)
    page = client_for(app).get(f"/papers/{PAPER}")
    assert texts(page, ".total-votes") == ["5"] and texts(page, ".hf-votes") == ["5"]
    assert asked == []


def test_counts_read_before_a_vote_are_not_kept(settings, engine):
    from paperroute.web.livevotes import LiveVotes

    live = LiveVotes(lambda ids: {}, ttl=60)
    began = time.monotonic()
    live.forget(PAPER)  # a vote lands while the page's read is under way
    live.keep({PAPER: (0, 5)}, began)
    assert live.known([PAPER]) == ({}, [PAPER])
    live.keep({PAPER: (1, 5)}, time.monotonic())
    assert live.known([PAPER]) == ({PAPER: (1, 5)}, [])
