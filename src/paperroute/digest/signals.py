"""Gathering what digests need, in batches: the new papers, topic matches and "for you" picks.

Topic sections are the search service's ranking of each topic phrase (`SearchService.match_topics`:
the same lexical + vector fusion as /search) restricted to the papers first seen since the reader's
last digest. It is batched for a whole run: readers whose digests start in the same hour share one
call, every distinct topic is embedded once (and kept on disk), the window's vectors read once.
"For you" paper vectors come from the `embeddings` table when the search side stored them for the
configured model, and are computed here otherwise.

"For you" is the recommender of `ranking/recommend.py` (the one behind /for-you), run per reader
on the same batched pool and vectors: positives are the reader's saved and upvoted papers,
negatives their "not interested" marks, candidates the papers new since their last digest.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from paperroute.config import Settings
from paperroute.digest.compose import PaperIndex, Signals
from paperroute.models import Paper
from paperroute.ranking.recommend import author_scores, recommend
from paperroute.ranking.trending import TrendingInput, announced_at, rank_trending
from paperroute.search.embedder import paper_text
from paperroute.search.service import SearchService
from paperroute.store.embeddings import load_vectors
from paperroute.store.library import not_interested_by_user
from paperroute.store.papers import author_key, first_seen_since, get_papers
from paperroute.store.subscriptions import Subscription, reader_libraries, sent_paper_ids

Embedder = Callable[[list[str]], np.ndarray]
"""Texts -> L2-normalised float32 matrix, one row per text."""

SIMILAR_MIN = 0.45
FOR_YOU_DEPTH = 20
LIBRARY_MAX = 50
FOR_YOU_THREADS = 8


def _text(paper: Paper) -> str:
    return paper_text(paper.title, paper.abstract)


@dataclass
class Pool:
    """Papers first seen since some moment, with their vectors (filled lazily)."""

    papers: list[Paper]
    first_seen: dict[str, datetime]
    vectors: np.ndarray | None = None
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
        """The sub-pool first seen at or after `moment`, sharing this pool's vectors."""
        if moment <= min(self.first_seen.values(), default=moment):
            return self
        keep = [i for i, p in enumerate(self.papers) if self.first_seen[p.id] >= moment]
        vectors = self.vectors[keep] if self.vectors is not None else None
        papers = [self.papers[i] for i in keep]
        return Pool(papers, {p.id: self.first_seen[p.id] for p in papers}, vectors)


def load_pool(engine: Engine, since: datetime) -> Pool:
    """Visible papers first seen at or after `since`."""
    seen = first_seen_since(engine, since)
    found = get_papers(engine, sorted(seen), with_versions=False)
    return Pool(found, {p.id: seen[p.id] for p in found})


