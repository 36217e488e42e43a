"""The search API used by the web, the JSON API, digests and the CLI alike.

`SearchService(settings, engine)` answers hybrid searches (tantivy BM25 + usearch HNSW, fused
by query kind), similar-paper and more-like-these queries, computes embeddings incrementally and
keeps this node's indexes in step with the database. Bad queries get results or a `message`,
never an exception.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import numpy as np
from cachetools import TTLCache
from sqlalchemy import Engine

from paperroute.config import Settings
from paperroute.models import canonical_id, is_arxiv_id
from paperroute.search.embedder import Embedder, paper_text
from paperroute.search.fusion import fuse
from paperroute.search.highlight import author_matches, matched_words, query_terms, snippet_window
from paperroute.search.indexes import SearchIndexes
from paperroute.search.lexical import stem_tokens
from paperroute.search.phrases import PhraseVectors
from paperroute.search.query import STOP_WORDS, ParsedQuery, parse_query
from paperroute.search.spelling import closest_word
from paperroute.store import embeddings as emb_store
from paperroute.store.papers import INDEX_COLUMNS, as_date, first_seen_since, paper_rows

Sort = Literal["relevance", "date", "upvotes", "citations"]
_LIGHT_COLUMNS = (
    "id",
    "title",
    "announced",
    "code_url",
    "hf_upvotes",
    "upvotes",
    "hidden",
    "citation_count",
)
_WINDOW_COLUMNS = (*_LIGHT_COLUMNS, "categories", "authors", "venue", "issn")
# A query is ranked once over this many lexical candidates and VECTOR_DEPTH nearest neighbours
# (x5 with filters); every page is a slice of that ranking, so pages never overlap and every
# page shows the same total.
LEXICAL_DEPTH = 500
VECTOR_DEPTH = 200
MAX_LIMIT = 200
# An ingest this small is embedded as it is stored (papers_stored); larger ones wait for `embed`.
EMBED_AT_ONCE = 64
# The relevance floor: MiniLM cosine below which a candidate that matched no query word is
# dropped (also used for date/upvote sorting). Chosen on bench/queries/labelled.jsonl over the
# demo corpus: nonsense strings and bare names reach 0.22-0.30 against their nearest paper, the
# labelled paraphrases' targets 0.39 and up; recall@10 is the same at every floor 0.2-0.45.
FLOOR = 0.35
RANKINGS_KEPT = 256  # rankings cached per process (a few KB each)
RANKING_TTL_S = 60.0  # bounded staleness: changes made by other processes show within this
SUGGEST_DOCS = 20  # titles read to find a misspelt word's closest title word
TOPIC_LIMIT = 20  # papers kept per digest topic


@dataclass
class SearchFilters:
    """Restrictions on results: announcement date range, first-seen window, categories, code,
    upvotes."""

    date_from: date | None = None
    date_to: date | None = None
    categories: list[str] = field(default_factory=list)
    has_code: bool = False
    min_upvotes: int = 0
    min_citations: int = 0  # papers with fewer (or no known) citations are left out
    # `venue:ACL` / `journal:<ISSN or title>`: the paper's venue or journal is one of these
    venues: tuple[str, ...] = ()
    # First seen in [seen_from, seen_until) (a digest's window of new papers); the service
    # resolves it to `within`, the window's paper ids, once per ranking.
    seen_from: datetime | None = None
    seen_until: datetime | None = None
    within: frozenset[str] | None = None

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return bool(
            self.date_from
            or self.date_to
            or self.categories
            or self.has_code
            or self.min_upvotes
            or self.min_citations
            or self.venues
            or self.seen_from
            or self.seen_until
        )

    def allows(self, row: dict) -> bool:
        """Whether a hydrated papers row passes every filter."""
        if self.date_from or self.date_to:
            announced = as_date(row["announced"])
            if self.date_from and (announced is None or announced < self.date_from):
                return False
            if self.date_to and (announced is None or announced > self.date_to):
                return False
        if self.categories:
            wanted = {c.lower() for c in self.categories}
            if not wanted & {c.lower() for c in row["categories"] or []}:
                return False
        if self.has_code and not row["code_url"]:
            return False
        if self.within is not None and row["id"] not in self.within:
            return False
        if self.min_citations and (row.get("citation_count") or 0) < self.min_citations:
            return False
        if self.venues and not {v.lower() for v in self.venues} & {
            (row.get(c) or "").lower() for c in ("venue", "issn")
        }:
            return False
        return _upvotes(row) >= self.min_upvotes


@dataclass
class SearchHit:
    """One result: ids and scores plus what a result list shows (pages mark the matched words
    in the title and snippet they render: web/routes/search.py)."""

    id: str
    score: float
    title: str
    authors: list[str]
    categories: list[str]
    announced: date | None
    upvotes: int
    has_code: bool
    why: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["announced"] = self.announced.isoformat() if self.announced else None
        out["score"] = round(self.score, 6)
        return out


@dataclass
class SearchResults:
    """A page of results with the total, the kind of query and any message for the user."""

    query: str
    hits: list[SearchHit]
    total: int
    kind: str = ""
    message: str | None = None
    jump_to: str | None = None
    took_ms: float = 0.0
    author: str | None = None  # the words were this author's name: their papers come first
    suggestion: str | None = None  # "did you mean": the query with misspelt words corrected
    terms: list[str] = field(default_factory=list)  # index terms of the query, for highlighting

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "query": self.query,
            "total": self.total,
            "kind": self.kind,
            "message": self.message,
            "author": self.author,
            "suggestion": self.suggestion,
            "jump_to": self.jump_to,
            "took_ms": round(self.took_ms, 2),
            "hits": [h.to_dict() for h in self.hits],
        }


class Candidates(NamedTuple):
    """What a query's ranking starts from (SearchService.candidates)."""

    lexical: list[tuple[str, float]]
    vector: list[tuple[str, float]]
    total: int
    suggestion: str | None
    names: list[str]


