"""Search snippets and card excerpts show the abstract's LaTeX rendered, wherever the window is
cut (issue 11): never half a `\\textbf{`, a formula's `$`, or a raw macro."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from factories import record
from paperroute.search.highlight import query_terms
from paperroute.store.papers import upsert_records
from paperroute.web.mathtext import excerpt_html
from paperroute.web.routes.search import snippet_html
from search_support import load_fixture, make_service
from webtools import client_for, doc, make_app

MATHML = "{http://www.w3.org/1998/Math/MathML}"
SAMPLES = json.loads((Path(__file__).parent / "data" / "latex_samples.json").read_text())["samples"]
RAW = re.compile(
    r"\\(textbf|emph|textit|texttt|textsc|underline|pm|times|approx|sim|leq?|geq?|url|href)\b"
    r"|\\[$%&_#]|\^\{?\\?circ|\\[A-Za-z]+\{"
)
BOLD_ABSTRACT = (
    "Video generators are slow because every frame needs many denoising steps. "
    "We distil a teacher into a student and study where quality is lost, over settings "
    "that earlier work compared in one setting only. Our student "
    r"surpasses the teacher under \textbf{a frame-wise 2-step sampling setting for diffusion} "
    r"by 0.1 in VBench, with $\alpha^{2}$ scaling and a 54.6\% speedup at 360^{\circ} views."
)


def _visible(out: str) -> str:
    """The text a reader sees (each formula as [math]); the HTML must be well formed."""
    root = etree.fromstring(f"<div>{out}</div>".encode())
    for math in root.iter(f"{MATHML}math"):
        tail = math.tail
        math.clear()
        math.text, math.tail = "[math]", tail
    return " ".join("".join(root.itertext()).split())


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s['feature']}-{s['id']}")
def test_every_snippet_window_of_a_real_abstract_shows_its_latex_rendered(sample):
    text = sample["text"]
    whole = sample["shows"]
    for word in dict.fromkeys(re.findall(r"[A-Za-z]{4,}", text)):
        shown = _visible(str(snippet_html(text, query_terms([word]))))
        assert not RAW.search(shown), (word, shown)
        # a stretch of what the whole text shows, not something of its own
        assert shown.strip("…").strip() in whole, (word, shown)


def test_a_window_cut_inside_a_bold_group_or_a_formula_keeps_them_whole():
    shown = _visible(str(snippet_html(BOLD_ABSTRACT, set(query_terms(["vbench"])))))
    assert "frame-wise 2-step sampling setting for diffusion" in shown
    assert "[math]" in shown and "54.6%" in shown and "360°" in shown
    assert not RAW.search(shown) and "$" not in shown
    for limit in range(40, len(BOLD_ABSTRACT), 7):
        cut = _visible(str(excerpt_html(BOLD_ABSTRACT, limit)))
        assert not RAW.search(cut) and "$" not in cut, (limit, cut)


def test_daily_cards_and_search_results_show_no_raw_latex(settings, engine):
    load_fixture(engine)
    upsert_records(
        engine,
        [record("2502.00888", date(2025, 2, 3), 40, title="Fast students", abstract=BOLD_ABSTRACT)],
    )
    client = client_for(make_app(settings, engine, search=make_service(settings, engine)))
    daily = client.get("/date/2025-02-03")
    found = client.get("/search?q=VBench scaling speedup")
    for page, selector in ((daily, ".paper-card"), (found, ".search-results .paper-card")):
        cards = [c for c in doc(page).cssselect(selector) if c.get("data-paper-id") == "2502.00888"]
        assert cards, page.url
        element = cards[0].cssselect(".abstract-snippet")[0]
        bold = [b.text_content() for b in element.cssselect("strong")]
        assert bold == ["a frame-wise 2-step sampling setting for diffusion"], page.url
        shown = element.text_content()
        assert not RAW.search(shown) and "\\" not in shown, shown
    assert element.cssselect("math")  # the search card's window holds the formula too
    assert cards[0].cssselect(".abstract-snippet mark")  # and marks the matched words
