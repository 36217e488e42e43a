"""The product as a person meets it (issue 11): every feature reachable from the navigation, on a
desktop and on a phone; paper pages that say where their AI summary comes from and preview well
when shared; an API reference that reads on a phone and a console that needs no CDN."""

from __future__ import annotations

from datetime import UTC, date, datetime

from factories import record
from paperroute.models import Version
from paperroute.store.papers import upsert_records
from webtools import browser_sign_in

RICH_ID = "2502.00077"


def test_digest_settings_are_reached_from_the_home_page_by_clicking(site, page):
    browser_sign_in(site, page, "digest-reader@example.org")
    page.goto(site.url + "/")
    page.click("header .main-nav >> text=Digest")
    page.wait_for_url("**/settings/digest")
    assert page.locator("h1").first.is_visible()
    assert page.locator("form.subscription-form select[name=cadence]").is_visible()
    page.goto(site.url + "/")
    for href in ("/collections", "/for-you", "/profile", "/help/pages", "/docs"):
        assert page.locator(f"a[href='{href}']").count() >= 1, href  # header or footer


def test_phone_header_is_one_row_and_its_menu_reaches_everything(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    browser_sign_in(site, page, "phone-reader@example.org")
    page.goto(site.url + "/")
    header = page.locator("header.site-header").bounding_box()
    brand = page.locator("header .brand").bounding_box()
    assert header["height"] < 2.2 * brand["height"] + 24, header  # one row, not three or four
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    page.click("details.site-menu summary")
    page.click("details.site-menu >> text=Digest")
    page.wait_for_url("**/settings/digest")
    context.close()


def test_paper_page_shows_sourced_ai_summary_categories_versions_and_share_tags(site, page):
    upsert_records(
        site.engine,
        [
            record(
                RICH_ID,
                date(2025, 2, 5),
                12,
                ai_summary="A short machine-written summary.",
                keywords=["sparse attention", "distillation"],
                organization="Example Lab",
                versions=[
                    Version(1, submitted=datetime(2025, 2, 1, tzinfo=UTC)),
                    Version(2, submitted=datetime(2025, 2, 4, tzinfo=UTC)),
                ],
                comments="12 pages",
                doi="10.1234/example",
            )
        ],
    )
    page.goto(f"{site.url}/papers/{RICH_ID}")
    assert page.locator(".ai-summary h2").inner_text() == "AI summary (from Hugging Face)"
    assert "machine-written" in page.locator(".ai-summary p").inner_text()
    assert "AI keywords" in page.locator(".keywords h2").inner_text()
    assert page.locator(".facts a.cat").all_inner_texts() == ["cs.LG", "cs.AI"]
    assert "Example Lab" in page.locator(".organization").inner_text()
    assert page.locator(".versions li").count() == 2 and "04 Feb 2025" in page.inner_text(
        ".versions"
    )
    assert page.locator("dt:text('DOI') + dd").inner_text() == "10.1234/example"
    og = page.locator("meta[property='og:title']").get_attribute("content")
    assert og.startswith("Paper 2502.00077")
    assert page.locator("meta[name='twitter:card']").get_attribute("content") == "summary"
    page.click("a.markdown")
    assert "## AI summary (from Hugging Face)" in page.inner_text("body")


def test_api_reference_reads_on_a_phone_and_the_console_runs_without_a_cdn(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site.url) else None)
    page.goto(site.url + "/docs")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    areas = page.locator(".api-area h2").all_inner_texts()
    assert areas[:3] == ["Daily papers", "Papers", "Search"]
    assert "`" not in page.inner_text("main")
    assert page.locator(".endpoint .path").all_inner_texts()[0].startswith("/api/")
    assert not [
        p for p in page.locator(".endpoint .path").all_inner_texts() if not p.startswith("/api/")
    ]
    response = page.request.get(site.url + "/api/daily_papers?date=2025-02-04")
    assert response.ok and response.json()  # the examples' shape on the seeded days
    page.goto(site.url + "/docs/console")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert not outside, outside
    context.close()