@dataclass(frozen=True)
class Ranking:
    """A query's whole ranking (best first), computed once and paged by slicing."""

    order: list[tuple[str, float]]
    sims: dict[str, float]
    lex_ids: frozenset[str]
    author: str | None
    author_ids: frozenset[str]
    message: str | None
    suggestion: str | None


def _upvotes(row: dict) -> int:
    return int(row["hf_upvotes"] or 0) + int(row["upvotes"] or 0)


class SearchService:
    """Hybrid search, similar papers and embeddings over one store."""

    def __init__(
        self, settings: Settings, engine: Engine, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.embedder = embedder or Embedder(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            query_backend=settings.embedding_query_backend,
            cache_dir=settings.data_dir / "cache" / "onnx",
        )
        self.model = self.embedder.model_name
        self.indexes = SearchIndexes(
            engine,
            settings.data_dir / "index",
            self.model,
            lambda: self.embedder.dim,
            vector_backend=settings.vector_backend,
        )
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()
        self._rankings: TTLCache = TTLCache(RANKINGS_KEPT, RANKING_TTL_S)
        self._rankings_lock = threading.Lock()  # cachetools caches are not thread-safe
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.model).strip("-")
        self.phrases = PhraseVectors(
            settings.data_dir / "cache" / f"phrases-{slug}.npz", self.embedder.embed_query
        )
        self._windows: TTLCache = TTLCache(4, RANKING_TTL_S)  # window -> (ids, unit vectors)

    # --- index maintenance --------------------------------------------------------------------

    def open(self) -> list[str]:
        """Check, rebuild or catch up the indexes (call at start-up); messages say what happened."""
        return self.indexes.open()

    def reindex(self, progress: bool = False) -> dict[str, int]:
        """Rebuild both indexes from the database."""
        from tqdm import tqdm

        with tqdm(desc="lexical index", unit="paper", disable=not progress) as bar:
            n_lex = self.indexes.rebuild_lexical(bar.update)
        with tqdm(desc="vector index", unit="vector", disable=not progress) as bar:
            n_vec = self.indexes.rebuild_vectors(bar.update)
        return {"papers": n_lex, "vectors": n_vec}

    def index_papers(self, ids: Sequence[str]) -> int:
        """Bring both indexes up to date for these papers (call after an ingest)."""
        return self.indexes.index_papers(ids)

    def papers_stored(self, ids: Sequence[str]) -> int:
        """Make papers just written by an ingest searchable: keyword-index them, and embed them
        too when they are few (an admin's add, a member's submission, a library import's
        fetches), so they are found by meaning at once; big imports leave that to the embed job.
        Returns how many were indexed."""
        from paperroute.search.embedding import embed_pending

        indexed = self.index_papers(ids)
        if 0 < len(ids) <= EMBED_AT_ONCE:
            embed_pending(self, ids=ids)
        return indexed

    # --- vectors for other parts --------------------------------------------------------------

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored unit vectors of papers (papers without one are left out)."""
        return emb_store.load_vectors(self.engine, self.model, ids)

    def vector(self, paper_id: str) -> np.ndarray | None:
        """A paper's stored unit vector, or None."""
        return self.vectors([paper_id]).get(paper_id)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of a free-text query (cached for repeated queries)."""
        key = text.strip().lower()
        known = self.phrases.get(key)  # a digest topic: the vector it was matched with
        if known is not None:
            return known
        with self._query_lock:  # a query may embed its corrected text in a second thread
            if key in self._query_cache:
                self._query_cache.move_to_end(key)
                return self._query_cache[key]
        vec = self.embedder.embed_query(text)
        with self._query_lock:
            self._query_cache[key] = vec
            if len(self._query_cache) > 512:
                self._query_cache.popitem(last=False)
        return vec

    # --- similar papers -------------------------------------------------------------------------

    def similar(self, paper_id: str, k: int = 10) -> SearchResults:
        """Nearest papers to one paper, excluding itself (and so every version of it)."""
        return self.more_like([paper_id], k)

    def more_like(self, paper_ids: Sequence[str], k: int = 10) -> SearchResults:
        """Papers nearest to the centroid of a set of papers, excluding the set itself."""
        start = time.perf_counter()
        self.indexes.refresh()
        ids = [canonical_id(p) if is_arxiv_id(p) else p for p in paper_ids]
        label = ", ".join(ids)
        found = self.vectors(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            found.update(self._embed_stored_papers(missing))
        if not found:
            return SearchResults(label, [], 0, "similar", message=f"No paper found for {label}.")
        centroid = np.mean(np.stack(list(found.values())), axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        exclude = set(ids)
        k = max(1, min(int(k), MAX_LIMIT))
        near = self.indexes.vectors.search(centroid, k + len(exclude) + 20)
        near = [(pid, s) for pid, s in near if pid not in exclude]
        rows = self._hydrate([pid for pid, _ in near])
        hits = []
        for pid, sim in near:
            row = rows.get(pid)
            if row is None or row["hidden"]:
                continue
            hits.append(self._hit(row, sim, set(), [f"similar meaning (cosine {sim:.2f})"]))
            if len(hits) >= k:
                break
        took = (time.perf_counter() - start) * 1000
        return SearchResults(label, hits, len(hits), "similar", took_ms=took)

    def _embed_stored_papers(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self._hydrate(ids)
        texts = {pid: paper_text(r["title"], r["abstract"]) for pid, r in rows.items()}
        if not texts:
            return {}
        vecs = self.embedder.embed(list(texts.values()))
        return dict(zip(texts, vecs, strict=True))

    # --- search -------------------------------------------------------------------------------

    def search(
        self,
        query: str | bytes | None,
        *,
        filters: SearchFilters | None = None,
        sort: Sort = "relevance",
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResults:
        """Hybrid search; never raises for bad input (see `message`)."""
        start = time.perf_counter()
        self.indexes.refresh()
        parsed = parse_query(query)
        limit = max(1, min(int(limit or 20), MAX_LIMIT))
        offset = max(0, int(offset or 0))
        filters = _merge_filters(filters, parsed)
        if parsed.arxiv_id:
            results = self._jump(parsed)
        elif parsed.is_empty and not filters.active:
            results = SearchResults(parsed.raw, [], 0, parsed.kind, message=parsed.message)
        else:
            results = self._search(parsed, filters, sort, limit, offset)
        results.took_ms = (time.perf_counter() - start) * 1000
        return results

    def _jump(self, parsed: ParsedQuery) -> SearchResults:
        row = self._hydrate([parsed.arxiv_id]).get(parsed.arxiv_id)
        if row is None or row["hidden"]:
            msg = f"arXiv {parsed.arxiv_id} is not in this library yet."
            return SearchResults(parsed.raw, [], 0, "id", message=msg)
        hit = self._hit(row, 1.0, set(), ["arXiv id"])
        return SearchResults(parsed.raw, [hit], 1, "id", jump_to=parsed.arxiv_id)

    def candidates(
        self,
        parsed: ParsedQuery,
        filters: SearchFilters,
        depth: int = LEXICAL_DEPTH,
        while_waiting: Callable[[list[str]], None] | None = None,
    ) -> Candidates:
        """Lexical and vector candidate lists (best first), the lexical match count, the "did
        you mean" spelling and the query words that name an author.

        `while_waiting` gets the lexical candidates' ids while the vector side may still run
        (the caller loads their rows meanwhile).
        """
        lex_hits, total = [], 0
        want_vectors = bool(parsed.text) and len(self.indexes.vectors) > 0
        # Phrases, authors and exclusions restrict results to lexical matches, which are then
        # scored by exact cosine; other queries also take the nearest neighbours of the query.
        ann_depth = 0 if parsed.structured or parsed.excluded else VECTOR_DEPTH
        ann_depth *= 5 if filters.active else 1
        # The query embedding plus the vector search, and the lexical search, all release the
        # GIL: they run side by side on two cores.
        windowed = filters.within is not None and bool(filters.seen_from or filters.seen_until)
        window = self._window_vectors(filters)[1] if windowed else None
        # Surnames are noise to a sentence encoder: the vector side embeds (and searches with)
        # the query without the words that name an author (two cached document-frequency
        # lookups; the lexical side, with the author field, finds the papers they point to).
        names = self._author_words(parsed)
        ann_text = self._vector_texts(parsed, None, names)[0]
        # A window's papers are scored exactly (no ANN search): the query vector is all the
        # vector side needs, and a known phrase's is a lookup, not worth a thread hand-off.
        pending = (
            self._pool.submit(self._embed_and_search, ann_text, ann_depth)
            if want_vectors and window is None
            else None
        )
        lex_query = self.indexes.lexical.build_query(parsed, filters)
        if lex_query is not None:
            try:
                # Exact counts only where the match set is narrow (phrases, authors, filters).
                narrow = parsed.structured or not parsed.text
                lex_hits, total = self.indexes.lexical.search(
                    lex_query,
                    depth,
                    count=narrow,
                    newest=parsed.filters_only,
                    most_cited=parsed.lists_most_cited,
                )
            except ValueError:  # tantivy refuses a query: fall back to vector results only
                lex_hits, total = [], 0
        if while_waiting is not None:
            while_waiting([pid for pid, _ in lex_hits])
        # After the lexical search, whose document frequencies these lookups reuse.
        suggestion = self._suggestion(parsed) if parsed.text else None
        texts = self._vector_texts(parsed, suggestion, names)
        vec_hits: list[tuple[str, float]] = []
        fair: Future | None = None
        if want_vectors and window is not None:  # exact cosine over all of the window's papers
            qvecs = [self.embed_query(t) for t in texts]
            vec_hits = _window_hits(window, qvecs, [p for p, _ in lex_hits])
        elif pending is not None:
            # A sentence encoder reads typos as noise: with a "did you mean", every candidate
            # is scored by the better of the query as typed and as spelled (a correction can
            # be wrong). Embedded here, while the ANN search of the query as typed still runs.
            own = [self.embed_query(t) for t in texts if t != ann_text]
            qvec, vec_hits = pending.result()
            if lex_query is not None and len(lex_hits) >= depth:
                # The lexical list stopped at its depth: the ANN's candidates past it get their
                # exact BM25 too (as lexical candidates get their exact cosine), instead of
                # counting as matching no word; in another thread, beside the rescoring below.
                seen = {pid for pid, _ in lex_hits}
                missing = [pid for pid, _ in vec_hits if pid not in seen]
                fair = self._pool.submit(self.indexes.lexical.scores_of, lex_query, missing)
            rescore = [pid for pid, _ in lex_hits]
            qvecs = [qvec, *own]  # texts[0] is ann_text: the ANN's own vector
            if own:
                rescore = [pid for pid, _ in vec_hits] + rescore
                vec_hits = []
            # Exact cosine for candidates the ANN list did not score, so fusion compares every
            # candidate on both signals.
            seen = {pid for pid, _ in vec_hits}
            extra = self._rescore(qvecs, [p for p in dict.fromkeys(rescore) if p not in seen])
            vec_hits = sorted(vec_hits + extra, key=lambda kv: -kv[1])
        if fair is not None:
            lex_hits = lex_hits + fair.result()
        return Candidates(lex_hits, vec_hits, total, suggestion, names)

    def _author_words(self, parsed: ParsedQuery) -> list[str]:
        """Capitalised query words that more author names than texts hold (surnames)."""
        lexical = self.indexes.lexical
        return [
            w
            for w in dict.fromkeys(parsed.content_words)
            if w[:1].isupper() and not w.isupper() and lexical.names_a_person(w)
        ]

    @staticmethod
    def _vector_texts(
        parsed: ParsedQuery, suggestion: str | None, names: Sequence[str]
    ) -> list[str]:
        """What the vector side embeds: the query without the words that name an author, and
        also as "did you mean" spells it (each candidate keeps the better cosine)."""
        drop = {n.lower() for n in names}

        def text(q: ParsedQuery) -> str:
            words = [w for w in q.words if w.lower() not in drop]
            return " ".join(q.phrases + words).strip() or parsed.text

        typed = text(parsed)
        spelled = text(parse_query(suggestion)) if suggestion else typed
        return [typed] if spelled == typed else [typed, spelled]

    def _embed_and_search(self, text: str, depth: int) -> tuple[np.ndarray, list]:
        """The query vector and its `depth` nearest papers (none for depth 0)."""
        qvec = self.embed_query(text)
        return qvec, (self.indexes.vectors.search(qvec, depth) if depth else [])

    @property
    def _pool(self) -> ThreadPoolExecutor:
        """Threads for the vector side of a query (made on first use)."""
        if self._executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(2, thread_name_prefix="search-vectors")
        return self._executor

    def _rescore(self, qvecs: Sequence[np.ndarray], ids: list[str]) -> list[tuple[str, float]]:
        """Exact cosine of the query (the best of its vectors) against given papers."""
        stored = self.indexes.vectors.get(ids)
        if not stored:
            return []
        # One matrix product: a per-vector loop cost ~10 us a candidate.
        mat = np.stack(list(stored.values()))
        dots = mat @ qvecs[0] if len(qvecs) == 1 else (mat @ np.stack(qvecs).T).max(axis=1)
        sims = dots / np.maximum(np.linalg.norm(mat, axis=1), 1e-12)
        return sorted(zip(stored, sims.tolist(), strict=True), key=lambda kv: -kv[1])

    def _search(
        self, parsed: ParsedQuery, filters: SearchFilters, sort: Sort, limit: int, offset: int
    ) -> SearchResults:
        """One page: a slice of the query's ranking, so every page agrees on order and total."""
        ranking = self._ranking(parsed, filters, sort)
        page = ranking.order[offset : offset + limit]
        rows = self._hydrate([pid for pid, _ in page])
        terms = query_terms(parsed.content_words + parsed.phrases)
        if ranking.suggestion:  # misspelt words matched fuzzily: mark what they matched
            terms |= query_terms(parse_query(ranking.suggestion).content_words)
        hits = []
        for pid, score in page:
            row = rows.get(pid)
            if row is None:  # deleted since the ranking was made (it lives a minute at most)
                continue
            why = []
            if ranking.author_ids and pid in ranking.author_ids:
                why.append(f"author: {ranking.author}")
            elif parsed.authors:
                why += [f"author: {a}" for a in author_matches(_names(row), parsed.authors)]
            sim = ranking.sims.get(pid)
            if sim is not None and (pid not in ranking.lex_ids or sim > 0.3):
                why.append(f"similar meaning (cosine {sim:.2f})")
            hits.append(self._hit(row, score, terms, why))
        return SearchResults(
            parsed.raw,
            hits,
            len(ranking.order),
            parsed.kind,
            message=ranking.message,
            author=ranking.author,
            suggestion=ranking.suggestion,
            terms=sorted(terms),
        )

    def _ranking(self, parsed: ParsedQuery, filters: SearchFilters, sort: Sort) -> Ranking:
        """The query's whole ranking, from the cache while the indexes are unchanged."""
        key = (parsed.raw, repr(asdict(filters)), sort, self.indexes.version())
        with self._rankings_lock:
            ranking = self._rankings.get(key)
        if ranking is None:
            ranking = self._rank(parsed, filters, sort)
            with self._rankings_lock:
                self._rankings[key] = ranking
        return ranking

    def _rank(
        self,
        parsed: ParsedQuery,
        filters: SearchFilters,
        sort: Sort,
        source: _Rows | None = None,
        explain: bool = True,
        limit: int | None = None,
    ) -> Ranking:
        """Rank a fixed number of candidates once: fusion, relevance floor, author, sorting.

        `source` replaces the per-query row reads (a batch of queries over one window reads
        the window's rows once); without `explain` the message and the "did you mean"
        suggestion are left out (they change nothing in the order); with `limit` the order
        holds only its first `limit` papers (a digest topic's).
        """
        source = source or _Rows(self._hydrate)
        hydrate = source.read
        filters = self._resolve_window(filters)
        if parsed.filters_only and sort == "relevance":
            # Nothing to rank by: the filter's papers newest first, like a listing, or most
            # cited first for a citation floor
            sort = "citations" if parsed.lists_most_cited else "date"
        if parsed.min_citations is not None:  # `citations:>N` in the query
            filters = replace(
                filters, min_citations=max(filters.min_citations, parsed.min_citations)
            )
        name = _name_like(parsed)
        # Light columns for every candidate (JSON columns only when a filter or name needs
        # them); the full rows are loaded for the page shown only.
        columns = list(_LIGHT_COLUMNS)
        if filters.categories:
            columns.append("categories")
        if filters.venues:
            columns += ["venue", "issn"]
        if parsed.authors:
            columns.append("authors")
        rows: dict[str, dict] = {}
        # The lexical candidates' rows load while the vector search still runs (at 1M papers
        # with the shipped ef the ANN side is the longer one).
        lex_hits, vec_hits, lex_total, suggestion, names = self.candidates(
            parsed, filters, LEXICAL_DEPTH, lambda ids: rows.update(hydrate(ids, columns))
        )
        author, author_ids = (
            self._author_papers(name, filters, rows, columns, hydrate) if name else ("", [])
        )
        rows.update(hydrate([p for p, _ in vec_hits if p not in rows], columns))
        ok = source.passing(rows, filters)
        for wanted in parsed.authors:  # the index matched name parts; require one whole author
            ok = {pid for pid in ok if author_matches(_names(rows[pid]), [wanted])}
        sims = dict(vec_hits)
        if author_ids:
            # The words were a name: other papers sharing a part of it are no better matches
            # than any vector hit, so they must clear the same floor.
            lex_hits = [h for h in lex_hits if h[0] in author_ids or sims.get(h[0], 0) >= FLOOR]
        lex_hits = [h for h in lex_hits if h[0] in ok]
        lex_ids = {pid for pid, _ in lex_hits}
        vec_hits = [h for h in vec_hits if h[0] in ok and (h[0] in lex_ids or h[1] >= FLOOR)]
        # Only lexical matches can hold most query words in their title.
        overlap = _title_overlap(parsed, rows, lex_ids)
        # The author's papers move first and other sorts reorder everything: those need it all.
        top = limit if sort == "relevance" and not author_ids else None
        named = (
            set() if author_ids else self._by_authors(names, [*lex_ids, *(p for p, _ in vec_hits)])
        )
        fused = fuse(lex_hits, vec_hits, parsed.kind, overlap, limit=top, by_named_author=named)
        if author_ids:
            fused = _author_first(fused, [a for a in author_ids if a in ok])
        fused = _sorted(fused, sort, rows)
        return Ranking(
            order=fused,
            sims=dict(vec_hits),
            lex_ids=frozenset(lex_ids),
            author=author if author_ids else None,
            author_ids=frozenset(author_ids),
            message=_message(parsed, fused, lex_total) if explain else None,
            suggestion=None if author_ids or not explain else suggestion,
        )

    def match_topics(
        self,
        phrases: Sequence[str],
        since: datetime | None,
        until: datetime | None = None,
        limit: int = TOPIC_LIMIT,
    ) -> dict[str, list[str]]:
        """Each phrase's best papers first seen in [since, until), ranked exactly as `search`
        ranks the phrase with that window; one batched call for a whole digest run (new phrases
        are embedded once and kept on disk, the window's vectors are read once)."""
        phrases = list(dict.fromkeys(phrases))
        self.indexes.refresh()
        parsed = {p: parse_query(p) for p in phrases}
        self.phrases.ensure([q.text.strip().lower() for q in parsed.values() if q.text])
        window = self._resolve_window(SearchFilters(seen_from=since, seen_until=until))
        # Every candidate of a windowed ranking is a paper of the window (the lexical side is
        # restricted to it, the vector side scores exactly its papers): read their rows once.
        source = _WindowRows(self._hydrate, sorted(window.within or ()))
        out: dict[str, list[str]] = {}
        for phrase, query in parsed.items():
            if query.arxiv_id or query.is_empty:
                out[phrase] = []
                continue
            filters = _merge_filters(window, query)
            ranking = self._rank(query, filters, "relevance", source, False, limit)
            out[phrase] = [pid for pid, _ in ranking.order[:limit]]
        return out

    def _resolve_window(self, filters: SearchFilters) -> SearchFilters:
        """The filters with a first-seen window turned into its paper ids (`within`)."""
        if filters.within is not None or not (filters.seen_from or filters.seen_until):
            return filters
        ids, _ = self._window_vectors(filters)
        return replace(filters, within=frozenset(ids))

    def _window_vectors(self, filters: SearchFilters) -> tuple[list[str], _WindowVectors]:
        """Ids of the visible papers first seen in the window, and their unit vectors (rows of
        papers with a vector), read once per window while the indexes are unchanged."""
        key = (filters.seen_from, filters.seen_until, self.indexes.version())
        found = self._windows.get(key)
        if found is None:
            seen = first_seen_since(
                self.engine, filters.seen_from or datetime.min.replace(tzinfo=UTC)
            )
            until = filters.seen_until
            ids = [pid for pid, when in seen.items() if until is None or when < until]
            stored = self.indexes.vectors.get(ids)
            mat = np.stack(list(stored.values())) if stored else np.zeros((0, 1), np.float32)
            mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
            found = self._windows[key] = (ids, _WindowVectors(list(stored), mat))
        return found[0], found[1]

    def _author_papers(
        self,
        name: str,
        filters: SearchFilters,
        rows: dict[str, dict],
        columns: list,
        hydrate: Callable[[Sequence[str], Sequence[str]], dict[str, dict]],
    ) -> tuple[str, list[str]]:
        """When the words are an author's whole name: that name as written, and their papers."""
        found = self.indexes.lexical.author_ids(name, filters, LEXICAL_DEPTH)
        if not found:
            return "", []
        # Author lists are JSON (slow to load): read them for these papers only.
        theirs = hydrate(found, [*columns, "authors"])
        rows.update(theirs)
        shown, ids = "", []
        for pid in found:
            matched = author_matches(_names(theirs[pid]), [name]) if pid in theirs else []
            if matched:
                shown = shown or matched[0]
                ids.append(pid)
        return shown, ids

    def _by_authors(self, names: Sequence[str], ids: Sequence[str]) -> set[str]:
        """Those of these papers with an author holding one of the names."""
        if not names or not ids:
            return set()
        among = SearchFilters(within=frozenset(ids))
        lexical = self.indexes.lexical
        return {pid for name in names for pid in lexical.author_ids(name, among, len(among.within))}

    def _suggestion(self, parsed: ParsedQuery) -> str | None:
        """The query with each word that occurs in no paper replaced by the closest title word
        (found among titles that match it fuzzily), or None when no word needs it."""
        lexical = self.indexes.lexical
        text = parsed.raw
        changed = False
        for word in dict.fromkeys(parsed.content_words):
            if not lexical.unknown_word(word):
                continue
            ids = lexical.fuzzy_title_ids(word, SUGGEST_DOCS)
            titles = [r["title"] for r in self._hydrate(ids, ("id", "title")).values()]
            better = closest_word(word, titles)
            if better:
                text = re.sub(rf"(?<!\S){re.escape(word)}(?!\S)", better, text, count=1)
                changed = True
        return text if changed else None

    def _hydrate(
        self, ids: Sequence[str], columns: Sequence[str] = INDEX_COLUMNS
    ) -> dict[str, dict]:
        return paper_rows(self.engine, ids, columns)

    def _hit(self, row: dict, score: float, terms: set[str], why: list[str]) -> SearchHit:
        in_title = matched_words(row["title"], terms)
        start, end = snippet_window(row["abstract"] or "", terms)
        in_abstract = matched_words((row["abstract"] or "")[start:end], terms)
        matched = []
        if in_title:
            matched.append("title: " + ", ".join(dict.fromkeys(w.lower() for w in in_title)))
        if in_abstract:
            matched.append("abstract: " + ", ".join(dict.fromkeys(w.lower() for w in in_abstract)))
        return SearchHit(
            id=row["id"],
            score=float(score),
            title=row["title"],
            authors=_names(row),
            categories=list(row["categories"] or []),
            announced=as_date(row["announced"]),
            upvotes=_upvotes(row),
            has_code=bool(row["code_url"]),
            why=matched + why,
        )


