"""Read-only paper listings for pages, feeds and the API: by period, author, category, flags.

Each listing is one query for the rows plus one for the total, whatever the page size, so pages
stay flat in queries as the store grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, and_, func, or_, select

from paperroute.models import Paper
from paperroute.store import submissions as subs
from paperroute.store.papers import author_key, row_to_paper
from paperroute.store.schema import paper_authors, paper_categories, papers

Order = Literal["votes", "published", "citations"]
ORDERS = ("votes", "published", "citations")
# Which papers a period holds: those announced in it; those plus the ones members submitted in
# it (the daily page's "all"); or only submitted and featured ones ("curated", HF's model).
PeriodMode = Literal["announced", "all", "curated"]


@dataclass
class PaperFilter:
    """Which papers a listing shows; every field is optional."""

    start: date | None = None
    end: date | None = None  # inclusive
    author: str | None = None
    category: str | None = None
    submitter: str | None = None
    featured: bool | None = None
    include_hidden: bool = False
    hidden_only: bool = False
    # Union and exclusion (`/categories/cs.CL+cs.LG-cs.CY`): any of `categories`, none of
    # `exclude_categories`; the same for venues.
    categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    venues: tuple[str, ...] = ()
    exclude_venues: tuple[str, ...] = ()
    year: int | None = None
    track: str | None = None
    # `/journals/0090-0036+1541-0048`: any of these ISSNs, none of the excluded ones
    issns: tuple[str, ...] = ()
    exclude_issns: tuple[str, ...] = ()
    min_citations: int | None = None
    mode: PeriodMode = "announced"
    organizations: tuple[str, ...] | None = None  # papers credited to any of these names


def _period(flt: PaperFilter) -> list:
    parts = []
    if flt.start is not None:
        parts.append(papers.c.announced >= flt.start)
    if flt.end is not None:
        parts.append(papers.c.announced <= flt.end)
    if flt.mode == "announced" or not parts:
        return parts
    submitted = papers.c.id.in_(subs.submitted_on(flt.start, flt.end))
    if flt.mode == "curated":
        return [or_(submitted, and_(papers.c.featured.is_(True), *parts))]
    return [or_(submitted, and_(*parts))]


def _conditions(flt: PaperFilter) -> list:
    conds = []
    if not flt.include_hidden:
        conds.append(papers.c.hidden.is_(False))
    if flt.hidden_only:
        conds.append(papers.c.hidden.is_(True))
    conds.extend(_period(flt))
    if flt.organizations is not None:
        conds.append(papers.c.organization.in_(list(flt.organizations)))
    if flt.author:
        by_author = select(paper_authors.c.paper_id).where(
            paper_authors.c.name_key == author_key(flt.author)
        )
        conds.append(papers.c.id.in_(by_author))
    if flt.category:
        in_cat = select(paper_categories.c.paper_id).where(
            paper_categories.c.category == flt.category
        )
        conds.append(papers.c.id.in_(in_cat))
    conds += _union_conditions(flt)
    if flt.year is not None:
        conds.append(papers.c.year == flt.year)
    if flt.track:
        conds.append(func.lower(papers.c.track) == flt.track.lower())
    if flt.min_citations:
        conds.append(papers.c.citation_count >= flt.min_citations)
    if flt.submitter:  # a Hugging Face user name, or a member's handle
        by_member = papers.c.id.in_(subs.submitted_by_handle(flt.submitter))
        conds.append(or_(papers.c.submitter == flt.submitter, by_member))
    if flt.featured is not None:
        conds.append(papers.c.featured.is_(flt.featured))
    return conds


def _union_conditions(flt: PaperFilter) -> list:
    conds = []
    cat = paper_categories.c.category
    if flt.categories:
        conds.append(
            papers.c.id.in_(select(paper_categories.c.paper_id).where(cat.in_(flt.categories)))
        )
    if flt.exclude_categories:
        excluded = select(paper_categories.c.paper_id).where(cat.in_(flt.exclude_categories))
        conds.append(papers.c.id.not_in(excluded))
    venue = func.lower(papers.c.venue)
    if flt.venues:
        conds.append(venue.in_([v.lower() for v in flt.venues]))
    if flt.exclude_venues:
        conds.append(func.coalesce(venue, "").not_in([v.lower() for v in flt.exclude_venues]))
    if flt.issns:
        conds.append(papers.c.issn.in_(list(flt.issns)))
    if flt.exclude_issns:
        conds.append(func.coalesce(papers.c.issn, "").not_in(list(flt.exclude_issns)))
    return conds


def _order(order: Order) -> list:
    total = papers.c.hf_upvotes + papers.c.upvotes
    if order == "citations":
        return [papers.c.citation_count.desc().nulls_last(), total.desc(), papers.c.id.desc()]
    if order == "published":
        return [papers.c.announced.desc(), papers.c.published.desc(), papers.c.id.desc()]
    return [total.desc(), papers.c.published.desc(), papers.c.id.desc()]


def list_papers(
    engine: Engine, flt: PaperFilter, *, order: Order = "votes", limit: int = 50, offset: int = 0
) -> tuple[list[Paper], int]:
    """A page of papers matching the filter, and how many match in all."""
    conds = _conditions(flt)
    query = select(papers).where(*conds).order_by(*_order(order)).limit(limit).offset(offset)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        total = conn.execute(select(func.count()).select_from(papers).where(*conds)).scalar_one()
        found = [row_to_paper(dict(r)) for r in rows]
        subs.attach_submissions(conn, found)
    return found, total


def papers_by_ids(engine: Engine, ids: Sequence[str], include_hidden: bool = False) -> list[Paper]:
    """Papers (without versions) in the order of `ids`; unknown or hidden ids are skipped."""
    if not ids:
        return []
    query = select(papers).where(papers.c.id.in_(list(dict.fromkeys(ids))))
    if not include_hidden:
        query = query.where(papers.c.hidden.is_(False))
    with engine.connect() as conn:
        found = {r["id"]: row_to_paper(dict(r)) for r in conn.execute(query).mappings()}
        subs.attach_submissions(conn, list(found.values()))
    return [found[i] for i in ids if i in found]


def _day_queries(mode: PeriodMode) -> list:
    """Queries of the days that have visible papers in a daily page of this mode."""
    visible = papers.c.hidden.is_(False)
    announced = select(papers.c.announced.label("day")).where(visible)
    if mode == "announced":
        return [announced]
    if mode == "curated":
        return [subs.submission_days(), announced.where(papers.c.featured.is_(True))]
    return [announced, subs.submission_days()]


def _nearest(engine: Engine, mode: PeriodMode, last: bool, where=None) -> date | None:
    """The latest (`last`) or earliest day of the mode's days that passes `where`."""
    found = []
    with engine.connect() as conn:
        for query in _day_queries(mode):
            days = query.subquery()
            stmt = select(func.max(days.c.day) if last else func.min(days.c.day))
            if where is not None:
                stmt = stmt.where(where(days.c.day))
            found.append(as_day(conn.execute(stmt).scalar()))
    found = [d for d in found if d is not None]
    if not found:
        return None
    return max(found) if last else min(found)


