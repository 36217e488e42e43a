"""Recommendations for one reader: gathers their library and the window's vectors, then ranks.

The ranking itself is `paperroute.ranking.recommend` (pure); this module feeds it. Vectors of
recent papers are kept in memory (`VectorCache`): a month of papers (~30k x 384 floats, 46 MB)
is read from the embeddings table once and topped up with new papers, so a request costs one
id query plus the ranking.

Cold start: a reader without saved papers still gets recommendations from the picks made on the
for-you page: plain-word topics are embedded and used as pseudo-positives, chosen categories
contribute the centroid of the window's papers in that category.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Engine

from paperroute.ranking import recommend as rec
from paperroute.store import readers as store

MODEL_TTL_S = 3600.0  # new papers enter the window daily; refit at most hourly without changes
WINDOW_TTL_S = 60.0  # new or hidden papers show up in recommendations within a minute
TOPIC = "topic:"
CATEGORY = "category:"
DECISIONS_KEPT = 256  # readers whose model scores a window keeps (see Recommender._decision)
READER_THREADS = 8  # readers ranked side by side in a batch (a digest run)


@dataclass
class ForYou:
    """What the for-you page and API show."""

    window: str
    tag: str | None
    items: list[rec.Recommendation] = field(default_factory=list)
    candidates: int = 0
    positives: int = 0
    negatives: int = 0
    cold_start: bool = False
    message: str | None = None
    took_ms: float = 0.0


class VectorCache:
    """Paper id -> unit vector for recent papers, in one growing matrix, filled on demand.

    Rows are looked up by fancy indexing (a month of papers in a few ms); when the cache passes
    `limit` vectors it starts over, which only costs one reload from the store.
    """

    def __init__(
        self, load: Callable[[Sequence[str]], dict[str, np.ndarray]], limit: int = 100_000
    ):
        self._load = load
        self._limit = limit
        self._row: dict[str, int] = {}
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._lock = threading.Lock()

    def _append(self, found: dict[str, np.ndarray]) -> None:
        if not found:
            return
        vecs = rec.normalise_rows(np.stack(list(found.values())))
        full = len(self._row) + len(vecs) > self._limit
        if full or self._matrix.shape[1] != vecs.shape[1]:
            self._row, self._matrix = {}, np.zeros((0, vecs.shape[1]), dtype=np.float32)
        n = len(self._row)
        if n + len(vecs) > len(self._matrix):
            grown = np.zeros((max(2 * len(self._matrix), n + len(vecs), 1024), vecs.shape[1]), "f4")
            grown[:n] = self._matrix[:n]
            self._matrix = grown
        self._matrix[n : n + len(vecs)] = vecs
        self._row.update({pid: n + k for k, pid in enumerate(found)})

    def get(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The ids that have a vector, and their vectors as one (n, dim) array."""
        rows = self._row
        missing = [i for i in ids if i not in rows]
        if missing:
            found = self._load(missing)
            if found:
                with self._lock:
                    self._append({k: v for k, v in found.items() if k not in self._row})
        with self._lock:
            have = [i for i in ids if i in self._row]
            if not have:
                return [], np.zeros((0, max(self._matrix.shape[1], 1)), dtype=np.float32)
            return have, self._matrix[[self._row[i] for i in have]]


class TermCache:
    """Paper id -> hashed term counts (words of title + abstract, author names), kept like the
    vectors: counted once per paper, read from the store on first use."""

    def __init__(
        self,
        texts: Callable[[Sequence[str]], dict[str, str]],
        names: Callable[[Sequence[str]], dict[str, Sequence[str]]],
        limit: int = 100_000,
    ) -> None:
        self._texts = texts
        self._names = names
        self._limit = limit
        self._row: dict[str, int] = {}
        self._terms: rec.Terms | None = None
        self._lock = threading.Lock()

    def get(self, ids: Sequence[str]) -> rec.Terms:
        """Term counts of the ids, one row each, in order (a paper without text: an empty row)."""
        if not ids:
            return rec.paper_terms([], [])
        missing = [i for i in dict.fromkeys(ids) if i not in self._row]
        if missing:
            texts, names = self._texts(missing), self._names(missing)
            found = rec.paper_terms(
                [texts.get(p, "") for p in missing], [names.get(p, ()) for p in missing]
            )
            with self._lock:
                self._append(missing, found)
        with self._lock:
            assert self._terms is not None
            return self._terms.rows([self._row[i] for i in ids])

    def _append(self, ids: list[str], found: rec.Terms) -> None:
        from scipy import sparse

        fresh = [k for k, p in enumerate(ids) if p not in self._row]
        if self._terms is None or len(self._row) + len(fresh) > self._limit:
            self._row, self._terms = {}, found.rows([])
        n = len(self._row)
        self._terms = rec.Terms(
            sparse.vstack([self._terms.words, found.words[fresh]], format="csr"),
            sparse.vstack([self._terms.names, found.names[fresh]], format="csr"),
        )
        self._row.update({ids[k]: n + j for j, k in enumerate(fresh)})