class _Rows:
    """Where a ranking reads its candidates' rows: the store, per query."""

    def __init__(self, hydrate: Callable[[Sequence[str], Sequence[str]], dict[str, dict]]):
        self.hydrate = hydrate

    def read(self, ids: Sequence[str], columns: Sequence[str]) -> dict[str, dict]:
        """Rows of these papers (and maybe others) with (at least) these columns."""
        return self.hydrate(ids, columns)

    def passing(self, rows: dict[str, dict], filters: SearchFilters) -> set[str]:
        """Ids of the rows that are visible and pass the filters."""
        allows = filters.allows if filters.active else lambda row: True
        return {pid for pid, row in rows.items() if not row["hidden"] and allows(row)}


class _WindowRows(_Rows):
    """The rows of a first-seen window's papers, read once for a batch of queries over it
    (every candidate of a windowed ranking is one of them), and which of them pass each
    query's filters."""

    def __init__(
        self,
        hydrate: Callable[[Sequence[str], Sequence[str]], dict[str, dict]],
        ids: Sequence[str],
    ):
        super().__init__(hydrate)
        self.rows = hydrate(ids, _WINDOW_COLUMNS)
        self._passing: dict[str, set[str]] = {}

    def read(self, ids: Sequence[str], columns: Sequence[str]) -> dict[str, dict]:
        missing = [pid for pid in ids if pid not in self.rows]
        if missing:  # indexed after the window was read: read them as a search would
            self.rows.update(self.hydrate(missing, _WINDOW_COLUMNS))
            self._passing.clear()
        # Every row of the window, not a copy of the asked ones: a ranking reads its
        # candidates' rows by id, and copying ~500 of them for each query cost more than it.
        return self.rows

    def passing(self, rows: dict[str, dict], filters: SearchFilters) -> set[str]:
        key = repr(replace(filters, within=None))  # the window itself is this batch's
        every = self._passing.get(key)
        if every is None:
            every = self._passing[key] = super().passing(self.rows, filters)
        return rows.keys() & every


