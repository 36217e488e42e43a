"""Signed-in readers share one rendering per page, personalised per request (web/personal.py).

Runs with the page cache on, as `paperroute serve` does, and checks that what is personal
(CSRF token, name, upvotes, collections, admin tools) is each reader's own, never another's.
"""

from __future__ import annotations

from paperroute.store import auth
from webtools import client_for, csrf_from, doc, make_app, page_csrf, seed, sign_in, texts

VOTED = "2502.00005"


def _pressed(response) -> dict[str, str]:
    return {
        b.get("data-vote"): b.get("aria-pressed")
        for b in doc(response).cssselect("button.upvote[data-vote]")
    }


def _readers(settings, engine):
    seed(engine)
    app = make_app(settings, engine, page_cache_ttl=60)
    ada, bob = client_for(app), client_for(app)
    sign_in(ada, engine, "ada@example.org")
    sign_in(bob, engine, "bob@example.org")
    return app, ada, bob


def test_each_reader_sees_own_votes_name_and_token_on_a_shared_page(settings, engine):
    app, ada, bob = _readers(settings, engine)
    ada.post(f"/papers/{VOTED}/upvote", data={"csrf_token": page_csrf(ada)})
    ada_page, bob_page = ada.get("/"), bob.get("/")  # bob's is served from ada's rendering
    assert len(app.state.shared_pages._items) >= 1
    assert _pressed(ada_page)[VOTED] == "true"
    assert _pressed(bob_page)[VOTED] == "false"
    assert set(_pressed(ada_page).values()) == {"true", "false"}  # only that one paper
    assert texts(ada_page, ".account .who") == ["ada@example.org"]
    assert texts(bob_page, ".account .who") == ["bob@example.org"]
    for response in (ada_page, bob_page):
        assert "\x00" not in response.text
        assert "x-paperroute-shared" not in response.headers
        assert int(response.headers["content-length"]) == len(response.content)
    # The token on bob's shared page is bob's own: his vote goes through with it.
    token = doc(bob_page).cssselect("form.vote-form input[name=csrf_token]")[0].get("value")
    voted = bob.post(f"/papers/{VOTED}/upvote", data={"csrf_token": token})
    assert voted.status_code in (200, 303)
    assert _pressed(bob.get("/"))[VOTED] == "true"


def test_trending_search_and_category_pages_are_personalised_too(settings, engine):
    _, ada, bob = _readers(settings, engine)
    ada.post(f"/papers/{VOTED}/upvote", data={"csrf_token": page_csrf(ada)})
    for path in ("/trending", "/categories/cs.LG", "/date/2025-02-05"):
        bob.get(path)  # rendered first for bob
        assert _pressed(ada.get(path)).get(VOTED) == "true", path
        assert _pressed(bob.get(path)).get(VOTED) == "false", path


def test_paper_page_shows_each_readers_collections(settings, engine):
    _, ada, bob = _readers(settings, engine)
    ada.post(
        "/collections",
        data={"name": "Reading group", "paper_id": VOTED, "csrf_token": page_csrf(ada)},
    )
    bob.post("/collections", data={"name": "Later", "csrf_token": page_csrf(bob)})
    bob_page = bob.get(f"/papers/{VOTED}")
    ada_page = ada.get(f"/papers/{VOTED}")
    assert texts(ada_page, ".save form.save-form button") == ["✓ Reading group"]
    assert texts(bob_page, ".save form.save-form button") == ["+ Later"]
    assert doc(ada_page).cssselect(".save input[name=paper_id]")[0].get("value") == VOTED


def test_admin_tools_never_reach_other_readers(settings, engine):
    seed(engine)
    app = make_app(settings, engine, page_cache_ttl=60)
    admin, reader = client_for(app), client_for(app)
    sign_in(admin, engine, "root@example.org", admin=True)
    sign_in(reader, engine, "reader@example.org")
    assert doc(admin.get(f"/papers/{VOTED}")).cssselect(".admin-tools")
    assert not doc(reader.get(f"/papers/{VOTED}")).cssselect(".admin-tools")
    assert texts(admin.get("/"), ".account a[href='/admin']") == ["Admin"]
    assert not texts(reader.get("/"), ".account a[href='/admin']")


def _sign_in_again(client, engine, email: str) -> None:
    """A second browser of an existing member, through the real verify route."""
    token = auth.create_login_token(engine, email)
    page = client.get(f"/signin/verify?token={token}")
    form = {"token": token, "next": "/", "csrf_token": csrf_from(page)}
    assert client.post("/signin/verify", data=form).status_code == 303


def test_a_shared_page_is_the_page_rendered_for_the_reader_alone(settings, engine):
    seed(engine)
    shared = client_for(make_app(settings, engine, page_cache_ttl=60))
    alone = client_for(make_app(settings, engine, page_cache_ttl=0))  # nothing shared
    sign_in(shared, engine, "ada@example.org")
    _sign_in_again(alone, engine, "ada@example.org")
    token = page_csrf(shared)
    shared.post(f"/papers/{VOTED}/upvote", data={"csrf_token": token})
    form = {"name": "Reading <group>", "paper_id": VOTED, "csrf_token": token}
    shared.post("/collections", data=form)
    for path in (f"/papers/{VOTED}", "/", "/trending"):
        shared.get(path)  # the shared rendering is made, then served from
        pages = [client.get(path) for client in (shared, alone)]
        assert all(p.status_code == 200 for p in pages)
        # the same but for the token and the whitespace where the skeleton has a slot
        mine, theirs = (
            " ".join(p.text.replace(page_csrf(c), "TOKEN").split())
            for p, c in zip(pages, (shared, alone), strict=True)
        )
        assert mine == theirs, path
        assert _pressed(pages[0])[VOTED] == "true"
