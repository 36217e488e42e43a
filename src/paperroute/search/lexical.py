"""Lexical search: a tantivy (BM25) index persisted in data_dir/index/lexical, one per node.

Queries are built as tantivy query objects from parsed tokens, never by string concatenation into
tantivy's query parser, so no user input can break the query syntax. Field weights: title >
authors > abstract. Words missing from the index (likely misspellings) are matched fuzzily.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import tantivy

from paperroute.search.query import ParsedQuery
from paperroute.store.sidecar import read_json, write_json

# 3: the `venues` field (venue and ISSN, for `venue:` / `journal:`); 4: `citations` (for
# `citations:>N`, which alone lists the most cited matches)
SCHEMA_VERSION = 4
FIELD_BOOSTS = {"title": 3.0, "authors": 2.0, "abstract": 1.0}
PHRASE_BOOST = 2.0
# Fuzzy matches score a constant (no BM25), so the boost stands in for a rare word's weight.
FUZZY_BOOST = 6.0
MIN_FUZZY_LEN = 4
WRITER_WAIT_S = 60.0
DOC_IDS_KEPT = 500_000  # document address -> paper id entries kept per snapshot (~60 MB at most)


def _stem_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _name_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


STEM = _stem_analyzer()
NAME = _name_analyzer()


@lru_cache(maxsize=65536)
def stem_tokens(text: str) -> tuple[str, ...]:
    """Index terms of a text field value (the analyzer the index uses for title/abstract)."""
    return tuple(STEM.analyze(text))


def name_tokens(text: str) -> tuple[str, ...]:
    """Index terms of an author name."""
    return tuple(NAME.analyze(text))


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, tokenizer_name="raw")
    b.add_text_field("title", tokenizer_name="paper_stem")
    b.add_text_field("authors", tokenizer_name="paper_name")
    b.add_text_field("abstract", tokenizer_name="paper_stem")
    b.add_text_field("cats", tokenizer_name="raw")
    b.add_text_field("venues", tokenizer_name="raw")
    b.add_integer_field("announced", indexed=True, fast=True)
    b.add_integer_field("has_code", indexed=True, fast=True)
    b.add_integer_field("upvotes", indexed=True, fast=True)
    b.add_integer_field("citations", indexed=True, fast=True)
    return b.build()


@dataclass
class IndexDoc:
    """What the lexical index holds for one paper."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    announced: date | None
    has_code: bool
    upvotes: int
    venues: Sequence[str] = ()  # the venue (or journal title) and the ISSN
    citations: int | None = None  # None: not counted (matches no citation floor)


def _day(value: date | None) -> int:
    return value.year * 10000 + value.month * 100 + value.day if value else 0