class _WindowVectors:
    """A first-seen window's papers that have a vector: their ids, unit vectors (one row each)
    and each id's row."""

    def __init__(self, ids: list[str], mat: np.ndarray) -> None:
        self.ids, self.mat = ids, mat
        self.row = {pid: i for i, pid in enumerate(ids)}


def _window_hits(
    window: _WindowVectors, qvecs: Sequence[np.ndarray], lexical: Iterable[str]
) -> list[tuple[str, float]]:
    """Cosine of the query to the window's papers, best first: those past the relevance floor
    and the lexical candidates (`_rank` drops every other one, so they are not even loaded)."""
    ids = window.ids
    if not ids:
        return []
    dots = window.mat @ qvecs[0] if len(qvecs) == 1 else (window.mat @ np.stack(qvecs).T).max(1)
    sims = dots.astype(np.float64)  # compared and ordered as the Python floats
    keep = sims >= FLOOR
    rows = window.row
    keep[[rows[pid] for pid in lexical if pid in rows]] = True
    picked = np.flatnonzero(keep)
    picked = picked[np.argsort(-sims[picked], kind="stable")]  # best first, ties in window order
    return list(zip([ids[i] for i in picked], sims[picked].tolist(), strict=True))


def _names(row: dict) -> list[str]:
    return [a["name"] if isinstance(a, dict) else str(a) for a in row["authors"] or []]


