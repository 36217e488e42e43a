"""The trending formula (docs/trending.md) and the safe math renderer, as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from lxml import html

from paperroute.ranking.trending import (
    HALF_LIFE_HOURS,
    TrendingInput,
    rank_trending,
    trending_clock,
    trending_score,
)
from paperroute.web.mathtext import render_text

NOW = datetime(2025, 2, 6, tzinfo=UTC)


def paper(pid, hf=0, local=0, saves=0, hours_old=0.0) -> TrendingInput:
    return TrendingInput(pid, hf, local, saves, NOW - timedelta(hours=hours_old))


def test_score_is_points_halved_every_half_life():
    fresh = trending_score(paper("a", hf=10, local=2, saves=1), NOW)
    assert fresh.points == 14 and fresh.score == 14
    old = trending_score(paper("a", hf=10, local=2, saves=1, hours_old=HALF_LIFE_HOURS), NOW)
    assert old.score == pytest.approx(7)
    assert "10 HF + 2 local upvotes + 2×1 saves" in old.explain()


def test_a_fresh_paper_overtakes_an_older_one_with_more_votes():
    ranked = rank_trending(
        [paper("old", hf=50, hours_old=96), paper("new", hf=20, hours_old=24)], NOW
    )
    assert [s.paper_id for s in ranked] == ["new", "old"]


def test_ties_go_to_the_newer_paper_then_the_id():
    ranked = rank_trending([paper("b"), paper("a"), paper("c", hours_old=1)], NOW)
    assert [s.paper_id for s in ranked] == ["a", "b", "c"]


def test_future_papers_count_as_brand_new():
    assert trending_score(paper("f", hf=3, hours_old=-5), NOW).decay == 1.0


def test_clock_stops_at_the_end_of_a_stale_store():
    assert trending_clock(date(2024, 1, 1), NOW) == datetime(2024, 1, 2, tzinfo=UTC)
    assert trending_clock(date(2025, 2, 6), NOW) == NOW
    assert trending_clock(None, NOW) == NOW


@pytest.mark.parametrize(
    "text",
    [
        r"$\text{<script>alert(1)</script>}$",
        "<script>alert(1)</script>",
        r"$x$ <img src=x onerror=alert(1)>",
        r"$\href{javascript:alert(1)}{x}$",
    ],
)
def test_untrusted_text_never_yields_script_or_handlers(text):
    root = html.fromstring(f"<div>{render_text(text)}</div>")
    assert not root.xpath("//script | //img | //*[@onerror] | //*[@href]")


def test_math_becomes_mathml_and_broken_math_stays_text():
    out = str(render_text(r"Let $\alpha_i^2$ and $$\sum_k k$$ but $\frac{1}{$ fails & <b>"))
    assert out.count("<math") == 2 and "<msubsup>" in out
    assert r"$\frac{1}{$" in out and "&amp; &lt;b&gt;" in out
