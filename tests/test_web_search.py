"""Search page, similar papers, saved-search feeds and the search API, with the real search
service (real bundled model, 300 real fixture papers with precomputed vectors)."""

from __future__ import annotations

import feedparser
import pytest
from lxml import html

from search_support import load_fixture, make_service
from webtools import client_for, csrf_from, doc, make_app, page_csrf, sign_in, texts


@pytest.fixture
def service(settings, engine):
    load_fixture(engine)
    return make_service(settings, engine)


@pytest.fixture
def client(settings, engine, service):
    return client_for(make_app(settings, engine, search=service))


def result_ids(response) -> list[str]:
    return [e.get("data-paper-id") for e in doc(response).cssselect(".search-results .paper-card")]


def test_search_finds_papers_by_meaning_and_keeps_the_query_in_the_form(client):
    response = client.get("/search?q=text-to-image diffusion transformer")
    assert response.status_code == 200
    ids = result_ids(response)
    assert "2503.12271" in ids[:5]  # Reflect-DiT
    assert doc(response).cssselect("form.search-form input[name=q]")[0].get("value") == (
        "text-to-image diffusion transformer"
    )
    assert texts(response, ".why")


def test_search_filters_and_sorts(client, engine):
    from paperroute.store.papers import get_papers

    everything = result_ids(client.get("/search?q=language models"))
    only_cl = result_ids(client.get("/search?q=language models&cat=cs.CL"))
    assert only_cl and set(only_cl) <= set(everything) | set(only_cl)
    assert all("cs.CL" in p.categories for p in get_papers(engine, only_cl))
    with_code = result_ids(client.get("/search?q=language models&has_code=1"))
    assert all(p.code_url for p in get_papers(engine, with_code))
    dated = result_ids(client.get("/search?q=language models&from=2025-06-01&sort=date"))
    days = [p.announced for p in get_papers(engine, dated)]
    assert days == sorted(days, reverse=True) and all(d.isoformat() >= "2025-06-01" for d in days)


def test_bad_filter_values_are_named(client):
    response = client.get("/search?q=vision&from=yesterday&sort=best")
    assert response.status_code == 200
    errors = texts(response, ".error")
    assert any("from: 'yesterday'" in e for e in errors)
    assert any("sort: 'best'" in e for e in errors)


def test_an_arxiv_id_jumps_to_the_paper(client):
    response = client.get("/search?q=arXiv:2503.12271v2")
    assert response.status_code == 302 and response.headers["location"] == "/papers/2503.12271"


def test_paper_page_lists_similar_papers(settings, engine, service):
    # Rendering every time: with the page cache a second visit within its TTL gets the first
    # rendering, whose placeholder loads the (now remembered) fragment instead of inline links.
    client = client_for(make_app(settings, engine, search=service, page_cache_ttl=0))
    first = doc(client.get("/papers/2503.12271"))
    [section] = first.cssselect("section.similar")
    url = section.get("data-similar-url")  # not known yet: the page loads them after itself
    assert url == "/papers/2503.12271/similar?fragment=1"
    fragment = html.fromstring(client.get(url).text)
    links = [a.get("href") for a in fragment.cssselect("li a")]
    assert 1 <= len(links) <= 5 and "/papers/2503.12271" not in links
    again = doc(client.get("/papers/2503.12271"))  # now remembered: rendered inline
    assert [a.get("href") for a in again.cssselect(".similar li a")] == links
    assert not again.cssselect("section.similar[data-similar-url]")
    as_json = client.get("/papers/2503.12271/similar?format=json").json()
    assert [f"/papers/{s['id']}" for s in as_json["similar"]] == links
    assert client.get("/papers/9999.99999/similar").status_code == 404


def test_a_hidden_paper_leaves_other_papers_similar_lists_at_once(settings, engine, service):
    app = make_app(settings, engine, search=service, page_cache_ttl=60)
    admin, anon = client_for(app), client_for(app)
    sign_in(admin, engine, "root@example.org", admin=True)

    def similar_ids(client) -> list[str]:
        return [
            s["id"] for s in client.get("/papers/2503.12271/similar?format=json").json()["similar"]
        ]

    first = similar_ids(anon)[0]
    assert first in similar_ids(admin)  # remembered for everyone now
    page = admin.get(f"/papers/{first}")
    hide = doc(page).cssselect(".admin-tools form")[0]  # the paper page's own Hide button
    done = admin.post(hide.get("action"), data={"hidden": "1", "csrf_token": csrf_from(page)})
    assert done.status_code == 303
    assert first not in similar_ids(anon)
    page = doc(anon.get("/papers/2503.12271"))
    assert f"/papers/{first}" not in [a.get("href") for a in page.cssselect(".similar li a")]


