"""Trending lists: the store's numbers ranked by the pure formula of `ranking.trending`.

Kept out of `store/` so that the store never imports ranking (imports flow store <- ranking).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from paperroute.models import Paper
from paperroute.ranking import trending
from paperroute.ranking.trending import TrendingInput, TrendingScore, announced_at
from paperroute.store import listings
from paperroute.store.papers import as_date


def trending_inputs(
    engine: Engine,
    until: date | None = None,
    window_days: int = trending.WINDOW_DAYS,
    start: date | None = None,
    ids: Sequence[str] | None = None,
    flt: listings.PaperFilter | None = None,
) -> list[TrendingInput]:
    """Trending inputs: for visible papers announced in [start or until-window, until], for
    the visible papers among `ids` (a digest's new papers), or for those a listing's filter
    selects, whenever announced (a venue or journal). The only place they are read."""
    if ids is None and flt is None:
        start = start or until - timedelta(days=window_days)
    return [
        TrendingInput(
            paper_id=r["id"],
            hf_upvotes=r["hf_upvotes"] or 0,
            upvotes=r["upvotes"] or 0,
            saves=r["saves"] or 0,
            announced_at=announced_at(as_date(r["announced"]), r["published"]),
        )
        for r in listings.trending_rows(engine, start, until, ids, flt)
    ]


def clock(engine: Engine, now: datetime) -> datetime:
    """The one trending clock: now, or the end of the newest day when the store is stale."""
    return trending.trending_clock(listings.latest_day(engine), now)


def trending_order(engine: Engine, ids: Sequence[str], now: datetime) -> list[str]:
    """These papers' ids by trending score on the trending clock, papers without any vote left
    out (a digest's trending section: the /trending page's order among its papers)."""
    ranked = trending.rank_trending(trending_inputs(engine, ids=ids), clock(engine, now))
    return [s.paper_id for s in ranked if s.points > 0]


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
        at = clock(engine, now)
        until = at.date()
    else:
        at = trending.trending_clock(end, now)
        until = end
    inputs = trending_inputs(engine, until, trending.WINDOW_DAYS, start=start)
    return _hydrated(engine, trending.rank_trending(inputs, at)[offset : offset + limit])


def trending_listing(
    engine: Engine, now: datetime, flt: listings.PaperFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[Paper], int]:
    """A page of a listing's papers (a venue, a journal, a category) in trending order on the
    trending clock, and how many it has in all; papers nobody voted for come last, newest first
    (the formula gives them no points)."""
    ranked = trending.rank_trending(trending_inputs(engine, flt=flt), clock(engine, now))
    return [p for p, _ in _hydrated(engine, ranked[offset : offset + limit])], len(ranked)


def _hydrated(engine: Engine, scores: list[TrendingScore]) -> list[tuple[Paper, TrendingScore]]:
    """The papers of a page of scores, in the scores' order (papers gone meanwhile left out)."""
    by_id = {p.id: p for p in listings.papers_by_ids(engine, [s.paper_id for s in scores])}
    return [(by_id[s.paper_id], s) for s in scores if s.paper_id in by_id]