class LexicalIndex:
    """A tantivy index of papers, opened (or created) in a directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.schema = _schema()
        self._meta = self.path / "paperroute.json"
        self.index = self._open()
        self._writer: tantivy.IndexWriter | None = None
        # A snapshot of the index and the paper id of each of its document addresses (reading
        # a stored document costs ~10 us, and a digest run ranks thousands of phrases over the
        # same window), replaced together so a reload never mixes two snapshots' addresses.
        self._snapshot: tuple[tantivy.Searcher, dict[tuple[int, int], str]] | None = None
        # Document frequencies of the current snapshot: each costs ~0.1-0.5 ms in tantivy, and
        # every query word asks for 2-3 of them (fuzzy fallback, "did you mean").
        self._doc_freqs: dict[tuple[str, str], int] = {}
        # The must-clause of a first-seen window's ids, built once per window (a term set of
        # every id of the window costs ~0.5 ms to build).
        self._within: dict[frozenset[str], tantivy.Query] = {}

    def _open(self) -> tantivy.Index:
        self.path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        index.register_tokenizer("paper_stem", STEM)
        index.register_tokenizer("paper_name", NAME)
        return index

    @classmethod
    def open_checked(cls, path: Path) -> tuple[LexicalIndex, str | None]:
        """Open the index; a missing, old or unreadable one is recreated empty, with a message."""
        path = Path(path)
        problem = None
        meta = path / "paperroute.json"
        if not meta.exists():
            problem = "missing" if not path.exists() else "incomplete"
        else:
            try:
                if json.loads(meta.read_text()).get("schema") != SCHEMA_VERSION:
                    problem = "built by another version"
                else:
                    idx = cls(path)
                    idx.index.searcher().num_docs  # noqa: B018 - reads every segment's meta
                    return idx, None
            except Exception as exc:  # tantivy raises ValueError/OSError subclasses for corruption
                problem = f"unreadable ({exc})"
        shutil.rmtree(path, ignore_errors=True)
        idx = cls(path)
        idx.index.writer().commit()
        idx.write_meta({})
        return idx, f"lexical index {problem}: rebuilding from the database"

    def read_meta(self) -> dict:
        """Bookkeeping saved beside the index (schema version, sync watermark)."""
        return read_json(self._meta)

    def write_meta(self, values: dict) -> None:
        """Save bookkeeping (merged with what is there)."""
        write_json(self._meta, self.read_meta() | values | {"schema": SCHEMA_VERSION})

    @property
    def writer(self) -> tantivy.IndexWriter:
        """The (single) index writer, created on first write.

        Another process (web vs worker) may hold tantivy's writer lock for a moment: wait for it.
        """
        deadline = time.monotonic() + WRITER_WAIT_S
        while self._writer is None:
            try:
                self._writer = self.index.writer(heap_size=200_000_000, num_threads=1)
            except ValueError as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return self._writer

    def add(self, docs: Iterable[IndexDoc], replace: bool = True) -> int:
        """Add (or replace) documents; call commit() to make them visible."""
        n = 0
        for d in docs:
            if replace:
                self.writer.delete_documents_by_term("id", d.id)
            doc = tantivy.Document()
            doc.add_text("id", d.id)
            doc.add_text("title", d.title)
            doc.add_text("authors", "\n".join(d.authors))
            doc.add_text("abstract", d.abstract)
            for cat in d.categories:
                doc.add_text("cats", cat.lower())
            for venue in d.venues:
                doc.add_text("venues", venue.lower())
            doc.add_integer("announced", _day(d.announced))
            doc.add_integer("has_code", int(d.has_code))
            doc.add_integer("upvotes", int(d.upvotes))
            if d.citations is not None:
                doc.add_integer("citations", int(d.citations))
            self.writer.add_document(doc)
            n += 1
        return n

    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents by paper id."""
        for pid in ids:
            self.writer.delete_documents_by_term("id", pid)

    def clear(self) -> None:
        """Remove every document."""
        self.writer.delete_all_documents()

    def commit(self) -> None:
        """Make writes durable and visible."""
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None
        self.reload()

    def reload(self) -> None:
        """See the latest commit (of this or another process)."""
        self.index.reload()
        self._snapshot = None
        self._doc_freqs = {}

    @property
    def searcher(self) -> tantivy.Searcher:
        """A snapshot of the index, kept until the next reload: getting one costs ~0.3 ms, and
        a query asks for document frequencies several times."""
        return self._current()[0]

    def _current(self) -> tuple[tantivy.Searcher, dict[tuple[int, int], str]]:
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = (self.index.searcher(), {})
        return snapshot

    def num_docs(self) -> int:
        """Documents in the index."""
        return self.searcher.num_docs

    def search(
        self,
        query: tantivy.Query,
        limit: int,
        count: bool = False,
        newest: bool = False,
        most_cited: bool = False,
    ) -> tuple[list[tuple[str, float]], int]:
        """(paper id, BM25 score) best first, and the number of matching documents (0 unless
        `count`: counting visits every match of an OR query, while top-k alone can skip most;
        measured at 1M: 18 ms of a 45 ms query).

        `newest`: the most recently announced matches instead, each scored 1.0 (a query of
        filters alone, where every match scores the same and the top k would be arbitrary);
        `most_cited`: likewise the most cited matches (a citation floor alone).
        """
        searcher, ids = self._current()
        listing = newest or most_cited
        if listing:
            field = "citations" if most_cited else "announced"
            result = searcher.search(query, limit=max(1, limit), count=count, order_by_field=field)
        else:
            result = searcher.search(query, limit=max(1, limit), count=count)
        if len(ids) > DOC_IDS_KEPT:
            ids.clear()
        hits = []
        for score, addr in result.hits:
            key = (addr.segment_ord, addr.doc)
            pid = ids.get(key)
            if pid is None:
                pid = ids[key] = searcher.doc(addr)["id"][0]
            hits.append((pid, 1.0 if listing else float(score)))
        return hits, int(result.count or 0)

    def doc_freq(self, field: str, term: str) -> int:
        """How many documents hold a term."""
        key = (field, term)
        freq = self._doc_freqs.get(key)
        if freq is None:
            freq = self.searcher.doc_freq(field, term)
            if len(self._doc_freqs) >= 100_000:
                self._doc_freqs.clear()
            self._doc_freqs[key] = freq
        return freq

    # --- query building -------------------------------------------------------------------

    def _term(self, field: str, token: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, field, token, index_option="freq")

    def _fielded_word(self, word: str) -> list[tantivy.Query]:
        """One query word against every text field, with field boosts and fuzzy fallback."""
        out = []
        for tok in stem_tokens(word):
            alts = [
                tantivy.Query.boost_query(self._term("title", tok), FIELD_BOOSTS["title"]),
                tantivy.Query.boost_query(self._term("abstract", tok), FIELD_BOOSTS["abstract"]),
            ]
            out.extend(alts)
            if len(tok) >= MIN_FUZZY_LEN and not self._known(tok):
                # Titles only: known-item searches misspell titles, and a fuzzy walk of the
                # much larger abstract dictionary cost tens of ms at 1M papers.
                out.append(self._fuzzy("title", tok))
        for tok in name_tokens(word):
            out.append(
                tantivy.Query.boost_query(self._term("authors", tok), FIELD_BOOSTS["authors"])
            )
        return out

    def _known(self, tok: str) -> bool:
        return self.doc_freq("title", tok) > 0 or self.doc_freq("abstract", tok) > 0

    def _fuzzy(self, field: str, tok: str, weight: float = 1.0) -> tantivy.Query:
        distance = 1 if len(tok) < 9 else 2
        q = tantivy.Query.fuzzy_term_query(self.schema, field, tok, distance=distance)
        return tantivy.Query.boost_query(q, FUZZY_BOOST * weight)

    def _phrase(self, field: str, tokens: Sequence[str]) -> tantivy.Query:
        if len(tokens) == 1:
            return tantivy.Query.term_query(self.schema, field, tokens[0])
        return tantivy.Query.phrase_query(self.schema, field, list(tokens))

    def _phrase_any_field(self, text: str) -> tantivy.Query | None:
        toks = stem_tokens(text)
        if not toks:
            return None
        alts = [
            tantivy.Query.boost_query(self._phrase("title", toks), FIELD_BOOSTS["title"]),
            tantivy.Query.boost_query(self._phrase("abstract", toks), FIELD_BOOSTS["abstract"]),
        ]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in alts])

    def _author(self, name: str) -> tantivy.Query | None:
        toks = list(name_tokens(name))
        if not toks:
            return None
        if len(toks) == 1:
            return self._term("authors", toks[0])
        # The name's parts next to each other, in either order ("Hinton Geoffrey").
        orders = [toks, toks[::-1]]
        phrases = [tantivy.Query.phrase_query(self.schema, "authors", o) for o in orders]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in phrases])

    def filter_clauses(self, filters) -> list[tuple]:
        """Must-clauses for SearchFilters fields the index knows."""
        clauses = []
        if filters is None:
            return clauses
        if filters.date_from or filters.date_to:
            lo = _day(filters.date_from) if filters.date_from else None
            hi = _day(filters.date_to) if filters.date_to else None
            clauses.append(self._range("announced", lo, hi))
        if filters.categories:
            cats = [c.lower() for c in filters.categories]
            clauses.append(tantivy.Query.term_set_query(self.schema, "cats", cats))
        if getattr(filters, "venues", ()):
            venues = [v.lower() for v in filters.venues]
            clauses.append(tantivy.Query.term_set_query(self.schema, "venues", venues))
        if filters.has_code:
            clauses.append(self._range("has_code", 1, None))
        if filters.min_upvotes:
            clauses.append(self._range("upvotes", int(filters.min_upvotes), None))
        if filters.min_citations:
            clauses.append(self._range("citations", int(filters.min_citations), None))
        # Filters decide what may match and add nothing to the score: a paper's BM25 is the
        # same with or without them (fusion divides by the best BM25 of the query).
        clauses = [self._unscored(c) for c in clauses]
        within = getattr(filters, "within", None)
        if within is not None:  # a first-seen window's papers
            clause = self._within.get(within)
            if clause is None:
                if len(self._within) >= 8:
                    self._within.clear()
                ids = tantivy.Query.term_set_query(self.schema, "id", sorted(within))
                clause = self._within[within] = self._unscored(ids)
            clauses.append(clause)
        return [(tantivy.Occur.Must, c) for c in clauses]

    @staticmethod
    def _unscored(query: tantivy.Query) -> tantivy.Query:
        return tantivy.Query.const_score_query(query, 0.0)

    def _range(self, field: str, lo: int | None, hi: int | None) -> tantivy.Query:
        return tantivy.Query.range_query(
            self.schema, field, tantivy.FieldType.Integer, lower_bound=lo, upper_bound=hi
        )

    def build_query(self, parsed: ParsedQuery, filters=None) -> tantivy.Query | None:
        """The tantivy query for a parsed user query, or None when nothing can match lexically."""
        Occur = tantivy.Occur
        # One flat disjunction of boosted term queries: tantivy can then skip blocks of
        # documents that cannot reach the top k (nested booleans defeat that).
        clauses = [(Occur.Should, q) for w in parsed.content_words for q in self._fielded_word(w)]
        for phrase in parsed.phrases:
            q = self._phrase_any_field(phrase)
            if q is not None:
                clauses.append((Occur.Must, tantivy.Query.boost_query(q, PHRASE_BOOST)))
        for name in parsed.authors:
            q = self._author(name)
            if q is not None:
                clauses.append((Occur.Must, q))
        for word in parsed.excluded:
            for q in self._fielded_word(word):
                clauses.append((Occur.MustNot, q))
        filtering = self.filter_clauses(filters)
        if not any(occ in (Occur.Should, Occur.Must) for occ, _ in clauses) and (
            not parsed.filters_only or not filtering
        ):
            # Words that match nothing lexically leave the query to the vector side; filter
            # syntax alone (`cat:cs.CL`, `venue:ACL`, or filters with an empty query) matches
            # every paper that passes the filters.
            return None
        words = [(Occur.Should, q) for occ, q in clauses if occ == Occur.Should]
        if filtering and words and not any(occ == Occur.Must for occ, _ in clauses):
            # Beside a must-clause, should-clauses are optional: a filter alone would make
            # every paper passing it a match. The words stay required (any one of them).
            rest = [kv for kv in clauses if kv[0] != Occur.Should]
            clauses = [(Occur.Must, tantivy.Query.boolean_query(words)), *rest]
        return tantivy.Query.boolean_query(clauses + filtering)

    def scores_of(self, query: tantivy.Query, ids: Sequence[str]) -> list[tuple[str, float]]:
        """(paper id, BM25) of those of these papers that match the query, best first: the
        exact lexical score of candidates found by the vector side past the lexical depth."""
        if not ids:
            return []
        among = self._unscored(tantivy.Query.term_set_query(self.schema, "id", list(ids)))
        both = [(tantivy.Occur.Must, query), (tantivy.Occur.Must, among)]
        return self.search(tantivy.Query.boolean_query(both), len(ids))[0]

    def names_a_person(self, word: str) -> bool:
        """True when more author names than titles and abstracts hold the word (a surname
        among topic words, as in "Zhu hybrid linear attention")."""
        in_names = max((self.doc_freq("authors", t) for t in name_tokens(word)), default=0)
        if not in_names:
            return False
        toks = stem_tokens(word)
        return in_names > max(
            (self.doc_freq("title", t) + self.doc_freq("abstract", t) for t in toks), default=0
        )

    def author_ids(self, name: str, filters, limit: int) -> list[str]:
        """Papers with an author holding every part of `name` side by side (either order)."""
        query = self._author(name)
        if query is None:
            return []
        if not all(self.doc_freq("authors", tok) for tok in name_tokens(name)):
            return []  # a part no author name holds: nothing to search (most topic phrases)
        clauses = [(tantivy.Occur.Must, query), *self.filter_clauses(filters)]
        hits, _ = self.search(tantivy.Query.boolean_query(clauses), limit)
        return [pid for pid, _ in hits]

    def unknown_word(self, word: str) -> bool:
        """True when no title, abstract or author name holds the word (a likely misspelling)."""
        toks = stem_tokens(word)
        if not toks or any(self._known(t) for t in toks):
            return False
        return not any(self.doc_freq("authors", t) for t in name_tokens(word))

    def fuzzy_title_ids(self, word: str, limit: int) -> list[str]:
        """Papers whose title holds a word within edit distance 2 of `word`."""
        queries = [
            tantivy.Query.fuzzy_term_query(self.schema, "title", tok, distance=2)
            for tok in stem_tokens(word)
            if len(tok) >= MIN_FUZZY_LEN
        ]
        if not queries:
            return []
        query = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])
        return [pid for pid, _ in self.search(query, limit)[0]]
