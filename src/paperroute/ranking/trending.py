"""Trending: a time-decayed score over upvotes (Hugging Face + local), saves and recency.

Pure functions over plain numbers; docs/trending.md states the formula. The score is

    points = hf_upvotes + local_upvotes + SAVE_WEIGHT * saves
    decay  = 0.5 ** (age_hours / HALF_LIFE_HOURS)
    score  = points * decay

where age_hours counts from the paper's announcement (midnight UTC of its announced day, else
its publication time) to `now`. Every result carries its breakdown so a page can show why a paper
ranks where it does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

SAVE_WEIGHT = 2.0  # a save is a stronger signal of intent than an upvote
HALF_LIFE_HOURS = 36.0  # a paper's score halves every day and a half
WINDOW_DAYS = 14  # papers older than this are not candidates


@dataclass(frozen=True)
class TrendingInput:
    """The numbers trending needs about one paper."""

    paper_id: str
    hf_upvotes: int
    upvotes: int
    saves: int
    announced_at: datetime


@dataclass(frozen=True)
class TrendingScore:
    """A paper's trending score and the parts it is made of."""

    paper_id: str
    hf_upvotes: int
    upvotes: int
    saves: int
    points: float
    age_hours: float
    decay: float
    score: float

    def explain(self) -> str:
        """One line a reader understands: what the score is made of."""
        return (
            f"({self.hf_upvotes} HF + {self.upvotes} local upvotes + {SAVE_WEIGHT:g}×{self.saves} "
            f"saves) × 0.5^({self.age_hours:.0f} h / {HALF_LIFE_HOURS:g} h) = {self.score:.2f}"
        )


def announced_at(announced: date | None, published: datetime | None) -> datetime:
    """When a paper became visible: midnight UTC of its announced day, else its publication."""
    if announced is not None:
        return datetime.combine(announced, time(0), tzinfo=UTC)
    if published is not None:
        return published if published.tzinfo else published.replace(tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


def trending_score(item: TrendingInput, now: datetime) -> TrendingScore:
    """Score one paper at time `now` (papers from the future count as age 0)."""
    age = max(0.0, (now - item.announced_at).total_seconds() / 3600.0)
    points = item.hf_upvotes + item.upvotes + SAVE_WEIGHT * item.saves
    decay = 0.5 ** (age / HALF_LIFE_HOURS)
    return TrendingScore(
        paper_id=item.paper_id,
        hf_upvotes=item.hf_upvotes,
        upvotes=item.upvotes,
        saves=item.saves,
        points=points,
        age_hours=age,
        decay=decay,
        score=points * decay,
    )


def rank_trending(items: Iterable[TrendingInput], now: datetime) -> list[TrendingScore]:
    """Scores, best first; ties go to the newer paper, then the id for a stable order."""
    scored = [trending_score(item, now) for item in items]
    scored.sort(key=lambda s: (-s.score, s.age_hours, s.paper_id))
    return scored


def trending_clock(latest_day: date | None, now: datetime) -> datetime:
    """The time trending is computed at: now, or the end of the newest day when the store is stale.

    A store that has not synced for a while (or the bundled demo corpus) still shows the papers
    that trended when it was last fed, instead of an empty list.
    """
    if latest_day is None:
        return now
    return min(now, datetime.combine(latest_day, time(0), tzinfo=UTC) + timedelta(days=1))
