"""Trending lists: the store's numbers ranked by the pure formula of `ranking.trending`.

Kept out of `store/` so that the store never imports ranking (imports flow store <- ranking).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from paperroute.models import Paper
from paperroute.ranking import trending
from paperroute.ranking.trending import TrendingInput, TrendingScore, announced_at
from paperroute.store import listings


def trending_inputs(
    engine: Engine, until: date, window_days: int, start: date | None = None
) -> list[TrendingInput]:
    """Trending inputs for visible papers announced in [start or until-window, until]."""
    start = start or until - timedelta(days=window_days)
    return [
        TrendingInput(
            paper_id=r["id"],
            hf_upvotes=r["hf_upvotes"] or 0,
            upvotes=r["upvotes"] or 0,
            saves=r["saves"] or 0,
            announced_at=announced_at(r["announced"], r["published"]),
        )
        for r in listings.trending_rows(engine, start, until)
    ]


def list_trending(
    engine: Engine,
    now: datetime,
    *,
    limit: int = 50,
    offset: int = 0,
    start: date | None = None,
    end: date | None = None,
) -> list[tuple[Paper, TrendingScore]]:
    """Papers ranked by trending score with their breakdowns (optionally within a period).

    Without a period the window is the last WINDOW_DAYS days before the trending clock; with one,
    papers of that period are scored at the end of the period (or now, if earlier).
    """
    if end is None:
        clock = trending.trending_clock(listings.latest_day(engine), now)
        until = clock.date()
    else:
        clock = trending.trending_clock(end, now)
        until = end
    inputs = trending_inputs(engine, until, trending.WINDOW_DAYS, start=start)
    ranked = trending.rank_trending(inputs, clock)[offset : offset + limit]
    by_id = {p.id: p for p in listings.papers_by_ids(engine, [s.paper_id for s in ranked])}
    return [(by_id[s.paper_id], s) for s in ranked if s.paper_id in by_id]