def as_day(value) -> date | None:
    """A date from what a MAX/MIN over a date column returns (SQLite over a union: a string)."""
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def latest_day(engine: Engine, mode: PeriodMode = "announced") -> date | None:
    """The newest day that has visible papers (announced ones, or per the daily page's mode)."""
    return _nearest(engine, mode, True)


def adjacent_days(
    engine: Engine, day: date, mode: PeriodMode = "announced"
) -> tuple[date | None, date | None]:
    """The nearest earlier and later days that have visible papers."""
    prev = _nearest(engine, mode, True, lambda c: c < day)
    nxt = _nearest(engine, mode, False, lambda c: c > day)
    return prev, nxt


def trending_rows(
    engine: Engine,
    start: date | None = None,
    until: date | None = None,
    ids: Sequence[str] | None = None,
    flt: PaperFilter | None = None,
) -> list[dict]:
    """The numbers trending needs for visible papers announced in [start, until] (either bound
    may be left open), or for the visible papers among `ids`; only those `flt` selects."""
    query = select(
        papers.c.id,
        papers.c.hf_upvotes,
        papers.c.upvotes,
        papers.c.saves,
        papers.c.announced,
        papers.c.published,
    ).where(papers.c.hidden.is_(False), *(_conditions(flt) if flt else ()))
    if start is not None:
        query = query.where(papers.c.announced >= start)
    if until is not None:
        query = query.where(papers.c.announced <= until)
    with engine.connect() as conn:
        if ids is None:
            return [dict(r) for r in conn.execute(query).mappings()]
        ids = list(dict.fromkeys(ids))
        return [
            dict(r)
            for s in range(0, len(ids), 500)
            for r in conn.execute(query.where(papers.c.id.in_(ids[s : s + 500]))).mappings()
        ]


