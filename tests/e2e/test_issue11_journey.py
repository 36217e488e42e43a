"""Issue 11's journey: the product as a new user meets it after `make run`, in chromium, one test
per numbered item of the issue's "Done when". The server is the real app on loopback over the
bundled demo corpus (its precomputed vectors, no mail server: development mode, as `make run`);
HEAD and mail headers use the seeded site with a loopback SMTP server (conftest's `site`).

Written to run unchanged on the code before issue 11 as well (it only uses what both have), so
that it shows which of the problems the issue describes were there (see docs/benchmarks.md's
issue 11 section for the run)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest

from factories import record
from paperroute.config import load_settings
from paperroute.store.engine import make_engine, migrate
from webtools import LiveServer, browser_sign_in, free_port, make_app, parse_curl

ROOT = Path(__file__).resolve().parents[2]
CARDS = ".search-results article.paper-card"
SAMPLES = json.loads((ROOT / "tests" / "data" / "latex_samples.json").read_text())["samples"]
# A LaTeX sample's paper: an id no demo paper has, announced long before the demo's days.
SAMPLE_DAY = date(2025, 1, 6)
RAW_LATEX = re.compile(
    r"\\(textbf|emph|textit|texttt|textsc|underline|pm|times|approx|sim|leq?|geq?|url|href)\b"
    r"|\\[$%&_#]|\^\{?\\?circ"
)
VISIBLE = """el => { const c = el.cloneNode(true);
  c.querySelectorAll('math').forEach(m => m.replaceWith('[math]'));
  return c.textContent.split(/\\s+/).filter(Boolean).join(' '); }"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`make run`: the demo corpus loaded into an empty store, no SMTP, development mode."""
    from paperroute.cli import load_demo_if_empty
    from paperroute.search.service import SearchService

    data = tmp_path_factory.mktemp("issue11-demo")
    port = free_port()
    settings = load_settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'paperroute.db'}",
        load_demo=True,
        smtp_host="",
        base_url=f"http://127.0.0.1:{port}",
    )
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    load_demo_if_empty(settings, engine)
    search = SearchService(settings, engine)
    search.open()
    search.search("warm up the query encoder")
    with LiveServer(make_app(settings, engine, search=search), port=port) as live:
        live.engine, live.settings = engine, settings
        yield live
    engine.dispose()


@pytest.fixture(autouse=True)
def _short_waits(page):
    page.set_default_timeout(8_000)  # a missing element fails in seconds, not 20


def _search(page, query: str) -> None:
    """Type a query into the page's one search box and submit it."""
    boxes = page.locator("input[name=q]")
    assert boxes.count() == 1, "the search page should have one search box"
    boxes.fill(query)
    boxes.press("Enter")
    page.wait_for_load_state()


# 1. Paging: one ranking, sliced.
def test_1_pages_one_to_five_of_a_broad_query_repeat_no_paper_and_keep_one_total(demo, page):
    page.goto(demo.url + "/search?q=diffusion")
    count_line = page.locator(".count-line").inner_text()
    assert re.match(r"[\d,]+ results for", count_line), count_line
    seen: list[str] = []
    for number in range(1, 6):
        ids = page.locator(CARDS).evaluate_all("cards => cards.map(c => c.dataset.paperId)")
        assert len(ids) == 25, f"page {number} shows {len(ids)} papers"
        seen += ids
        assert page.locator(".count-line").inner_text() == count_line, f"page {number}"
        if number < 5:
            page.click("a[rel=next]")
            page.wait_for_load_state()
    assert len(set(seen)) == len(seen) == 125
    twin = [
        p["id"]
        for n in range(5)
        for p in page.request.get(f"{demo.url}/search?q=diffusion&format=json&p={n}").json()[
            "papers"
        ]
    ]
    assert twin == seen  # the JSON twin pages the same ranking


# 2. Sign-in with no mail server.
def test_2_sign_in_without_smtp_shows_the_development_link_on_the_page(demo, page):
    page.goto(demo.url + "/")
    page.click("header a.signin")
    page.fill("input[name=email]", "new-reader@example.org")
    page.click("main button[type=submit]")
    notice = page.locator(".dev-only")
    assert "Development only" in notice.inner_text()
    assert "could not send" not in page.inner_text("main")
    page.click("a.dev-link")
    page.click("#finish-signin")
    page.wait_for_selector("a.who", state="attached")
    assert page.locator("a.who").first.text_content() == "new-reader@example.org"


# 3. Digests can be found.
def test_3_digest_settings_and_preview_are_reached_from_the_home_page_by_clicking(demo, page):
    browser_sign_in(demo, page, "digest-finder@example.org")
    page.goto(demo.url + "/")
    page.click("header .main-nav >> text=Digest")
    page.wait_for_url("**/settings/digest")
    assert page.locator("select[name=cadence]").is_visible()
    page.click("main form button[type=submit] >> text=Subscribe")
    page.wait_for_url("**/settings/digest**")
    assert page.locator("summary", has_text="Unsubscribe").count() == 1  # a way out, too
    page.click("main a[href='/digest/preview']")
    page.wait_for_url("**/digest/preview")
    assert page.locator("h1").first.is_visible()


