"""Fusion of lexical and vector candidates: what a searcher notices at the top of the list."""

from __future__ import annotations

from paperroute.search.fusion import fuse


def _candidates():
    # 100 weak OR-matches of a long query, the wanted paper with the best BM25 and a middling
    # cosine, and one paper the vectors like best that shares few of the query's words.
    lexical = [("wanted", 30.0)] + [(f"p{i}", 10.0 - i * 0.05) for i in range(100)]
    vector = [("vector-best", 0.80), ("wanted", 0.50)] + [
        (f"p{i}", 0.30 + (i % 20) * 0.01) for i in range(100)
    ]
    return lexical, vector


def test_a_long_misremembered_title_puts_its_paper_first():
    lexical, vector = _candidates()
    overlap = {"wanted": 0.9}  # the title holds 90% of the query's terms
    ranked = fuse(lexical, vector, "natural", overlap)
    assert ranked[0][0] == "wanted"


def test_a_plain_language_description_follows_the_vectors():
    lexical, vector = _candidates()
    ranked = fuse(lexical, vector, "natural", {})
    assert ranked[0][0] == "vector-best"


def test_fusion_is_deterministic_for_equal_scores():
    lexical = [("b", 1.0), ("a", 1.0)]
    vector = [("a", 0.5), ("b", 0.5)]
    assert fuse(lexical, vector, "keyword") == fuse(list(reversed(lexical)), vector, "keyword")