def top_categories(engine: Engine, limit: int = 30) -> list[tuple[str, int]]:
    """The most common primary categories with their paper counts."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(paper_categories.c.category, func.count())
            .where(paper_categories.c.is_primary.is_(True))
            .group_by(paper_categories.c.category)
            .order_by(func.count().desc(), paper_categories.c.category)
            .limit(limit)
        ).all()
    return [(c, n) for c, n in rows]


def top_venues(engine: Engine, limit: int = 200) -> list[tuple[str, int | None, int]]:
    """(venue, year, papers) for every venue and year with visible papers, largest first."""
    query = (
        select(papers.c.venue, papers.c.year, func.count())
        .where(papers.c.venue.is_not(None), papers.c.issn.is_(None), papers.c.hidden.is_(False))
        .group_by(papers.c.venue, papers.c.year)
        .order_by(func.count().desc(), papers.c.venue, papers.c.year.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(v, y, n) for v, y, n in conn.execute(query)]


def top_journals(
    engine: Engine, limit: int = 200, issns: Sequence[str] | None = None
) -> list[tuple[str, str, int]]:
    """(ISSN, journal title, papers) for every journal with visible papers (or those `issns`),
    largest first."""
    which = papers.c.issn.is_not(None) if issns is None else papers.c.issn.in_(list(issns))
    query = (
        select(papers.c.issn, func.max(papers.c.venue), func.count())
        .where(which, papers.c.hidden.is_(False))
        .group_by(papers.c.issn)
        .order_by(func.count().desc(), papers.c.issn)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(i, t or i, n) for i, t, n in conn.execute(query)]


def facet_counts(engine: Engine, flt: PaperFilter, column: str) -> list[tuple[Any, int]]:
    """(value, papers) of one column (track, year) among the papers a filter selects."""
    col = papers.c[column]
    query = (
        select(col, func.count())
        .where(*_conditions(flt), col.is_not(None))
        .group_by(col)
        .order_by(col.desc() if column == "year" else col)
    )
    with engine.connect() as conn:
        return [(v, n) for v, n in conn.execute(query)]


def known_names(engine: Engine, kind: Literal["category", "venue", "journal"]) -> frozenset[str]:
    """Every category (venue, journal ISSN) the store has: what a union/exclusion URL is split
    against."""
    column = {"category": paper_categories.c.category, "venue": papers.c.venue,
              "journal": papers.c.issn}[kind]  # fmt: skip
    with engine.connect() as conn:
        return frozenset(v for v in conn.execute(select(column).distinct()).scalars() if v)


def split_union(spec: str, known: frozenset[str]) -> tuple[list[str], list[str]]:
    """`cs.CL+cs.LG-cs.CY` to (["cs.CL", "cs.LG"], ["cs.CY"]).

    Names hold "-" themselves (hep-th, cond-mat.mes-hall, NAACL-HLT), so the string is cut only
    where every piece is a name the store knows; when no cut fits, "+" alone separates.
    """
    if spec in known:
        return [spec], []
    cut = _cut(spec, known, {})
    if cut is None:
        return [p for p in spec.split("+") if p], []
    include = [name for sign, name in cut if sign == "+"]
    return include, [name for sign, name in cut if sign == "-"]


def _cut(rest: str, known: frozenset[str], memo: dict) -> list[tuple[str, str]] | None:
    """The pieces of `rest` (each a known name with its sign), first fitting cut; None if none."""
    if rest in memo:
        return memo[rest]
    sign, text = ("-", rest[1:]) if rest.startswith("-") else ("+", rest.lstrip("+"))
    found = None
    for end in range(len(text), 0, -1):
        name, tail = text[:end], text[end:]
        if name in known and (not tail or tail[0] in "+-"):
            after = _cut(tail, known, memo) if tail else []
            if after is not None:
                found = [(sign, name), *after]
                break
    memo[rest] = found
    return found


def set_flags(
    engine: Engine, paper_id: str, *, hidden: bool | None = None, featured: bool | None = None
) -> bool:
    """Hide/unhide or feature/unfeature a paper (admin); False when there is no such paper."""
    values = {}
    if hidden is not None:
        values["hidden"] = hidden
    if featured is not None:
        values["featured"] = featured
    if not values:
        return True
    with engine.begin() as conn:
        result = conn.execute(papers.update().where(papers.c.id == paper_id).values(**values))
    return result.rowcount == 1


def data_version(engine: Engine) -> tuple:
    """A cheap fingerprint that changes whenever listings could change (for page caches)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.max(papers.c.last_changed),
                func.sum(papers.c.upvotes),
                func.sum(papers.c.saves),
            ).select_from(papers)
        ).one()
    return tuple(row)


# Pages link to the period before and after; inside these years those are real dates too.
FIRST_DAY, LAST_DAY = date(1000, 1, 1), date(9998, 12, 31)


def _in_range(field: str, value: str, start: date) -> None:
    if not FIRST_DAY <= start <= LAST_DAY:
        raise ValueError(f"{field}: {value!r} is outside {FIRST_DAY.year}–{LAST_DAY.year}")


def parse_day(value: str) -> date:
    """`YYYY-MM-DD` to a date; ValueError naming the field otherwise."""
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"date: {value!r} is not YYYY-MM-DD") from None
    _in_range("date", value, day)
    return day


def week_range(value: str) -> tuple[date, date]:
    """ISO week `YYYY-Www` to (Monday, Sunday)."""
    try:
        year, week = value.upper().split("-W")
        start = date.fromisocalendar(int(year), int(week), 1)
    except (AttributeError, TypeError, ValueError, OverflowError):
        raise ValueError(f"week: {value!r} is not YYYY-Www (e.g. 2025-W09)") from None
    _in_range("week", value, start)
    return start, start + timedelta(days=6)


def month_range(value: str) -> tuple[date, date]:
    """`YYYY-MM` to (first day, last day)."""
    try:
        year, month = (int(x) for x in value.split("-"))
        start = date(year, month, 1)
    except (AttributeError, TypeError, ValueError, OverflowError):
        raise ValueError(f"month: {value!r} is not YYYY-MM (e.g. 2025-02)") from None
    _in_range("month", value, start)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return start, nxt - timedelta(days=1)


def iso_week(day: date) -> str:
    """The ISO week label of a day, e.g. 2025-W09."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
