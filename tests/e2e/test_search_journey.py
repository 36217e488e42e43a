"""Searching in a real browser: paging one ranking, highlights inside the cards, a nonsense
query, an author's name; over the 300 real search-fixture papers."""

from __future__ import annotations

import re

CARDS = ".search-results article.paper-card"


def _search(page, query: str) -> None:
    """Type a query into the page's one search box and submit it."""
    boxes = page.locator("input[name=q]")
    assert boxes.count() == 1, "the search page should have one search box"
    boxes.fill(query)
    boxes.press("Enter")
    page.wait_for_load_state()


def test_paging_a_broad_query_never_repeats_a_paper_and_keeps_its_total(search_site, page):
    page.goto(search_site.url + "/search?q=language+models")
    count_line = page.locator(".count-line").inner_text()
    assert re.match(r"[\d,]+ results for", count_line)
    seen: list[str] = []
    for number in range(1, 6):
        ids = page.locator(CARDS).evaluate_all("cards => cards.map(c => c.dataset.paperId)")
        assert len(ids) == 25, f"page {number} shows {len(ids)} papers"
        seen += ids
        assert page.locator(".count-line").inner_text() == count_line, f"page {number}"
        if number < 5:
            page.click("a[rel=next]")
    assert len(set(seen)) == len(seen) == 125


def test_matched_words_are_highlighted_inside_their_cards(search_site, page):
    page.goto(search_site.url + "/search?q=diffusion")
    first = page.locator(CARDS).first
    assert first.locator(".paper-title mark").first.inner_text().lower() == "diffusion"
    assert first.locator(".abstract-snippet mark").count() >= 1
    assert first.locator(".why").inner_text().startswith("Matched:")
    background = first.locator(".paper-title mark").first.evaluate(
        "m => getComputedStyle(m).backgroundColor"
    )
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert page.locator(".search-results > .why").count() == 0


def test_a_nonsense_query_says_no_results_and_how_to_fix_it(search_site, page):
    page.goto(search_site.url + "/search")
    _search(page, "zzzzqqqxx")
    assert page.locator(CARDS).count() == 0
    assert page.locator(".count-line").inner_text().startswith("No results for")
    assert "Check the spelling" in page.locator(".search-message").inner_text()
    _search(page, "difusion transformer")
    page.click(".did-you-mean a")
    page.wait_for_load_state()
    assert page.locator("input[name=q]").input_value() == "diffusion transformer"


def test_an_authors_name_shows_their_papers_and_links_to_the_author_search(search_site, page):
    page.goto(search_site.url + "/search")
    _search(page, "Ziwei Liu")
    notice = page.locator(".author-notice")
    assert "papers by Ziwei Liu come first" in notice.inner_text()
    shown = page.locator(CARDS).count()
    assert 0 < shown < 15  # his papers, not padded with unrelated ones
    for card in page.locator(CARDS).all():
        assert "author: Ziwei Liu" in card.locator(".why").inner_text()
    notice.locator("a").click()
    page.wait_for_load_state()
    assert page.locator("input[name=q]").input_value() == 'author:"Ziwei Liu"'
    assert page.locator(CARDS).count() == shown
