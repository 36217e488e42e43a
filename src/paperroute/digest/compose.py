"""Composing a digest: a pure function from (subscription, candidate papers, signals) to a Digest.

No I/O. The caller (digest/delivery.py, the preview page, the benchmark) gathers the papers new
since the reader's last digest and the signals (topic matches, "for you" picks, trending order), and
this module decides which papers go in which section and why. Papers the reader marked "not
interested" never appear in any section. Sections are filled from the most
personal to the least (topics, followed authors, followed categories, for you, trending), so a paper
appears once, in the first section that wants it, carrying every reason it matched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from paperroute.models import Paper
from paperroute.store.subscriptions import Subscription

SECTION_TITLES = {
    "topics": "Your topics",
    "authors": "Authors you follow",
    "categories": "Categories you follow",
    "for_you": "For you",
    "trending": "Trending",
}


@dataclass
class DigestItem:
    """One paper in a digest and why it is there."""

    paper: Paper
    reasons: list[str]


@dataclass
class DigestSection:
    """A titled list of papers."""

    key: str
    title: str
    items: list[DigestItem]


@dataclass
class Digest:
    """What one reader gets for one period."""

    subscription_id: int
    email: str
    period: str
    period_label: str
    sections: list[DigestSection]
    # The reader's notifications gathered since the last digest (store.notifications rows),
    # added at delivery: a section of their own, after the papers.
    notifications: list = field(default_factory=list)

    @property
    def paper_ids(self) -> list[str]:
        """Every paper in the digest, in reading order."""
        return [item.paper.id for s in self.sections for item in s.items]

    @property
    def is_empty(self) -> bool:
        """True when no section holds a paper."""
        return not any(s.items for s in self.sections)


@dataclass
class Signals:
    """What the search side found for one reader, ready for `compose_digest`.

    topic_matches: topic -> paper ids, best first (from the hybrid search over the new papers).
    similar: "for you" picks, best first (the recommender's order): paper id -> title of the saved
        paper it is closest to.
    similar_detail: paper id -> what else it shares with the saved papers ("also by …; shared
        terms …"), appended to the "similar to" reason when present.
    trending: paper ids in trending order (None: order the candidates by upvotes).
    already_sent: papers this reader got in an earlier digest.
    not_interested: papers the reader marked "not interested": never in any section.
    """

    topic_matches: dict[str, list[str]] = field(default_factory=dict)
    similar: dict[str, str] = field(default_factory=dict)
    similar_detail: dict[str, str] = field(default_factory=dict)
    trending: list[str] | None = None
    already_sent: set[str] = field(default_factory=set)
    not_interested: set[str] = field(default_factory=set)


def period_for(subscription: Subscription, moment: datetime) -> str:
    """The ledger period of a moment for this reader: `2026-11-29` daily, `2026-W48` weekly."""
    local = moment.astimezone(ZoneInfo(subscription.prefs.timezone)).date()
    if subscription.prefs.cadence == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.isoformat()


def period_label(period: str) -> str:
    """Human words for a period key."""
    if "-W" in period:
        year, week = period.split("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
        return f"week of {monday:%B} {monday.day}, {monday.year}"
    day = date.fromisoformat(period)
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def period_length(subscription: Subscription) -> timedelta:
    """How far back the first digest looks."""
    return timedelta(days=7 if subscription.prefs.cadence == "weekly" else 1)


def _author_key(name: str) -> str:
    return " ".join(name.lower().split())


@dataclass
class PaperIndex:
    """Lookups over candidate papers, built once per run and shared by every reader's digest."""

    by_id: dict[str, Paper]
    by_votes: list[str]
    rank: dict[str, int]
    by_author: dict[str, list[str]]
    by_category: dict[str, list[str]]
    # Candidate lists that many readers share (a followed set of categories, the trending
    # order) and where each paper stands in them, made once per run.
    _shared: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, papers: list[Paper]) -> PaperIndex:
        """Index papers by id, author key and category, most upvoted first."""
        ordered = sorted(papers, key=lambda p: (-p.total_upvotes, p.id))
        by_author: dict[str, list[str]] = {}
        by_category: dict[str, list[str]] = {}
        for p in ordered:
            for name in dict.fromkeys(_author_key(a.name) for a in p.authors):
                by_author.setdefault(name, []).append(p.id)
            for cat in dict.fromkeys(c.lower() for c in p.follow_tags):  # venue:, journal: too
                by_category.setdefault(cat, []).append(p.id)
        ids = [p.id for p in ordered]
        return cls({p.id: p for p in ordered}, ids, {pid: i for i, pid in enumerate(ids)},
                   by_author, by_category)  # fmt: skip

    def shared(self, key: tuple, make: Callable[[], list], owner: object = None) -> list:
        """What `make()` builds, made once for every reader asking with `key`; an `owner` (a
        list keyed by its id) is held beside it, so a recycled id cannot match."""
        found = self._shared.get(key)
        if found is None or found[0] is not owner:
            if len(self._shared) >= SHARED_KEPT:
                self._shared.clear()
            found = self._shared[key] = (owner, make())
        return found[1]

    def positions(self, candidates: list[tuple[str, str]]) -> dict[str, list[tuple[int, str]]]:
        """Paper id -> (position, reason) of each of its entries in a shared candidate list."""

        def make() -> dict[str, list[tuple[int, str]]]:
            where: dict[str, list[tuple[int, str]]] = {}
            for pos, (pid, reason) in enumerate(candidates):
                where.setdefault(pid, []).append((pos, reason))
            return where

        return self.shared(("positions", id(candidates)), make, candidates)


SHARED_KEPT = 4096
# Past this many unread candidates a full section looks its placed papers up instead.
SCAN_MAX = 64


def compose_digest(
    subscription: Subscription,
    papers: list[Paper],
    signals: Signals,
    period: str,
    index: PaperIndex | None = None,
) -> Digest:
    """Choose and order the papers for one reader's digest of one period.

    `papers` are this reader's candidates (new since their last digest); `index` may cover a
    superset of them (the whole run's pool) and is only a speed-up.
    """
    prefs = subscription.prefs
    index = index or PaperIndex.build(papers)
    visible, sent, unwanted = _visible_ids(papers), signals.already_sent, signals.not_interested

    def allowed(pid: str) -> bool:
        return pid in visible and pid not in sent and pid not in unwanted

    placed: dict[str, DigestItem] = {}
    sections: list[DigestSection] = []
    for key, candidates in _section_candidates(subscription, index, signals):
        limit = prefs.sections.get(key, 0)
        if not limit:
            continue
        items = _fill(key, candidates(), limit, allowed, placed, index)
        if items:
            sections.append(DigestSection(key, SECTION_TITLES[key], items))
    return Digest(subscription.id, subscription.email, period, period_label(period), sections)


def _fill(
    key: str,
    candidates: list[tuple[str, str]],
    limit: int,
    allowed: Callable[[str], bool],
    placed: dict[str, DigestItem],
    index: PaperIndex,
) -> list[DigestItem]:
    """One section's items from its candidates (a paper placed before only gains the reason)."""
    items: list[DigestItem] = []
    per_topic: dict[str, int] = {}
    for pos, (pid, reason) in enumerate(candidates):
        if pid in placed:
            if reason not in placed[pid].reasons:
                placed[pid].reasons.append(reason)
            continue
        if not allowed(pid):
            continue
        if key == "topics":
            # `limit` is per topic for the topics section.
            if per_topic.get(reason, 0) >= limit:
                continue
            per_topic[reason] = per_topic.get(reason, 0) + 1
        placed[pid] = DigestItem(index.by_id[pid], [reason])
        items.append(placed[pid])
        if key != "topics" and len(items) >= limit:
            _more_reasons(candidates, pos + 1, placed, index)
            break
    return items


def _more_reasons(
    candidates: list[tuple[str, str]], start: int, placed: dict[str, DigestItem], index: PaperIndex
) -> None:
    """A full section's later candidates only add their reasons to papers already placed."""
    if len(candidates) - start <= SCAN_MAX:
        later = [(pid, reason) for pid, reason in candidates[start:] if pid in placed]
    else:  # a long shared list (trending, a category): look the few placed papers up in it
        where = index.positions(candidates)
        later = [
            (pid, reason) for pid in placed for pos, reason in where.get(pid, ()) if pos >= start
        ]
    for pid, reason in later:  # per paper in list order, which is all the reasons' order is
        if reason not in placed[pid].reasons:
            placed[pid].reasons.append(reason)


_LAST_VISIBLE: tuple[list[Paper], frozenset[str]] = ([], frozenset())


def _visible_ids(papers: list[Paper]) -> frozenset[str]:
    # Readers of one run share the same candidate list object; remember its id set (holding the
    # list itself, so the identity check cannot match a different, recycled list).
    global _LAST_VISIBLE
    last = _LAST_VISIBLE  # one read: another thread may replace it meanwhile
    if last[0] is not papers:
        last = (papers, frozenset(p.id for p in papers if not p.hidden))
        _LAST_VISIBLE = last
    return last[1]


def _followed(
    lookup: dict[str, list[str]], wanted: list[str], key, word: str, rank: dict[str, int]
) -> list[tuple[str, str]]:
    pairs = []
    for name in wanted:
        pairs += [(pid, f"{word} {name}") for pid in lookup.get(key(name), [])]
    return sorted(pairs, key=lambda pair: rank[pair[0]])


def _section_candidates(
    subscription: Subscription, index: PaperIndex, signals: Signals
) -> list[tuple[str, Callable[[], list[tuple[str, str]]]]]:
    """Each section's (paper id, reason) candidates in order, made when the section is wanted."""
    prefs = subscription.prefs

    def topics() -> list[tuple[str, str]]:
        # Interleave topics so that each topic gets its best papers before a later topic's.
        topic_lists = [
            [(pid, f'topic "{topic}"') for pid in signals.topic_matches.get(topic, [])]
            for topic in prefs.topics
        ]
        return [pair for rank in _interleave(topic_lists) for pair in rank]

    def authors() -> list[tuple[str, str]]:
        return _followed(index.by_author, prefs.follow_authors, _author_key, "by", index.rank)

    def categories() -> list[tuple[str, str]]:
        wanted = prefs.follow_categories  # readers share a few sets: one list per set
        return index.shared(
            ("categories", tuple(wanted)),
            lambda: _followed(index.by_category, wanted, str.lower, "in", index.rank),
        )

    def for_you() -> list[tuple[str, str]]:
        return [
            (pid, _similar_reason(pid, title, signals)) for pid, title in signals.similar.items()
        ]

    def trending() -> list[tuple[str, str]]:
        order = signals.trending
        if order is None:
            order = [pid for pid in index.by_votes if index.by_id[pid].total_upvotes > 0]
            return [(pid, "trending") for pid in order]
        # Every reader of a run shares the one trending order.
        return index.shared(
            ("trending", id(order)),
            lambda: [(pid, "trending") for pid in order if pid in index.by_id],
            order,
        )

    return [
        ("topics", topics),
        ("authors", authors),
        ("categories", categories),
        ("for_you", for_you),
        ("trending", trending),
    ]


def _similar_reason(pid: str, title: str, signals: Signals) -> str:
    detail = signals.similar_detail.get(pid)
    return f'similar to "{title}"' + (f" ({detail})" if detail else "")


def _interleave(lists: list[list]) -> list[list]:
    longest = max((len(x) for x in lists), default=0)
    return [[x[i] for x in lists if i < len(x)] for i in range(longest)]