def test_saved_search_has_a_private_feed(client, engine):
    sign_in(client, engine, "s@example.org")
    first = client.get("/search?q=video generation")
    qs = doc(first).cssselect("form.save-search input[name=query_string]")[0].get("value")
    client.post(
        "/search/save",
        data={"query_string": qs, "name": "video", "csrf_token": page_csrf(client)},
    )
    profile = client.get("/profile")
    feed_link = doc(profile).cssselect(".saved-searches a[href$='.atom']")[0].get("href")
    feed = feedparser.parse(client.get(feed_link).text)
    assert feed.entries and "video" in feed.feed.title
    assert client.get("/feeds/searches/forged.atom").status_code == 404


def test_search_and_similar_api_in_hugging_face_shape(client):
    found = client.get("/api/papers/search", params={"q": "diffusion transformer"}).json()
    assert found and {"paper", "title", "summary"} <= set(found[0])
    near = client.get("/api/papers/2503.12271/similar", params={"k": 3}).json()
    assert 1 <= len(near) <= 3 and all(e["paper"]["id"] != "2503.12271" for e in near)


def test_huggingface_hub_client_searches_paperroute(settings, engine, service, monkeypatch):
    from webtools import LiveServer, hf_api

    with LiveServer(make_app(settings, engine, search=service)) as live:
        found = list(hf_api(live.url, monkeypatch).list_papers(query="diffusion", limit=5))
    assert 1 <= len(found) <= 5
    assert all(p.id and p.title for p in found)


def test_search_pages_and_their_json_twin_are_slices_of_one_ranking(client):
    seen, totals = [], set()
    for p in range(5):
        page = client.get(f"/search?q=language models&p={p}")
        seen += result_ids(page)
        totals.add(texts(page, ".count-line")[0].split(" result")[0])
        twin = client.get(f"/search?q=language models&p={p}&format=json").json()
        assert [x["id"] for x in twin["papers"]] == result_ids(page)
        totals.add(f"{twin['total']:,}")
    assert len(seen) == 125 and len(set(seen)) == 125
    assert len(totals) == 1, totals


def test_matched_words_are_marked_inside_each_card_and_the_page_has_one_search_box(client):
    response = client.get("/search?q=diffusion")
    page = doc(response)
    cards = page.cssselect(".search-results > article.paper-card")
    assert cards and not page.cssselect(".search-results > .why")
    first = cards[0]
    assert [m.text.lower() for m in first.cssselect(".paper-title mark")] == ["diffusion"]
    assert first.cssselect(".abstract-snippet mark")
    assert first.cssselect(".why")[0].text_content().startswith("Matched: title: diffusion")
    assert len(page.cssselect("input[name=q]")) == 1


def test_a_nonsense_query_says_no_results_and_a_misspelling_gets_a_did_you_mean(client):
    nonsense = client.get("/search?q=zzzzqqqxx")
    assert result_ids(nonsense) == []
    assert texts(nonsense, ".count-line")[0].startswith("No results for")
    assert "Check the spelling" in texts(nonsense, ".search-message")[0]
    typo = doc(client.get("/search?q=difusion transformer"))
    link = typo.cssselect(".did-you-mean a")[0]
    assert link.text == "diffusion transformer"
    assert link.get("href") == "/search?q=diffusion%20transformer"


def test_an_author_name_query_says_so_and_links_to_the_author_search(client):
    response = client.get("/search?q=Ziwei Liu")
    notice = doc(response).cssselect(".author-notice")[0]
    assert "papers by Ziwei Liu come first" in notice.text_content()
    assert notice.cssselect("a")[0].get("href") == "/search?q=author%3A%22Ziwei%20Liu%22"
    only = client.get(notice.cssselect("a")[0].get("href"))
    assert set(result_ids(only)) == set(result_ids(response))
