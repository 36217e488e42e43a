"""Numbers and dates past what the store can hold: a 422 naming the parameter, a 404 for a path id
no row can have, never a 500 (issue 15 item 12). HTML readers get the error page, the API JSON."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from search_support import load_fixture, make_service
from webtools import client_for, doc, make_app, page_csrf, seed, sign_in, texts

HUGE = "99999999999999999999"  # past 64 bits: SQLite, PostgreSQL and tantivy all overflow


@pytest.fixture
def client(settings, engine):
    seed(engine)
    return client_for(make_app(settings, engine))


def _detail(response) -> str:
    if response.headers["content-type"].startswith("application/json"):
        return response.json()["error"]
    return texts(response, ".error-detail")[0]


@pytest.mark.parametrize(
    ("url", "status", "named"),
    [
        (f"/?p={HUGE}", 422, "p"),
        ("/?p=-1", 422, "p"),
        (f"/date/2025-02-05?p={HUGE}", 422, "p"),
        (f"/week/2025-W06?p={HUGE}", 422, "p"),
        (f"/month/2025-02?p={HUGE}", 422, "p"),
        (f"/authors/Ada%20Lovelace?p={HUGE}", 422, "p"),
        (f"/categories/cs.LG?p={HUGE}", 422, "p"),
        (f"/search?q=x&p={HUGE}", 422, "p"),
        (f"/api/daily_papers?p={HUGE}", 422, "p"),
        (f"/library/export?collection={HUGE}", 422, "collection"),
        (f"/collections/{HUGE}", 404, "collection_id"),
        (f"/api/collections/{HUGE}", 404, "collection_id"),
        (f"/feeds/collections/{HUGE}.atom", 404, "collection_id"),
        ("/week/0001-W01", 404, "week"),
        ("/week/9999-W52", 404, "week"),
        ("/month/0001-01", 404, "month"),
        (f"/month/{HUGE}-01", 404, "month"),
        ("/date/0001-01-01", 404, "date"),
        ("/api/daily_papers?week=9999-W52", 400, "week"),
    ],
)
def test_out_of_range_numbers_and_dates_are_named_not_a_500(client, url, status, named):
    response = client.get(url)
    assert response.status_code == status, response.text[:300]
    assert _detail(response).startswith(f"{named}: ")


def test_an_invalid_page_number_gets_the_sites_error_page(client):
    response = client.get(f"/?p={HUGE}")
    assert response.headers["content-type"].startswith("text/html")
    assert texts(response, "h1.error-title") == ["422 · Invalid input"]
    assert "less than or equal to 10000" in texts(response, ".error-detail")[0]
    assert doc(response).cssselect('main a[href="/"]')
    api = client.get(f"/api/daily_papers?p={HUGE}")
    assert api.headers["content-type"] == "application/json"


def test_pages_inside_the_bounds_still_page(client):
    assert client.get("/?p=1").status_code == 200
    assert client.get("/week/2025-W06?p=10000").status_code == 200
    assert client.get("/week/1000-W02").status_code == 200  # its previous week is a real date
    assert client.get("/month/9998-12").status_code == 200


def test_huge_upvote_filters_are_reported_by_name_on_the_page_and_in_saved_feeds(settings, engine):
    load_fixture(engine)
    client = client_for(make_app(settings, engine, search=make_service(settings, engine)))
    response = client.get(f"/search?q=diffusion&min_upvotes={HUGE}")
    assert response.status_code == 200
    assert any(e.startswith("min_upvotes: ") for e in texts(response, ".error"))
    assert client.get("/search?q=diffusion&min_upvotes=-3").status_code == 200
    sign_in(client, engine, "saver@example.org")
    query = f"q=diffusion&min_upvotes={HUGE}"
    client.post(
        "/search/save",
        data={"query_string": query, "name": "huge", "csrf_token": page_csrf(client)},
    )
    feed_link = next(
        a.get("href")
        for a in doc(client.get("/profile")).cssselect("a[href*='/feeds/searches/']")
        if a.get("href").endswith(".atom")
    )
    feed = client.get(feed_link.replace(settings.base_url.rstrip("/"), ""))
    assert feed.status_code == 200, quote(feed.text[:200])