@dataclass
class _Window:
    """Candidates as the model sees them: ids, unit vectors, id -> row, and TF-IDF rows in the
    window's own idf space."""

    ids: list[str]
    vectors: np.ndarray
    index: dict[str, int]
    space: rec.TermSpace | None = None
    features: Any = None  # scipy CSR rows of the candidates (rec.term_features)
    shared: dict = field(default_factory=dict)  # rec.Features.shared: model rows per scale
    decisions: dict = field(default_factory=dict)  # reader key -> the model's scores here


class Recommender:
    """Per-reader recommendations over one store and one set of vectors."""

    def __init__(
        self,
        engine: Engine,
        load_vectors: Callable[[Sequence[str]], dict[str, np.ndarray]],
        embed_text: Callable[[str], np.ndarray] | None = None,
        params: rec.Params | None = None,
    ) -> None:
        self.engine = engine
        self.cache = VectorCache(load_vectors)
        self.embed_text = embed_text
        self.params = params or rec.Params()
        self._topic_vectors: dict[str, np.ndarray] = {}
        self._authors: dict[str, Sequence[str]] = {}
        self.terms = TermCache(self.texts, self._author_keys)
        self._windows: dict[tuple, tuple[float, _Window]] = {}
        self._models: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_search(cls, engine: Engine, search) -> Recommender:
        """A recommender reading vectors through the search service (SearchService)."""
        return cls(engine, search.vectors, search.embed_query)

    def _topics(self, topics: Sequence[str]) -> tuple[list[str], list[np.ndarray]]:
        ids, vecs = [], []
        if self.embed_text is None:
            return ids, vecs
        for topic in topics:
            if topic not in self._topic_vectors:
                self._topic_vectors[topic] = rec.normalise_rows(self.embed_text(topic))[0]
            ids.append(TOPIC + topic)
            vecs.append(self._topic_vectors[topic])
        return ids, vecs

    def _categories(
        self, categories: Sequence[str], cand_ids: list[str], cand: np.ndarray
    ) -> tuple[list[str], list[np.ndarray]]:
        ids, vecs = [], []
        if not categories or not len(cand_ids):
            return ids, vecs
        row = {pid: i for i, pid in enumerate(cand_ids)}
        for category in categories:
            inside = store.papers_in_categories(self.engine, cand_ids, [category])
            if inside:
                ids.append(CATEGORY + category)
                vecs.append(cand[[row[p] for p in inside]].mean(axis=0))
        return ids, vecs

    def for_reader(
        self,
        user_id: int,
        window: str = "week",
        tag: str | None = None,
        limit: int = 20,
        today: date | None = None,
        with_reasons: bool = True,
    ) -> ForYou:
        """Ranked recommendations from the reader's window of recent papers."""
        return self.for_readers([user_id], window, tag, limit, today, with_reasons)[user_id]

    def for_readers(
        self,
        user_ids: Sequence[int],
        window: str = "week",
        tag: str | None = None,
        limit: int = 20,
        today: date | None = None,
        with_reasons: bool = True,
        candidates: Sequence[str] | None = None,
    ) -> dict[int, ForYou]:
        """Recommendations for many readers at once: the for-you page and API (one reader) and
        the digest (every reader of a run) all come through here.

        Candidates are the window's recent papers, or `candidates` when given (a digest's new
        papers; `window` then only labels the result). Libraries are read in one batch, the
        candidates' vectors, authors and texts once for all readers; readers are ranked on a
        few threads (the model fit and the matrix products release the GIL).
        """
        start = time.perf_counter()
        if window not in rec.WINDOWS:
            raise ValueError(f"window: must be one of {', '.join(rec.WINDOWS)}")
        libs = store.load_reader_libraries(self.engine, user_ids)
        if candidates is None:
            pool = self._window(window, today)
        else:
            pool = self._candidates(list(dict.fromkeys(candidates)))
        cand_ids = pool.ids
        texts = _Texts(self.texts) if with_reasons else None
        if len(libs) > 1:  # what the readers' rankings read: in a few queries, before the threads
            saved = list(dict.fromkeys(p for lib in libs.values() for p in lib.positives_for(tag)))
            rejected = {p for lib in libs.values() for p in lib.negatives}
            self.cache.get([*saved, *rejected])
            self._load_authors([*cand_ids, *saved])
            self.terms.get([*saved, *rejected])
            if texts is not None:  # reasons name terms shared with the closest saved papers
                texts([*cand_ids, *saved])

        def one(user_id: int) -> ForYou:
            return self._rank_reader(user_id, libs[user_id], window, tag, limit, pool, texts)

        readers = list(libs)
        workers = min(os.cpu_count() or 1, READER_THREADS, len(readers))
        if workers > 1:
            with ThreadPoolExecutor(workers, thread_name_prefix="for-you") as threads:
                found = dict(zip(readers, threads.map(one, readers), strict=True))
        else:
            found = {uid: one(uid) for uid in readers}
        if len(found) == 1:
            [only] = found.values()
            only.took_ms = (time.perf_counter() - start) * 1000
        return found

    def _rank_reader(
        self,
        user_id: int,
        lib: store.ReaderLibrary,
        window: str,
        tag: str | None,
        limit: int,
        pool: _Window,
        texts: Callable[[Sequence[str]], dict[str, str]] | None,
    ) -> ForYou:
        """One reader's recommendations among the given candidates."""
        start = time.perf_counter()
        cand_ids, cand, index = pool.ids, pool.vectors, pool.index
        out = ForYou(window=window, tag=tag, negatives=len(lib.negatives))
        out.candidates = len(cand_ids)
        pos_ids, pos = self.cache.get(lib.positives_for(tag))
        pos_ids, pos_list = list(pos_ids), list(pos)
        if not pos_ids and not tag:
            out.cold_start = True
            for ids, vecs in (
                self._topics(lib.onboarding.get("topics", [])),
                self._categories(lib.onboarding.get("categories", []), cand_ids, cand),
            ):
                pos_ids += ids
                pos_list += vecs
        out.positives = len(pos_ids)
        if not cand_ids:
            out.message = "No papers with vectors in this window yet."
        elif not pos_ids:
            out.message = (
                "Save papers to a collection, upvote them, import a library or pick topics "
                "to get recommendations."
            )
        else:
            neg_ids, neg = self.cache.get(lib.negatives)
            neg = neg if len(neg_ids) else np.zeros((0, cand.shape[1]), dtype=np.float32)
            pos = np.stack(pos_list)
            # Valid while the library and the window's papers are unchanged.
            followed = tuple(lib.followed_authors)
            key = (user_id, tag, hash((tuple(pos_ids), tuple(neg_ids), tuple(cand_ids), followed)))
            decision, features = None, self._features(pool, pos_ids, neg_ids)
            if rec.uses_model(len(pos), len(cand), self.params):
                own = rec.own_rows(cand_ids, pos_ids, index)
                weights = self._memo(
                    ("weights", *key),
                    lambda: rec.fit_model(cand, pos, neg, self.params, own, features),
                )
                decision = self._decision(pool, key, weights)
            authors = self._memo(
                ("authors", *key), lambda: self._author_scores(cand_ids, pos_ids, followed)
            )
            out.items = rec.recommend(
                cand_ids,
                cand,
                pos_ids,
                pos,
                neg,
                decision=decision,
                authors=authors,
                authors_of=lambda ids: {p: self._authors.get(p, ()) for p in ids},
                candidate_index=index,
                features=features,
                texts=texts,
                limit=limit,
                hide=set(lib.positives) | set(lib.negatives),
                params=self.params,
            )
        out.took_ms = (time.perf_counter() - start) * 1000
        return out

    def _window(self, window: str, today: date | None) -> _Window:
        """The window's candidates (`_candidates`), reused for WINDOW_TTL_S."""
        key = (window, today)
        now = time.monotonic()
        found = self._windows.get(key)
        if found and now - found[0] < WINDOW_TTL_S:
            return found[1]
        value = self._candidates(store.recent_paper_ids(self.engine, rec.WINDOWS[window], today))
        self._windows[key] = (now, value)
        return value

    def _candidates(self, ids: Sequence[str]) -> _Window:
        """Candidates with a vector, with their TF-IDF rows in the candidates' own idf space."""
        have, vectors = self.cache.get(ids)
        pool = _Window(have, vectors, {pid: i for i, pid in enumerate(have)})
        if have and self.params.text_weight + self.params.name_weight > 0:
            self._load_authors(have)
            terms = self.terms.get(have)
            pool.space = rec.term_space(terms, self.params)
            pool.features = rec.term_features(terms, pool.space, self.params)
        return pool

    def _features(
        self, pool: _Window, pos_ids: Sequence[str], neg_ids: Sequence[str]
    ) -> rec.Features | None:
        """The sparse rows the linear model sees for this reader (None: embedding only)."""
        if pool.space is None:
            return None
        pos = rec.term_features(self.terms.get(pos_ids), pool.space, self.params)
        neg = rec.term_features(self.terms.get(neg_ids), pool.space, self.params)
        return rec.Features(pool.features, pos, neg, pool.shared)

    def _decision(self, pool: _Window, key: tuple, model: Any) -> np.ndarray:
        """The reader's model scores on this window, kept with the window (each request of the
        reader reads them), for the DECISIONS_KEPT readers seen last: a month's window holds
        30k scores a reader, and a digest run ranks thousands of readers once each."""
        with self._lock:
            found = pool.decisions.get(key)
        if found is not None:
            return found
        decision = model.decision(pool.vectors, pool.features)
        with self._lock:
            pool.decisions[key] = decision
            while len(pool.decisions) > DECISIONS_KEPT:
                pool.decisions.pop(next(iter(pool.decisions)))
        return decision

    def _memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """A per-reader result kept for up to an hour (the regression, the author scores)."""
        now = time.monotonic()
        with self._lock:
            found = self._models.get(key)
            if found and now - found[0] < MODEL_TTL_S:
                self._models.move_to_end(key)
                return found[1]
        value = compute()
        with self._lock:
            self._models[key] = (now, value)
            while len(self._models) > 1024:
                self._models.popitem(last=False)
        return value

    def _author_scores(
        self, cand_ids: list[str], pos_ids: list[str], followed: Sequence[str] = ()
    ) -> np.ndarray | None:
        """ "By authors you saved" or follow, from author names kept in memory like the vectors
        (each followed author counts like one saved paper of theirs)."""
        if not self.params.author_weight:
            return None
        self._load_authors([*cand_ids, *pos_ids])
        return rec.author_scores(
            [self._authors.get(p, ()) for p in cand_ids],
            [*(self._authors.get(p, ()) for p in pos_ids), *([k] for k in followed)],
            normalised=True,
        )

    def _author_keys(self, ids: Sequence[str]) -> dict[str, Sequence[str]]:
        """Author keys of papers (none for a topic or category pseudo-positive)."""
        self._load_authors([p for p in ids if not p.startswith((TOPIC, CATEGORY))])
        return {p: self._authors.get(p, ()) for p in ids}

    def _load_authors(self, ids: Sequence[str]) -> None:
        """Make the author keys of these papers known (kept in memory like the vectors)."""
        missing = [p for p in dict.fromkeys(ids) if p not in self._authors]
        if missing:
            if len(self._authors) > 200_000:
                self._authors.clear()
            self._authors.update(store.paper_author_keys(self.engine, missing))

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        """Title + abstract of papers; a topic or category pseudo-positive is its own text."""
        out = {p: p.split(":", 1)[1] for p in ids if p.startswith((TOPIC, CATEGORY))}
        found = store.paper_texts(self.engine, [p for p in ids if p not in out])
        out.update({pid: f"{t}. {a}" for pid, (t, a) in found.items()})
        return out


class _Texts:
    """Paper texts read once per batch of readers (thread-safe: a race reads a text twice)."""

    def __init__(self, read: Callable[[Sequence[str]], dict[str, str]]) -> None:
        self.read = read
        self.known: dict[str, str] = {}

    def __call__(self, ids: Sequence[str]) -> dict[str, str]:
        missing = [p for p in ids if p not in self.known]
        if missing:
            self.known.update(self.read(missing))
        return {p: self.known[p] for p in ids if p in self.known}


def recommendation_json(item: rec.Recommendation) -> dict:
    """The JSON form of one recommendation's score and reason."""
    return {
        "score": round(item.score, 4),
        "closest": [{"id": pid, "similarity": sim} for pid, sim in item.reason.closest],
        "shared_terms": item.reason.terms,
        "shared_authors": item.reason.authors,
    }
