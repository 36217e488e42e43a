"""Pages a reader sees, in-process on SQLite and PostgreSQL, asserted with CSS selectors."""

from __future__ import annotations

import pytest

from paperroute.search.embedding import embed_pending
from paperroute.store.listings import set_flags
from webtools import DAY1, DAY2, DAY3, MATH_ID, SCRIPT_ID, client_for, doc, make_app, seed, texts


@pytest.fixture
def client(settings, engine):
    seed(engine)
    return client_for(make_app(settings, engine))


def card_ids(response) -> list[str]:
    return [e.get("data-paper-id") for e in doc(response).cssselect(".paper-list .paper-card")]


def test_home_shows_the_latest_day_ranked_by_upvotes(client):
    response = client.get("/")
    assert response.status_code == 200
    assert card_ids(response) == ["2502.00005", "2502.00007", MATH_ID, "2502.00006"]
    assert texts(response, ".paper-list .vote .count")[:2] == ["90", "30"]
    assert doc(response).cssselect("a.prev")[0].get("href") == f"/date/{DAY2.isoformat()}"
    assert not doc(response).cssselect("a.next")


def test_a_day_links_to_the_days_before_and_after(client):
    response = client.get(f"/date/{DAY2.isoformat()}")
    assert card_ids(response) == ["2502.00004", "2502.00003", SCRIPT_ID]
    assert doc(response).cssselect("a.prev")[0].get("href") == f"/date/{DAY1.isoformat()}"
    assert doc(response).cssselect("a.next")[0].get("href") == f"/date/{DAY3.isoformat()}"


def test_bad_dates_weeks_and_months_are_404_with_the_reason(client):
    response = client.get("/date/2025-13-45")
    assert response.status_code == 404
    assert "is not YYYY-MM-DD" in texts(response, ".error-detail")[0]
    assert client.get("/week/2025-W99").status_code == 404
    assert "YYYY-MM" in client.get("/month/nope").text


def test_week_and_month_rank_all_their_days_together(client):
    week = client.get("/week/2025-W06")
    assert card_ids(week)[:3] == ["2502.00005", "2502.00004", "2502.00002"]
    assert len(card_ids(week)) == 9
    month = client.get("/month/2025-02")
    assert card_ids(month) == card_ids(week)
    assert texts(month, ".count-line") == ["9 papers"]
    assert not card_ids(client.get("/month/2025-03"))


def test_trending_shows_each_papers_score_breakdown(client):
    response = client.get("/trending")
    ids = card_ids(response)
    assert ids[0] == "2502.00005"  # newest day, most votes
    breakdown = texts(response, ".score-breakdown")
    assert len(breakdown) == len(ids)
    assert "90 HF + 0 local upvotes" in breakdown[0]
    assert doc(response).cssselect('a[href="/about/trending"]')


def test_paper_page_has_citation_tags_links_and_rendered_math(client):
    response = client.get(f"/papers/{MATH_ID}")
    page = doc(response)
    meta = {m.get("name"): m.get("content") for m in page.cssselect("meta[name^=citation_]")}
    assert meta["citation_arxiv_id"] == MATH_ID
    assert meta["citation_title"] == "Bounds on $\\alpha^2$ for transformers"
    assert meta["citation_publication_date"] == "2025/02/05"
    assert meta["citation_pdf_url"].endswith(MATH_ID)
    assert meta["citation_doi"] == "10.1000/xyz123"
    authors = [m.get("content") for m in page.cssselect('meta[name="citation_author"]')]
    assert authors == ["Ada Lovelace", f"Author {MATH_ID}"]
    assert page.cssselect(".authors a")[0].get("href") == "/authors/Ada%20Lovelace"
    assert page.cssselect(".abstract math msup")  # $x^2$ became MathML
    assert page.cssselect("h1.paper-title math")
    assert page.cssselect("a.project")[0].get("href") == "https://example.org/project"
    assert "@misc{" in texts(response, "pre.bibtex")[0]
    assert texts(response, ".hf-votes") == ["9"]


def test_scripts_in_titles_and_abstracts_are_shown_as_text(client):
    response = client.get(f"/papers/{SCRIPT_ID}")
    page = doc(response)
    assert not page.cssselect("main script"), "an abstract's <script> became an element"
    assert not page.cssselect("main img")
    assert "<script>window.__pwned=1</script>" in texts(response, ".abstract p")[0]
    math_page = doc(client.get(f"/papers/{MATH_ID}"))
    assert not math_page.cssselect("main script")  # \text{<script>} inside math stays text
    listing = doc(client.get(f"/date/{DAY2.isoformat()}"))
    assert not listing.cssselect("main script")