def _merge_filters(filters: SearchFilters | None, parsed: ParsedQuery) -> SearchFilters:
    # A shallow copy: a window's `within` set stays the same object (it keys per-window caches).
    merged = filters or SearchFilters()
    return replace(
        merged,
        categories=list(dict.fromkeys(merged.categories + parsed.categories)),
        venues=tuple(dict.fromkeys((*merged.venues, *parsed.venues))),
    )


def _title_overlap(
    parsed: ParsedQuery, rows: dict[str, dict], ids: Iterable[str]
) -> dict[str, float]:
    """Share of the query's distinct terms found in each candidate's title."""
    q = set(stem_tokens(parsed.text))
    if len(q) < 3:
        return {}
    return {pid: len(q & _title_terms(rows[pid]["title"])) / len(q) for pid in ids}


@lru_cache(maxsize=65536)
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(stem_tokens(title))


def _name_like(parsed: ParsedQuery) -> str:
    """The words, when they could be a person's name (2-4 plain words, no syntax), else ''."""
    if parsed.phrases or parsed.authors or parsed.excluded or not 2 <= len(parsed.words) <= 4:
        return ""
    if any(w.lower() in STOP_WORDS or not _NAME_PART.fullmatch(w) for w in parsed.words):
        return ""
    return " ".join(parsed.words)


