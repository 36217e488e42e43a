"""Recommendations judged on real papers with the real bundled MiniLM model.

36 real arXiv papers (15 cs.CV, 15 cs.CL, 6 cs.AI) from the search fixture are embedded once per
session with the bundled model; quality is judged on their arXiv categories. The store-backed
tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from paperroute.models import Author, PaperRecord
from paperroute.ranking.foryou import Recommender
from paperroute.ranking.recommend import normalise_rows, recommend, shared_terms
from paperroute.store import collections as coll
from paperroute.store import readers
from paperroute.store.papers import upsert_records
from paperroute.store.users import add_user

LISTING = Path(__file__).parent / "data/search/arxiv_listing.jsonl.gz"
TODAY = date(2026, 7, 1)


@pytest.fixture(scope="session")
def corpus() -> dict:
    """Papers (id -> row with primary category) and their real MiniLM vectors."""
    from paperroute.search.embedder import Embedder, paper_text

    with gzip.open(LISTING, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    picked = []
    for cat, n in (("cs.CV", 15), ("cs.CL", 15), ("cs.AI", 6)):
        picked += [r for r in rows if r["categories"][0] == cat][:n]
    embedder = Embedder()
    vecs = embedder.embed([paper_text(r["title"], r["summary"]) for r in picked])
    return {
        "rows": {r["id"]: r for r in picked},
        "vectors": dict(zip([r["id"] for r in picked], vecs, strict=True)),
        "embedder": embedder,
    }


def _ids(corpus, cat):
    return [pid for pid, r in corpus["rows"].items() if r["categories"][0] == cat]


def _rank(corpus, positives, negatives=(), hide=(), limit=10):
    cands = [p for p in corpus["rows"] if p not in positives]
    vec = corpus["vectors"]
    neg = np.stack([vec[p] for p in negatives]) if negatives else None
    return recommend(
        cands,
        np.stack([vec[p] for p in cands]),
        list(positives),
        np.stack([vec[p] for p in positives]),
        neg,
        limit=limit,
        hide=set(hide),
        texts=lambda ids: {
            p: f"{corpus['rows'][p]['title']}. {corpus['rows'][p]['summary']}" for p in ids
        },
    )


def _cat(corpus, pid):
    return corpus["rows"][pid]["categories"][0]


def test_a_reader_who_saves_vision_papers_gets_vision_papers(corpus):
    saved = _ids(corpus, "cs.CV")[:4]
    top = _rank(corpus, saved, limit=8)
    vision = [r for r in top if "cs.CV" in corpus["rows"][r.paper_id]["categories"]]
    assert len(vision) >= 7, [corpus["rows"][r.paper_id]["categories"] for r in top]


def test_a_reader_who_saves_language_papers_gets_language_papers(corpus):
    saved = _ids(corpus, "cs.CL")[:4]
    top = _rank(corpus, saved, limit=8)
    cats = [_cat(corpus, r.paper_id) for r in top]
    assert cats.count("cs.CL") >= 6, cats


def test_one_saved_paper_is_enough_for_recommendations(corpus):
    saved = _ids(corpus, "cs.CL")[:1]
    top = _rank(corpus, saved, limit=5)
    cats = [_cat(corpus, r.paper_id) for r in top]
    assert cats.count("cs.CL") >= 4, cats


def test_not_interested_removes_the_paper_and_pushes_similar_ones_down(corpus):
    saved = _ids(corpus, "cs.CV")[:4]
    before = [r.paper_id for r in _rank(corpus, saved, limit=30)]
    rejected = before[0]
    vec = corpus["vectors"]
    others = [p for p in before if p != rejected]
    twin = max(others, key=lambda p: float(vec[p] @ vec[rejected]))  # most like the rejected one
    after = [r.paper_id for r in _rank(corpus, saved, [rejected], hide=[rejected], limit=30)]
    assert rejected not in after
    assert after.index(twin) > before.index(twin) - 1  # lost its place relative to the rest
    assert after.index(twin) > others.index(twin)


def test_each_recommendation_names_the_saved_paper_it_is_closest_to(corpus):
    saved = _ids(corpus, "cs.CV")[:3] + _ids(corpus, "cs.CL")[:3]
    vec = corpus["vectors"]
    for rec in _rank(corpus, saved, limit=6):
        nearest = max(saved, key=lambda p: float(vec[p] @ vec[rec.paper_id]))
        assert rec.reason.closest[0][0] == nearest
        assert rec.reason.closest[0][1] >= rec.reason.closest[1][1]
    assert any(r.reason.terms for r in _rank(corpus, saved, limit=6))


def test_shared_terms_are_content_words_both_texts_use():
    terms = shared_terms(
        "Diffusion models for video generation with temporal attention",
        ["Temporal attention in video diffusion transformers"],
    )
    assert terms == ["diffusion", "video", "temporal", "attention"]


# --- the store-backed recommender (SQLite and PostgreSQL) -----------------------------------


def _store_papers(engine, corpus):
    records = []
    for pid, r in corpus["rows"].items():
        records.append(
            PaperRecord(
                source="arxiv-oai",
                id=pid,
                title=r["title"],
                abstract=r["summary"],
                authors=[Author(a) for a in r["authors"]],
                categories=r["categories"],
                primary_category=r["categories"][0],
                announced=TODAY,
                published=datetime(2026, 7, 1, tzinfo=UTC),
            )
        )
    upsert_records(engine, records)


@pytest.fixture
def recommender(engine, corpus):
    _store_papers(engine, corpus)
    vectors = corpus["vectors"]
    return Recommender(
        engine,
        lambda ids: {p: vectors[p] for p in ids if p in vectors},
        corpus["embedder"].embed_query,
    )


def test_for_you_uses_collections_and_tags_and_hides_saved_and_rejected(
    engine, corpus, recommender
):
    user = add_user(engine, "reader@example.org")
    vision = coll.create_collection(engine, user.id, "Vision")
    language = coll.create_collection(engine, user.id, "Language")
    for pid in _ids(corpus, "cs.CV")[:3]:
        coll.add_paper(engine, user.id, vision.id, pid)
    for pid in _ids(corpus, "cs.CL")[:3]:
        coll.add_paper(engine, user.id, language.id, pid)

    lang = recommender.for_reader(user.id, "week", tag="language", limit=5, today=TODAY)
    assert [_cat(corpus, r.paper_id) for r in lang.items].count("cs.CL") >= 4
    assert all(r.reason.closest[0][0] in _ids(corpus, "cs.CL")[:3] for r in lang.items)

    everything = recommender.for_reader(user.id, "week", limit=36, today=TODAY)
    shown = [r.paper_id for r in everything.items]
    assert not set(shown) & set(_ids(corpus, "cs.CV")[:3] + _ids(corpus, "cs.CL")[:3])
    readers.mark_not_interested(engine, user.id, shown[0])
    again = recommender.for_reader(user.id, "week", limit=36, today=TODAY)
    assert shown[0] not in [r.paper_id for r in again.items]
    assert again.negatives == 1


def test_cold_start_from_plain_word_topics(engine, corpus, recommender):
    user = add_user(engine, "new@example.org")
    empty = recommender.for_reader(user.id, "week", today=TODAY)
    assert empty.items == [] and "pick topics" in empty.message
    readers.set_onboarding(engine, user.id, {"topics": ["image segmentation and object detection"]})
    result = recommender.for_reader(user.id, "week", limit=5, today=TODAY)
    assert result.cold_start
    assert [_cat(corpus, r.paper_id) for r in result.items].count("cs.CV") >= 4
    assert result.items[0].reason.closest[0][0] == "topic:image segmentation and object detection"


def test_cold_start_from_categories(engine, corpus, recommender):
    user = add_user(engine, "new@example.org")
    readers.set_onboarding(engine, user.id, {"categories": ["cs.CL"]})
    result = recommender.for_reader(user.id, "week", limit=5, today=TODAY)
    assert [_cat(corpus, r.paper_id) for r in result.items].count("cs.CL") >= 4


def test_vectors_are_unit_length_after_normalising():
    rows = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(rows[0], [0.6, 0.8]) and np.allclose(rows[1], [0, 0])


def test_papers_by_authors_you_saved_score_higher_and_rare_names_count_more():
    from paperroute.ranking.recommend import author_scores

    saved = [["Ada Lovelace", "Wei Zhang"], ["ada  lovelace", "Grace Hopper"]]
    candidates = [
        ["Ada Lovelace"],  # wrote both saved papers
        ["Grace Hopper"],  # wrote one
        ["Wei Zhang"],  # wrote one, but the name is on many candidates
        ["Wei Zhang", "Someone Else"],
        ["Wei Zhang"],
        ["Nobody Known"],
    ]
    scores = author_scores(candidates, saved)
    assert scores[0] > scores[1] > scores[2] > scores[5] == 0
    assert author_scores(candidates, saved, ignore=["Ada Lovelace"])[0] == 0


def test_big_windows_rank_the_same_top_papers_with_the_nearest_neighbour_shortlist():
    """Synthetic clustered vectors (the model is irrelevant here: this checks an optimisation)."""
    from dataclasses import replace

    from paperroute.ranking.recommend import Params, score_candidates

    rng = np.random.default_rng(1)
    centres = normalise_rows(rng.normal(size=(40, 64)))
    cands = normalise_rows(centres[rng.integers(40, size=8000)] + rng.normal(0, 0.3, (8000, 64)))
    pos = normalise_rows(centres[[3, 3, 7, 7, 11]] + rng.normal(0, 0.3, (5, 64)))
    params = Params()
    fast = score_candidates(cands, pos, None, params)
    exact = score_candidates(cands, pos, None, replace(params, shortlist=len(cands)))
    top_fast, top_exact = list(np.argsort(-fast)[:20]), list(np.argsort(-exact)[:20])
    assert set(top_fast) == set(top_exact)  # same papers shown
    # In the same order, except near-ties (the z-score's mean and spread come from a sample).
    for i, a in enumerate(top_exact):
        for b in top_exact[i + 1 :]:
            assert fast[a] > fast[b] or exact[a] - exact[b] < 0.01


def test_words_and_names_of_saved_papers_lift_a_paper_the_embedding_alone_ranks_low(corpus):
    """The linear model reads TF-IDF of words and author names beside the embedding: a vision
    paper by the author of a reader's language papers climbs (no author signal involved)."""
    from dataclasses import replace

    from paperroute.ranking.recommend import (
        Features,
        Params,
        paper_terms,
        score_candidates,
        term_features,
        term_space,
    )

    rows, vec = corpus["rows"], corpus["vectors"]
    saved = _ids(corpus, "cs.CL")[:4]
    cands = [p for p in rows if p not in saved]
    target = _ids(corpus, "cs.CV")[0]
    names = {p: [a.lower() for a in rows[p]["authors"]] for p in rows}
    for p in [*saved, target]:
        names[p] = [*names[p], "ada lovelace"]
    params = replace(Params(), author_weight=0.0)
    cand, pos = np.stack([vec[p] for p in cands]), np.stack([vec[p] for p in saved])

    def rank_of_target(with_names: bool) -> int:
        texts = [f"{rows[p]['title']}. {rows[p]['summary']}" for p in cands]
        terms = paper_terms(texts, [names[p] if with_names else [] for p in cands])
        space = term_space(terms, params)
        saved_terms = paper_terms(
            [f"{rows[p]['title']}. {rows[p]['summary']}" for p in saved],
            [names[p] if with_names else [] for p in saved],
        )
        x = term_features(terms, space, params)
        features = Features(x, term_features(saved_terms, space, params), x[[]])
        scores = score_candidates(cand, pos, None, params, features=features)
        return int(np.argsort(np.argsort(-scores))[cands.index(target)])

    assert rank_of_target(with_names=True) < 3 <= rank_of_target(with_names=False)