def test_pages_send_a_strict_content_security_policy(client):
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not doc(response).cssselect("script:not([src])"), "inline script on the page"
    srcs = [s.get("src") for s in doc(response).cssselect("script[src], link[href]")]
    assert all(not s.startswith("http") for s in srcs if s), srcs


def test_author_and_category_pages_list_their_papers(client):
    grace = client.get("/authors/Grace%20Hopper")
    assert card_ids(grace) == ["2502.00004"]
    assert texts(grace, "h1") == ["Papers by Grace Hopper"]
    assert len(card_ids(client.get("/authors/ada lovelace"))) == 8  # case-insensitive
    cv = client.get("/categories/cs.CV")
    assert card_ids(cv) == ["2502.00003"]
    assert "cs.LG" in texts(client.get("/categories"), ".category-list a")


def test_every_listing_has_a_json_twin(client):
    data = client.get("/?format=json").json()
    assert [p["id"] for p in data["papers"]][:2] == ["2502.00005", "2502.00007"]
    assert data["papers"][0]["total_upvotes"] == 90
    trending = client.get("/trending?format=json").json()
    assert "explain" in trending["papers"][0]["trending"]
    paper = client.get(f"/papers/{MATH_ID}?format=json").json()
    assert paper["bibtex"].startswith("@misc{")


def test_hidden_papers_leave_listings_and_their_page(client, engine):
    set_flags(engine, "2502.00005", hidden=True)
    assert "2502.00005" not in card_ids(client.get("/"))
    assert client.get("/papers/2502.00005").status_code == 404


def test_unknown_paper_is_a_404_page(client):
    response = client.get("/papers/9999.99999")
    assert response.status_code == 404
    assert texts(response, "h1.error-title") == ["404 · Not found"]


def test_empty_store_explains_how_to_import(settings, engine):
    response = client_for(make_app(settings, engine)).get("/")
    assert response.status_code == 200
    assert "paperroute import" in response.text


def count_queries(engine, fn) -> int:
    """How many SQL statements `fn()` runs."""
    from sqlalchemy import event

    seen = []

    def listener(*args, **kwargs):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def test_listing_pages_run_the_same_number_of_queries_for_few_and_many_papers(settings, engine):
    from factories import record
    from paperroute.store.papers import upsert_records
    from webtools import sign_in

    seed(engine)
    # page_cache_ttl=0: every request renders (a cached page runs no query at all)
    client = client_for(make_app(settings, engine, page_cache_ttl=0))
    sign_in(client, engine, "q@example.org")  # signed in: votes are looked up too
    pages = ["/", "/trending", "/week/2025-W06", "/authors/Ada Lovelace", "/categories/cs.LG"]
    few = {p: count_queries(engine, lambda p=p: client.get(p)) for p in pages}
    upsert_records(engine, [record(f"2502.1{n:04d}", DAY3, n) for n in range(40)])
    many = {p: count_queries(engine, lambda p=p: client.get(p)) for p in pages}
    assert few == many


def test_search_for_you_and_paper_pages_run_as_many_queries_for_a_big_store_as_a_small_one(
    settings, engine
):
    """The flat-query-count check of the listings, for the pages that read the most: a search,
    a reader's For-you (40 more papers in the window and 20 more saved), and a paper page with
    30 more comments (31 in all) and 40 more papers beside it. Each count is taken after one warm-up
    request in a fresh app, so caches that outlive a request do not hide a query per row."""
    from factories import record
    from paperroute.store.collections import save_into_collection
    from paperroute.store.comments import add_comment
    from paperroute.store.papers import upsert_records
    from paperroute.store.users import add_user
    from search_support import HashEmbedder, make_service
    from webtools import sign_in

    seed(engine)
    pages = ["/search?q=learning", "/for-you?window=month", "/papers/2502.00005"]

    def counts() -> dict[str, int]:
        service = make_service(settings, engine, HashEmbedder())
        embed_pending(service)
        # page_cache_ttl=0: with the page cache the counted request would run no query at all
        client = client_for(make_app(settings, engine, search=service, page_cache_ttl=0))
        sign_in(client, engine, "q@example.org")
        for page in pages:
            assert client.get(page).status_code == 200, page
        return {p: count_queries(engine, lambda p=p: client.get(p)) for p in pages}

    reader = add_user(engine, "q@example.org")
    save_into_collection(engine, reader.id, "Reading", ["2502.00001", "2502.00002"])
    add_comment(engine, "2502.00005", reader.id, "First", "<p>First</p>")  # a thread exists
    few = counts()
    more = [record(f"2502.1{n:04d}", DAY3, n) for n in range(40)]
    upsert_records(engine, more)
    save_into_collection(engine, reader.id, "Reading", [r.id for r in more[:20]])
    for n in range(30):
        add_comment(engine, "2502.00005", reader.id, f"Comment {n}", f"<p>Comment {n}</p>")
    assert counts() == few
