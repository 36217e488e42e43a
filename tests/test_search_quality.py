"""Search quality on 300 real papers with the real bundled MiniLM model, on both backends."""

from __future__ import annotations

import pytest

# (query, the paper a reader is looking for): keyword, misspelled title, plain-language paraphrase.
KEYWORD = [
    ("model merging heterogeneous multimodal", "2503.23733"),
    ("MemOS", "2507.03724"),
    ("frame inbetweening", "2505.21205"),
]
MISSPELLED = [
    ("Agent Lightening: train any AI agents with reinforcment learning", "2508.03680"),
    ("Geometry Forcing marying video difusion and 3D representations", "2507.07982"),
    ("Progresive Residual Warmup for Languge Model Pretraining", "2603.05369"),
]
PARAPHRASE = [
    ("an operating system that manages what an AI assistant remembers", "2507.03724"),
    ("catching when benchmark test questions leaked into a model's training data", "2505.23001"),
    (
        "letting a reasoning model decide whether a question is worth thinking hard about",
        "2505.13417",
    ),
    ("making animated talking portrait videos much faster", "2512.16900"),
]

# A surname among topic words: a paper by that author on the topic comes first (the vector side
# cannot see author names, the lexical side alone over-rewards one frequent topic word).
AUTHOR_TOPIC = [
    ("Shi gaussian splatting", "2506.05327"),
    ("Park optimization efficiency", "2505.01658"),
    ("Chae reinforcing agents", "2505.15277"),
]
# Plain-language descriptions with typos: found by meaning all the same.
MISSPELLED_DESCRIPTION = [
    ("an operating sytem that manages what an AI asistant remembers", "2507.03724"),
    ("making animated talking portrait vidoes much fastr", "2512.16900"),
]


def _rank(results, paper_id: str) -> int | None:
    ids = [h.id for h in results.hits]
    return ids.index(paper_id) + 1 if paper_id in ids else None


@pytest.mark.parametrize(("query", "paper_id"), KEYWORD + MISSPELLED)
def test_keyword_and_misspelled_title_queries_put_the_paper_first(search, query, paper_id):
    assert _rank(search.search(query, limit=10), paper_id) == 1


@pytest.mark.parametrize(("query", "paper_id"), PARAPHRASE)
def test_plain_language_description_finds_the_paper_in_the_top_three(search, query, paper_id):
    rank = _rank(search.search(query, limit=10), paper_id)
    assert rank is not None and rank <= 3


@pytest.mark.parametrize(("query", "paper_id"), AUTHOR_TOPIC)
def test_a_surname_among_topic_words_puts_that_authors_paper_first(search, query, paper_id):
    assert _rank(search.search(query, limit=10), paper_id) == 1


@pytest.mark.parametrize(("query", "paper_id"), MISSPELLED_DESCRIPTION)
def test_misspelled_description_still_finds_the_paper_in_the_top_three(search, query, paper_id):
    rank = _rank(search.search(query, limit=10), paper_id)
    assert rank is not None and rank <= 3


def test_paraphrase_is_found_by_meaning_not_by_shared_words(search):
    results = search.search(PARAPHRASE[0][0], limit=3)
    top = results.hits[0]
    assert top.id == "2507.03724"
    assert any(w.startswith("similar meaning") for w in top.why)


def test_similar_papers_exclude_the_paper_itself_and_are_on_topic(search):
    results = search.similar("2505.16864", k=5)  # training-free efficient video generation
    ids = [h.id for h in results.hits]
    assert len(ids) == 5 and "2505.16864" not in ids
    assert sum("video" in h.title.lower() for h in results.hits) >= 3


def test_similar_accepts_a_versioned_id_or_url_and_still_excludes_the_paper(search):
    ids = [h.id for h in search.similar("https://arxiv.org/abs/2505.16864v2", k=5).hits]
    assert ids and "2505.16864" not in ids


def test_more_like_these_excludes_the_inputs_and_follows_their_topic(search):
    seeds = ["2507.03724", "2602.02660"]  # MemOS, an agent for automated research
    results = search.more_like(seeds, k=8)
    ids = [h.id for h in results.hits]
    assert len(ids) == 8 and not set(seeds) & set(ids)


def test_similar_for_unknown_paper_says_so(search):
    results = search.similar("2101.00001")
    assert results.hits == [] and "No paper found" in results.message
