"""Gathering what digests need, in batches: the new papers, topic matches and "for you" picks.

Topic sections are the search service's ranking of each topic phrase (`SearchService.match_topics`:
the same lexical + vector fusion as /search) restricted to the papers first seen since the reader's
last digest. It is batched for a whole run: readers whose digests start in the same hour share one
call, every distinct topic is embedded once (and kept on disk), the window's vectors read once.
"For you" is the recommender behind /for-you and its API (`Recommender.for_readers`), called once
per window for every reader of it, with the papers new since their last digest as candidates:
positives are the reader's saved and upvoted papers and followed authors, negatives their "not
interested" marks, vectors the stored ones. The digest only adds its own bar for showing a pick.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from paperroute.config import Settings
from paperroute.digest.compose import PaperIndex, Signals
from paperroute.models import Paper
from paperroute.ranking.foryou import Recommender
from paperroute.ranking.leaderboard import trending_order
from paperroute.search.service import SearchService
from paperroute.store.papers import author_key, first_seen_since, get_papers
from paperroute.store.readers import not_interested_by_user
from paperroute.store.subscriptions import Subscription, sent_paper_ids

SIMILAR_MIN = 0.45
FOR_YOU_DEPTH = 20


@dataclass
class Pool:
    """Papers first seen since some moment."""

    papers: list[Paper]
    first_seen: dict[str, datetime]
    _since: dict[datetime, list[Paper]] = field(default_factory=dict, repr=False)

    @property
    def ids(self) -> list[str]:
        """Paper ids in pool order."""
        return [p.id for p in self.papers]

    def since(self, moment: datetime) -> list[Paper]:
        """Papers of the pool first seen at or after `moment` (memoised: readers share moments)."""
        if moment not in self._since:
            self._since[moment] = [p for p in self.papers if self.first_seen[p.id] >= moment]
        return self._since[moment]

    def newer(self, moment: datetime) -> Pool:
        """The sub-pool first seen at or after `moment`."""
        if moment <= min(self.first_seen.values(), default=moment):
            return self
        papers = [p for p in self.papers if self.first_seen[p.id] >= moment]
        return Pool(papers, {p.id: self.first_seen[p.id] for p in papers})


def load_pool(engine: Engine, since: datetime) -> Pool:
    """Visible papers first seen at or after `since`."""
    seen = first_seen_since(engine, since)
    found = get_papers(engine, sorted(seen), with_versions=False)
    return Pool(found, {p.id: seen[p.id] for p in found})


@dataclass
class ReaderInputs:
    """Everything compose_digest needs for one reader."""

    subscription: Subscription
    papers: list[Paper]
    signals: Signals
    index: PaperIndex | None = None  # shared by every reader of a run


def gather_inputs(
    engine: Engine,
    settings: Settings,
    subs: list[Subscription],
    since: dict[int, datetime],
    search: SearchService | None,
    moment: datetime,
    pool: Pool | None = None,
    recommender: Recommender | None = None,
) -> list[ReaderInputs]:
    """Candidates and signals for many readers at once (one pool; topics matched by the search
    service and "for you" by the recommender, each in one batched call per window; without a
    search service, no topic or "for you" sections). Pass the process's `recommender` to reuse
    its vector cache (one is made from `search` otherwise)."""
    if not subs:
        return []
    # Digests start on the hour: readers sent within the same hour share one match below.
    since = {sid: when.replace(minute=0, second=0, microsecond=0) for sid, when in since.items()}
    pool = pool or load_pool(engine, min(since.values()))
    sent = sent_paper_ids(engine, [s.id for s in subs])
    if recommender is None and search is not None:
        recommender = Recommender.from_search(engine, search)
    # Readers are matched against the papers new since *their* last digest: a daily reader's
    # topics rank today's papers, a weekly reader's the week's (already-sent papers are removed
    # per reader later).
    groups: dict[datetime, list[Subscription]] = defaultdict(list)
    for sub in subs:
        groups[since[sub.id]].append(sub)
    topic_hits: dict[int, dict[str, list[str]]] = {}
    picks: dict[int, list[ForYouPick]] = {}
    negatives = not_interested_by_user(engine, [s.user_id for s in subs if s.user_id])
    for start, members in groups.items():
        part = pool.newer(start)
        if not part.papers:
            continue
        wanted = [t for s in members if s.prefs.sections.get("topics") for t in s.prefs.topics]
        # "For you" (mostly regression fits and matrix products, which release the GIL) runs
        # beside the topic matching (mostly Python): the two use both cores.
        with ThreadPoolExecutor(1, thread_name_prefix="digest-for-you") as side:
            for_you = side.submit(for_you_picks, engine, recommender, members, part)
            if wanted and search is not None:
                hits = search.match_topics(wanted, start)
                topic_hits.update((s.id, hits) for s in members)
            picks.update(for_you.result())
    trending = trending_order(engine, pool.ids, moment)  # the /trending page's order
    index = PaperIndex.build(pool.papers)
    out = []
    for sub in subs:
        signals = Signals(
            topic_matches={t: topic_hits.get(sub.id, {}).get(t, []) for t in sub.prefs.topics},
            similar={p.paper_id: p.closest_title for p in picks.get(sub.id, [])},
            similar_detail={p.paper_id: p.detail for p in picks.get(sub.id, []) if p.detail},
            trending=trending,
            already_sent=sent.get(sub.id, set()),
            not_interested=set(negatives.get(sub.user_id, ())) if sub.user_id else set(),
        )
        out.append(ReaderInputs(sub, pool.since(since[sub.id]), signals, index))
    return out


@dataclass
class ForYouPick:
    """One "for you" paper: the saved paper it is closest to, and what else they share."""

    paper_id: str
    closest_title: str
    detail: str


def _detail(authors: list[str], names: dict[str, str], terms: list[str]) -> str:
    parts = []
    if authors:
        parts.append("also by " + ", ".join(names.get(a, a) for a in authors[:2]))
    if terms:
        parts.append("shared terms: " + ", ".join(terms[:3]))
    return "; ".join(parts)


def for_you_picks(
    engine: Engine, recommender: Recommender | None, subs: list[Subscription], pool: Pool
) -> dict[int, list[ForYouPick]]:
    """Each signed-in reader's "for you" picks among the pool: the recommender's (the for-you
    page's) recommendations for them, in its order, with the pool as the candidates.

    A pick needs cosine >= SIMILAR_MIN to its closest saved paper or a shared author, so a
    reader whose library has nothing to do with today's papers gets no "for you" section; so
    does a reader with no saved papers (the page's cold start from onboarding picks is not
    mailed).
    """
    readers = [s for s in subs if s.user_id and s.prefs.sections.get("for_you")]
    if recommender is None or not readers or not pool.papers:
        return {}
    found = recommender.for_readers(
        [s.user_id for s in readers], candidates=pool.ids, limit=FOR_YOU_DEPTH
    )
    closest = {
        item.reason.closest[0][0]
        for result in found.values()
        if not result.cold_start
        for item in result.items
    }
    by_id = {p.id: p for p in pool.papers}
    missing = sorted(closest - by_id.keys())
    by_id.update((p.id, p) for p in get_papers(engine, missing, with_versions=False))
    names = {author_key(a.name): a.name for p in by_id.values() for a in p.authors}
    out: dict[int, list[ForYouPick]] = {}
    for sub in readers:
        result = found.get(sub.user_id)
        if result is None or result.cold_start or not result.items:
            continue
        picks = []
        for item in result.items:
            closest_id, cosine = item.reason.closest[0]
            if closest_id not in by_id or (cosine < SIMILAR_MIN and not item.reason.authors):
                continue
            detail = _detail(item.reason.authors, names, item.reason.terms)
            picks.append(ForYouPick(item.paper_id, by_id[closest_id].title, detail))
        out[sub.id] = picks
    return out
