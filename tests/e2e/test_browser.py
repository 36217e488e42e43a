"""A reader in a real browser: signs in through an emailed magic link, upvotes, saves to a
collection, searches, toggles dark mode; a <script> planted in an abstract never runs."""

from __future__ import annotations

import re

from paperroute.store.papers import get_paper
from webtools import MATH_ID, SCRIPT_ID, link_in


def test_reader_signs_in_upvotes_saves_and_searches(site, smtp, page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.url + "/")
    assert page.locator(".paper-list .paper-card").count() == 4
    page.click("a.signin")
    page.fill("input[name=email]", "reader@example.org")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your email")
    message = smtp.handler.to("reader@example.org")[-1]
    page.goto(link_in(message))
    page.click("#finish-signin")
    page.wait_for_selector("a.who")
    assert page.locator("a.who").inner_text() == "reader@example.org"

    page.goto(f"{site.url}/papers/2502.00002")
    assert page.locator(".total-votes").inner_text() == "50"
    page.click(".paper-head button.upvote")
    page.wait_for_selector(".paper-head button.upvote.on")
    assert page.locator(".paper-head .count").inner_text() == "51"
    page.reload()
    assert page.locator(".total-votes").inner_text() == "51"
    assert get_paper(site.engine, "2502.00002").upvotes == 1

    page.fill(".new-collection input[name=name]", "To read")
    page.click(".new-collection button")
    page.wait_for_selector(".save-form button.on")
    page.goto(f"{site.url}/collections")
    page.click("text=To read")
    assert page.locator(".paper-card").get_attribute("data-paper-id") == "2502.00002"

    page.fill(".search-box input[name=q]", "learning")
    page.press(".search-box input[name=q]", "Enter")
    page.wait_for_selector(".search-results .paper-card")
    assert page.locator(".search-results .paper-card").count() >= 3
    assert not errors, errors


def test_script_in_an_abstract_does_not_run(site, page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in (f"/papers/{SCRIPT_ID}", f"/papers/{MATH_ID}", "/date/2025-02-04", "/feeds"):
        page.goto(site.url + path)
        assert page.evaluate("typeof window.__pwned") == "undefined", path
    page.goto(f"{site.url}/papers/{SCRIPT_ID}")
    assert "<script>window.__pwned=1</script>" in page.locator(".abstract p").inner_text()
    assert not dialogs


def test_similar_papers_load_after_the_paper(site, page):
    page.goto(f"{site.url}/papers/2502.00004")
    page.wait_for_selector("section.similar .similar-list li a")
    hrefs = page.eval_on_selector_all(
        "section.similar li a", "els => els.map(e => e.getAttribute('href'))"
    )
    assert hrefs and "/papers/2502.00004" not in hrefs


def test_math_renders_and_dark_mode_toggles(site, page):
    page.goto(f"{site.url}/papers/{MATH_ID}")
    assert page.locator(".abstract math").count() >= 1
    page.click("#theme-toggle")
    theme = page.evaluate("document.documentElement.getAttribute('data-theme')")
    assert theme in {"dark", "light"}
    page.reload()
    assert page.evaluate("document.documentElement.getAttribute('data-theme')") == theme
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert re.match(r"rgb", background)


def test_phone_layout_keeps_the_page_within_the_screen(site, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    phone = context.new_page()
    phone.goto(site.url + "/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    context.close()