# 5. Feedback: "Not interested" hides the card at once, with Undo; not offered on saved papers.
def test_5_not_interested_hides_the_card_at_once_offers_undo_and_spares_saved_papers(demo, page):
    browser_sign_in(demo, page, "picky-reader@example.org")
    page.goto(demo.url + "/")
    card = page.locator(".paper-list .paper-card").first
    paper_id = card.get_attribute("data-paper-id")
    page.evaluate("window.__samePage = true")
    card.locator("button.not-interested").click()
    note = page.locator(f".dismissed-note[data-paper-id='{paper_id}']")
    note.wait_for()
    assert card.is_hidden() and "Hidden" in note.inner_text()
    note.locator("button", has_text="Undo").click()
    card.wait_for(state="visible")
    assert page.evaluate("window.__samePage === true")  # no reload: the reader sees it happen
    page.goto(f"{demo.url}/papers/{paper_id}")
    page.fill(".new-collection input[name=name]", "Keep")
    page.click(".new-collection button")
    page.wait_for_selector(".save-form button.on")
    page.goto(demo.url + "/")
    saved = page.locator(f".paper-card[data-paper-id='{paper_id}']")
    assert saved.locator("button.not-interested").count() == 0
    assert page.locator(".paper-card button.not-interested").count() >= 1


# 6a. Highlights.
def test_6a_matched_words_are_highlighted_in_titles_and_snippets_inside_their_cards(demo, page):
    page.goto(demo.url + "/search?q=diffusion")
    first = page.locator(CARDS).first
    assert first.locator(".paper-title mark").first.inner_text().lower() == "diffusion"
    assert first.locator(".abstract-snippet mark").count() >= 1
    assert first.locator(".why").inner_text().startswith("Matched:")
    assert page.locator(".search-results > .why").count() == 0  # not between cards
    background = first.locator(".paper-title mark").first.evaluate(
        "m => getComputedStyle(m).backgroundColor"
    )
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    for snippet in page.locator(f"{CARDS} .abstract-snippet").all():
        assert not RAW_LATEX.search(snippet.inner_text()), snippet.inner_text()
    page.goto(demo.url + "/search?q=Knowing+Using+Gap+memorized+knowledge")
    card = page.locator(f"{CARDS}[data-paper-id='2607.08393']")
    snippet = card.locator(".abstract-snippet")
    assert "\\textbf" not in snippet.inner_text()  # its \textbf{...} is shown bold
    assert snippet.locator("strong").count() == 1


# 6b. A nonsense query.
def test_6b_a_nonsense_query_says_no_results_and_suggests_a_spelling(demo, page):
    page.goto(demo.url + "/search")
    _search(page, "zzzzqqqxx")
    assert page.locator(CARDS).count() == 0
    assert page.locator(".count-line").inner_text().startswith("No results for")
    _search(page, "difusion models")
    page.click(".did-you-mean a")
    page.wait_for_load_state()
    assert page.locator("input[name=q]").input_value() == "diffusion models"
    assert page.locator(CARDS).count() > 0


# 6c. An author query.
def test_6c_an_authors_name_shows_their_papers_first_says_so_and_links_author_search(demo, page):
    page.goto(demo.url + "/search")
    _search(page, "Chengsong Huang")
    notice = page.locator(".author-notice")
    assert "papers by Chengsong Huang come first" in notice.inner_text()
    cards = page.locator(CARDS)
    assert cards.count() == 8  # his 8 demo papers, not padded with 95 others
    for card in cards.all():
        assert "Chengsong Huang" in card.locator(".authors").inner_text()
    notice.locator("a").click()
    page.wait_for_load_state()
    assert page.locator("input[name=q]").input_value() == 'author:"Chengsong Huang"'
    assert page.locator(CARDS).count() == 8


# 4a. Categories on the demo, and a banner that says it is demo data.
def test_4a_the_demo_has_categories_to_browse_and_filter_by_and_says_it_is_demo(demo, page):
    page.goto(demo.url + "/")
    banner = page.locator(".demo-banner")
    assert "demo data" in banner.inner_text() and "Aug 2026" in banner.inner_text()
    page.click("header .main-nav >> text=Categories")
    page.wait_for_url("**/categories")
    page.click("main a[href='/categories/cs.CV']")
    page.wait_for_url("**/categories/cs.CV")
    assert page.locator(".paper-card").count() >= 5
    page.goto(demo.url + "/search?q=diffusion+cat:cs.CV")
    shown = page.locator(CARDS)
    assert shown.count() >= 5
    for card in shown.all():
        assert "cs.CV" in card.locator(".meta").inner_text()
    banner = page.locator(".demo-banner")
    banner.locator("button", has_text="Dismiss").click()
    banner.wait_for(state="detached")
    page.reload()
    assert page.locator(".demo-banner").count() == 0  # dismissed for this visitor


