"""A digest topic is matched by the search service: the same words give the same papers, in the
same order, as a search restricted to the digest's window of new papers; on SQLite and PostgreSQL.

Uses the 300 real fixture papers with their real MiniLM vectors and the real model for the
phrases (meaning is what a topic match judges).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import update

from paperroute.digest.delivery import compose_for
from paperroute.digest.signals import gather_inputs
from paperroute.search.phrases import PhraseVectors
from paperroute.search.service import SearchFilters
from paperroute.store.schema import papers as papers_table
from paperroute.store.subscriptions import Preferences, confirm_subscription, subscribe
from search_support import fixture_records

TOPICS = ["retrieval augmented generation", "video diffusion models", "reinforcement learning"]


def open_window(engine, now: datetime) -> set[str]:
    """Every other fixture paper is first seen today, the rest a month ago: the window's papers."""
    ids = sorted({r.id for r in fixture_records()})
    new = set(ids[::2])
    with engine.begin() as conn:
        conn.execute(update(papers_table).values(first_seen=now - timedelta(days=30)))
        conn.execute(update(papers_table).where(papers_table.c.id.in_(new)).values(first_seen=now))
    return new


@pytest.mark.parametrize("topic", TOPICS)
def test_a_digest_topic_lists_what_search_ranks_for_it_within_the_window(
    engine, settings, search, topic
):
    now = datetime.now(UTC)
    window = open_window(engine, now)
    sub = subscribe(
        engine, "reader@example.org", Preferences(topics=[topic], sections={"topics": 5})
    )
    sub = confirm_subscription(engine, sub.id)
    since = now - timedelta(hours=23)

    [reader] = gather_inputs(engine, settings, [sub], {sub.id: since}, search, now)
    matched = reader.signals.topic_matches[topic]
    searched = search.search(
        topic,
        filters=SearchFilters(seen_from=since.replace(minute=0, second=0, microsecond=0)),
        limit=20,
    )
    assert matched == [h.id for h in searched.hits]
    assert matched and set(matched) <= window
    digest = compose_for(reader, "2026-06-02")
    [topics] = [s for s in digest.sections if s.key == "topics"]
    assert [i.paper.id for i in topics.items] == matched[:5]


def test_a_topic_phrase_is_embedded_once_and_kept_between_runs(tmp_path):
    # A counting stand-in for the model: what is tested is the cache, not the vectors' meaning.
    calls: list[str] = []

    def embed(text):
        calls.append(text)
        return np.full(4, len(calls), dtype=np.float32)

    path = tmp_path / "phrases.npz"
    first = PhraseVectors(path, embed)
    first.ensure(["graph networks", "speech", "graph networks"])
    assert calls == ["graph networks", "speech"]
    again = PhraseVectors(path, embed)  # a new run, same data dir
    again.ensure(["speech", "robots"])
    assert calls[2:] == ["robots"]
    assert np.array_equal(again.get("speech"), first.get("speech"))


def test_a_topic_no_new_paper_is_about_gets_no_papers(engine, settings, search):
    now = datetime.now(UTC)
    open_window(engine, now)
    since = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    assert search.match_topics(["zzqxv wuzzelbrot"], since) == {"zzqxv wuzzelbrot": []}


# Every kind of phrase a reader may type: keywords, natural language, a quoted phrase, syntax,
# an excluded word, an author's name, a misspelling, nonsense.
PHRASES = [
    *TOPICS,
    "diffusion",
    '"test-time scaling"',
    "video generation cat:cs.CV",
    "diffusion -video",
    "Song Han",
    "how can language models reason about long documents",
    "reinforcment lerning",
    "zzqxv wuzzelbrot",
]


def test_one_batched_match_ranks_each_phrase_as_its_own_windowed_search(engine, settings, search):
    now = datetime.now(UTC)
    open_window(engine, now)
    since = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    batched = search.match_topics(PHRASES, since)
    for phrase in PHRASES:
        searched = search.search(phrase, filters=SearchFilters(seen_from=since), limit=20)
        assert batched[phrase] == [h.id for h in searched.hits], phrase
    assert sum(bool(batched[p]) for p in PHRASES) >= len(PHRASES) - 1