def stored_vectors(engine: Engine, model: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Vectors the search side stored for these papers and this model, L2-normalised."""
    found = load_vectors(engine, model, ids)
    return {pid: vec / (float(np.linalg.norm(vec)) or 1.0) for pid, vec in found.items()}


def paper_vectors(
    engine: Engine, settings: Settings, embed: Embedder, found: Sequence[Paper]
) -> np.ndarray:
    """One normalised vector per paper: stored ones, the rest embedded now."""
    stored = stored_vectors(engine, settings.embedding_model, [p.id for p in found])
    missing = [p for p in found if p.id not in stored]
    if missing:
        fresh = embed([_text(p) for p in missing])
        stored.update(zip((p.id for p in missing), fresh, strict=True))
    if not found:
        return np.zeros((0, 1), dtype=np.float32)
    return np.vstack([stored[p.id] for p in found]).astype(np.float32)


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
) -> list[ReaderInputs]:
    """Candidates and signals for many readers at once (one pool; topics matched by the search
    service in one batched call per window; without a search service, no topic or "for you"
    sections)."""
    if not subs:
        return []
    # Digests start on the hour: readers sent within the same hour share one match below.
    since = {sid: when.replace(minute=0, second=0, microsecond=0) for sid, when in since.items()}
    pool = pool or load_pool(engine, min(since.values()))
    sent = sent_paper_ids(engine, [s.id for s in subs])
    needs_vectors = any(s.user_id and s.prefs.sections.get("for_you") for s in subs)
    embed = search.embedder.embed if search and needs_vectors and pool.papers else None
    if embed is not None and pool.vectors is None:
        pool.vectors = paper_vectors(engine, settings, embed, pool.papers)
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
        if wanted and search is not None:
            hits = search.match_topics(wanted, start)
            topic_hits.update((s.id, hits) for s in members)
        picks.update(for_you_picks(engine, settings, members, part, embed, negatives))
    trending = trending_order(pool.papers, moment)
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


def trending_order(found: Sequence[Paper], moment: datetime) -> list[str]:
    """Paper ids by trending score (ranking/trending.py), papers without any vote left out."""
    inputs = [
        TrendingInput(
            p.id, p.hf_upvotes, p.upvotes, p.saves, announced_at(p.announced, p.published)
        )
        for p in found
    ]
    return [s.paper_id for s in rank_trending(inputs, moment) if s.points > 0]


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
    engine: Engine,
    settings: Settings,
    subs: list[Subscription],
    pool: Pool,
    embed: Embedder | None,
    negatives: dict[int, list[str]],
) -> dict[int, list[ForYouPick]]:
    """The recommender's (`ranking/recommend.py`) picks from the pool for each reader's library.

    Positives are the reader's saved and upvoted papers (newest LIBRARY_MAX), negatives their
    "not interested" marks. Vectors of every library paper of every reader are read (or
    embedded) once; the pool's vectors, author keys and texts are shared by all readers.
    A pick needs cosine >= SIMILAR_MIN to its closest saved paper or a shared author, so a
    reader whose library has nothing to do with today's papers gets no "for you" section.
    """
    readers = [s for s in subs if s.user_id and s.prefs.sections.get("for_you")]
    if embed is None or not readers or not pool.papers:
        return {}
    libraries = reader_libraries(engine, [s.user_id for s in readers])
    wanted = {p for s in readers for p in libraries.get(s.user_id, [])[:LIBRARY_MAX]}
    if not wanted:
        return {}
    wanted |= {p for s in readers for p in negatives.get(s.user_id, [])}
    by_id = {p.id: p for p in get_papers(engine, sorted(wanted), with_versions=False)}
    ordered = list(by_id.values())
    vectors = paper_vectors(engine, settings, embed, ordered)
    row = {p.id: i for i, p in enumerate(ordered)}
    cand_ids = pool.ids
    index = {pid: i for i, pid in enumerate(cand_ids)}
    by_id.update((p.id, p) for p in pool.papers)
    keys = {pid: [author_key(a.name) for a in p.authors] for pid, p in by_id.items()}
    names = {author_key(a.name): a.name for p in by_id.values() for a in p.authors}
    cand_authors = [keys[pid] for pid in cand_ids]
    texts: dict[str, str] = {}

    def text_of(ids: Sequence[str]) -> dict[str, str]:
        for pid in ids:
            if pid not in texts and pid in by_id:
                texts[pid] = _text(by_id[pid])  # a race only computes the same text twice
        return {pid: texts[pid] for pid in ids if pid in texts}

    def picks_for(sub: Subscription) -> list[ForYouPick] | None:
        pos = [p for p in libraries.get(sub.user_id, [])[:LIBRARY_MAX] if p in row]
        if not pos:
            return None
        neg = [p for p in negatives.get(sub.user_id, []) if p in row]
        found = recommend(
            cand_ids,
            pool.vectors,
            pos,
            vectors[[row[p] for p in pos]],
            vectors[[row[p] for p in neg]] if neg else None,
            texts=text_of,
            limit=FOR_YOU_DEPTH,
            hide=set(pos) | set(neg),
            authors=author_scores(cand_authors, [keys[p] for p in pos], normalised=True),
            authors_of=lambda ids: {p: keys.get(p, ()) for p in ids},
            candidate_index=index,
        )
        picks = []
        for item in found:
            closest_id, cosine = item.reason.closest[0]
            if cosine < SIMILAR_MIN and not item.reason.authors:
                continue
            detail = _detail(item.reason.authors, names, item.reason.terms)
            picks.append(ForYouPick(item.paper_id, by_id[closest_id].title, detail))
        return picks

    # The regression fit (liblinear) and the matrix products release the GIL: readers run on
    # every core.
    workers = min(os.cpu_count() or 1, FOR_YOU_THREADS, len(readers))
    if workers > 1:
        with ThreadPoolExecutor(workers) as executor:
            found_all = list(executor.map(picks_for, readers))
    else:
        found_all = [picks_for(sub) for sub in readers]
    return {
        sub.id: picks for sub, picks in zip(readers, found_all, strict=True) if picks is not None
    }