_NAME_PART = re.compile(r"[^\W\d_]+(?:[-'.][^\W\d_]+)*\.?")


def _author_first(fused: list[tuple[str, float]], author_ids: list[str]) -> list[tuple[str, float]]:
    """The author's papers first (in fused order, then any the candidates missed), then the rest."""
    theirs = set(author_ids)
    first = [kv for kv in fused if kv[0] in theirs]
    missing = [(pid, 0.0) for pid in author_ids if pid not in {p for p, _ in first}]
    return first + missing + [kv for kv in fused if kv[0] not in theirs]


def _sorted(
    fused: list[tuple[str, float]], sort: Sort, rows: dict[str, dict]
) -> list[tuple[str, float]]:
    """Relevance order as is, or the same candidates (all past the floor) by date or upvotes."""
    if sort == "relevance":
        return fused
    if sort == "date":
        return sorted(
            fused,
            key=lambda kv: (as_date(rows[kv[0]]["announced"]) or date.min, kv[1]),
            reverse=True,
        )
    if sort == "citations":  # ties: the better match, then the newer paper
        return sorted(
            fused,
            key=lambda kv: (
                rows[kv[0]].get("citation_count") or 0,
                kv[1],
                as_date(rows[kv[0]]["announced"]) or date.min,
            ),
            reverse=True,
        )
    return sorted(fused, key=lambda kv: (_upvotes(rows[kv[0]]), kv[1]), reverse=True)


def _message(parsed: ParsedQuery, fused: list, lex_total: int) -> str | None:
    """What the user should know: the parser's note, no results, or a capped match count."""
    if parsed.message:
        return parsed.message
    if not fused:
        return "No papers match. Check the spelling, try fewer words or remove a filter."
    if lex_total > len(fused):
        if not parsed.filters_only:
            which = "best"
        else:
            which = "most cited" if parsed.lists_most_cited else "newest"
        return f"Showing the {which} {len(fused):,} of {lex_total:,} matching papers."
    return None