def _readme_commands() -> list[list[str]]:
    """The README's read-only `paperroute` commands (the others fetch, serve or write)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL):
        for line in block.splitlines():
            line = re.sub(r"\[[^\]]*\]", "", line.split(" #", 1)[0].split(" | ", 1)[0])
            words = shlex.split(line.strip())
            if (
                words
                and words[0].endswith("paperroute")
                and (
                    words[1:3] == ["papers", "show"]
                    or words[1:2] in (["search"], ["similar"], ["stats"])
                )
            ):
                commands.append(words[1:])
    return commands


# 4b. The README and /docs examples work on the demo.
def test_4b_every_readme_and_docs_example_works_on_the_demo(demo, page):
    from paperroute.store import auth
    from paperroute.store.users import add_user

    user = add_user(demo.engine, "docs-reader@example.org")
    token = auth.create_api_token(demo.engine, user.id, "docs")
    page.goto(demo.url + "/docs")
    examples = page.locator("pre.example code").all_inner_texts()
    assert len(examples) >= 9, examples
    for command in examples:
        method, path, headers, body = parse_curl(command, token)
        response = page.request.fetch(
            demo.url + path,
            method=method,
            headers={**headers, "accept": "application/json"},
            data=body,
        )
        assert response.status in (200, 201), (command, response.text()[:300])
        if "authorization" not in headers:
            assert response.json(), command  # the ids, days and words are the demo's
    commands = _readme_commands()
    assert {c[0] for c in commands} >= {"papers", "search", "similar", "stats"}, commands
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ":".join(sys.path)}
    for words in commands:
        done = subprocess.run(
            [sys.executable, "-m", "paperroute.cli", "--data-dir", str(demo.settings.data_dir),
             *words],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0 and done.stdout.strip(), (words, done.stderr[-500:])


# 7. LaTeX samples from the corpus, rendered in the browser.
def test_7_real_latex_samples_render_as_text_on_their_paper_pages(demo, page):
    from paperroute.store.papers import upsert_records

    ids = [f"2501.{90000 + n:05d}" for n in range(len(SAMPLES))]
    upsert_records(
        demo.engine,
        [
            record(
                pid,
                SAMPLE_DAY,
                1,
                **(
                    {"title": s["text"]}
                    if s["field"] == "title"
                    else {"title": f"Sample {pid}", "abstract": s["text"]}
                ),
            )
            for pid, s in zip(ids, SAMPLES, strict=True)
        ],
    )
    wrong = []
    for pid, sample in zip(ids, SAMPLES, strict=True):
        page.goto(f"{demo.url}/papers/{pid}")
        where = "h1.paper-title" if sample["field"] == "title" else ".abstract p"
        shown = page.locator(where).first.evaluate(VISIBLE)
        if shown != sample["shows"] or RAW_LATEX.search(shown):
            wrong.append((sample["feature"], sample["id"], shown[:120]))
    assert not wrong, f"{len(wrong)} of {len(SAMPLES)} samples show LaTeX: {wrong[:5]}"


HEAD_PATHS = ["/", "/papers/2502.00001", "/feeds/daily.atom", "/feeds/trending.json",
              "/api/daily_papers"]  # fmt: skip


# 9a. HEAD is answered wherever GET is.
def test_9a_head_is_answered_like_get_on_pages_feeds_and_the_api(site):
    with httpx.Client(base_url=site.url) as http:
        for path in HEAD_PATHS:
            got, head = http.get(path), http.head(path)
            assert got.status_code == 200, path
            assert head.status_code == 200, (path, head.status_code)
            assert head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path


# 9b. Every mail has one Date, one Message-ID and one MIME-Version.
def test_9b_sign_in_and_confirmation_mails_carry_each_header_once(site, smtp, page):
    before = len(smtp.messages)
    page.goto(site.url + "/signin")
    page.fill("input[name=email]", "headers@example.org")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Check your email")
    page.goto(site.url + "/subscribe")
    page.fill("main input[name=email]", "headers-digest@example.org")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    mails = smtp.messages[before:]
    assert {m["To"].addresses[0].addr_spec for m in mails} == {
        "headers@example.org",
        "headers-digest@example.org",
    }
    for mail in mails:
        counts = {h: len(mail.get_all(h) or []) for h in ("Date", "Message-ID", "MIME-Version")}
        assert counts == {"Date": 1, "Message-ID": 1, "MIME-Version": 1}, (mail["Subject"], counts)
