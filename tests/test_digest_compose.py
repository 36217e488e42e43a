"""Composing and rendering digests: pure functions, no database, no network."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from factories import paper
from paperroute.config import Settings
from paperroute.digest.compose import Signals, compose_digest, period_for, period_label
from paperroute.digest.delivery import is_due
from paperroute.digest.render import _base64_lines, digest_message, excerpt, render_digest
from paperroute.models import Author
from paperroute.store.subscriptions import Preferences, Subscription, SubscriptionError


def sub(**prefs):
    return Subscription(id=7, email="r@example.org", status="active", prefs=Preferences(**prefs))


PAPERS = [
    paper("2501.00001", title="Sparse attention", hf_upvotes=50),
    paper(
        "2501.00002",
        title="Robot hands",
        authors=[Author("Grace Hopper"), Author("Alan Turing")],
        hf_upvotes=5,
    ),
    paper("2501.00003", title="Speech codecs", categories=["eess.AS", "cs.SD"], hf_upvotes=20),
    paper("2501.00004", title="Old news", hf_upvotes=99),
    paper("2501.00005", title="Hidden", hf_upvotes=100, hidden=True),
]


def test_sections_in_order_each_paper_once_with_every_reason():
    s = sub(
        topics=["attention"],
        follow_authors=["alan  TURING"],
        follow_categories=["cs.sd"],
        sections={"topics": 3, "authors": 5, "categories": 5, "for_you": 5, "trending": 2},
    )
    signals = Signals(
        topic_matches={"attention": ["2501.00001"]},
        similar={"2501.00002": "Dexterous grasping"},
        trending=["2501.00005", "2501.00004", "2501.00001", "2501.00003"],
        already_sent={"2501.00004"},
    )
    digest = compose_digest(s, PAPERS, signals, "2026-11-29")
    assert [(x.key, [i.paper.id for i in x.items]) for x in digest.sections] == [
        ("topics", ["2501.00001"]),
        ("authors", ["2501.00002"]),
        ("categories", ["2501.00003"]),
    ]
    reasons = {i.paper.id: i.reasons for x in digest.sections for i in x.items}
    assert reasons["2501.00001"] == ['topic "attention"', "trending"]
    assert reasons["2501.00002"] == ["by alan  TURING", 'similar to "Dexterous grasping"']
    assert reasons["2501.00003"] == ["in cs.sd", "trending"]
    assert len(digest.paper_ids) == len(set(digest.paper_ids))


def test_a_full_section_still_adds_its_reason_to_papers_placed_before():
    # Long shared lists (a run's trending order, a followed category) are not read to the end
    # once their section is full: the papers placed earlier must still get every reason.
    many = [
        paper(f"2502.{i:05d}", categories=["cs.LG", "cs.CV"], hf_upvotes=200 - i)
        for i in range(150)
    ]
    s = sub(
        topics=["late"],
        follow_categories=["cs.LG", "cs.CV"],
        sections={"topics": 1, "categories": 2, "trending": 2},
    )
    signals = Signals(
        topic_matches={"late": ["2502.00140"]}, trending=[p.id for p in many], already_sent=set()
    )
    digest = compose_digest(s, many, signals, "2026-11-29")
    assert [(x.key, [i.paper.id for i in x.items]) for x in digest.sections] == [
        ("topics", ["2502.00140"]),
        ("categories", ["2502.00000", "2502.00001"]),
        ("trending", ["2502.00002", "2502.00003"]),
    ]
    reasons = {i.paper.id: i.reasons for x in digest.sections for i in x.items}
    assert reasons["2502.00140"] == ['topic "late"', "in cs.LG", "in cs.CV", "trending"]
    assert reasons["2502.00001"] == ["in cs.LG", "in cs.CV", "trending"]


def test_hidden_and_already_sent_papers_never_appear():
    digest = compose_digest(sub(), PAPERS, Signals(already_sent={"2501.00001"}), "2026-11-29")
    assert digest.paper_ids == ["2501.00004", "2501.00003", "2501.00002"]


def test_topics_limit_is_per_topic_and_topics_take_turns():
    s = sub(topics=["a", "b"], sections={"topics": 1, "trending": 0})
    signals = Signals(
        topic_matches={"a": ["2501.00001", "2501.00002"], "b": ["2501.00001", "2501.00003"]}
    )
    digest = compose_digest(s, PAPERS, signals, "2026-11-29")
    assert digest.paper_ids == ["2501.00001", "2501.00003"]


def test_a_switched_off_section_is_left_out_and_nothing_left_means_empty():
    digest = compose_digest(sub(sections={"trending": 0}), PAPERS, Signals(), "2026-11-29")
    assert digest.is_empty and digest.sections == []


@pytest.mark.parametrize(
    ("cadence", "zone", "moment", "period"),
    [
        ("daily", "UTC", datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "2026-11-29"),
        ("daily", "Asia/Tokyo", datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "2026-11-30"),
        ("daily", "America/Los_Angeles", datetime(2026, 11, 29, 5, tzinfo=UTC), "2026-11-28"),
        ("weekly", "UTC", datetime(2026, 11, 29, 12, tzinfo=UTC), "2026-W48"),
        ("weekly", "Pacific/Auckland", datetime(2026, 11, 29, 12, tzinfo=UTC), "2026-W49"),
        ("weekly", "UTC", datetime(2027, 1, 1, 12, tzinfo=UTC), "2026-W53"),
    ],
)
def test_period_follows_the_readers_local_calendar(cadence, zone, moment, period):
    assert period_for(sub(cadence=cadence, timezone=zone), moment) == period


def test_period_labels_read_as_words():
    assert period_label("2026-11-29") == "Sunday, November 29, 2026"
    assert period_label("2026-W48") == "week of November 23, 2026"


@pytest.mark.parametrize(
    ("prefs", "moment", "due"),
    [
        (
            {"send_hour": 7, "timezone": "Europe/Berlin"},
            datetime(2026, 11, 29, 5, 59, tzinfo=UTC),
            False,
        ),
        (
            {"send_hour": 7, "timezone": "Europe/Berlin"},
            datetime(2026, 11, 29, 6, 0, tzinfo=UTC),
            True,
        ),
        (
            {"cadence": "weekly", "weekday": 0, "send_hour": 9},
            datetime(2026, 11, 30, 8, tzinfo=UTC),
            False,
        ),
        (
            {"cadence": "weekly", "weekday": 0, "send_hour": 9},
            datetime(2026, 11, 30, 9, tzinfo=UTC),
            True,
        ),
        (
            {"cadence": "weekly", "weekday": 4, "send_hour": 9},
            datetime(2026, 12, 2, 23, tzinfo=UTC),
            False,
        ),
        (
            {"cadence": "weekly", "weekday": 4, "send_hour": 9},
            datetime(2026, 12, 5, 1, tzinfo=UTC),
            True,
        ),
    ],
)
def test_digest_is_due_from_the_readers_local_send_hour(prefs, moment, due):
    assert is_due(sub(**prefs), moment) is due


@pytest.mark.parametrize(
    ("prefs", "field"),
    [
        ({"cadence": "hourly"}, "cadence"),
        ({"weekday": 7}, "weekday"),
        ({"send_hour": 24}, "send_hour"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"sections": {"gossip": 3}}, "sections"),
        ({"sections": {"trending": 99}}, "sections.trending"),
        ({"topics": ["x" * 201]}, "topics"),
    ],
)
def test_bad_preferences_name_the_field(prefs, field):
    with pytest.raises(SubscriptionError, match=rf"^{field}:"):
        Preferences(**prefs).validated()


def test_rendered_email_escapes_titles_and_has_both_parts_and_links():
    settings = Settings(base_url="https://papers.example.org", site_name="paperroute")
    evil = paper("2501.00009", title="Evil <script>alert(1)</script> & co", hf_upvotes=3)
    digest = compose_digest(sub(), [evil], Signals(), "2026-11-29")
    html, text = render_digest(settings, sub(), digest)
    assert "<script>alert(1)</script>" not in html
    assert "Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "Evil <script>alert(1)</script> & co" in text
    assert 'href="https://papers.example.org/papers/2501.00009"' in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "3 upvotes" in text and "why: trending" in text
    msg = digest_message(settings, sub(), digest)
    assert [p.get_content_type() for p in msg.get_payload()] == ["text/plain", "text/html"]
    assert msg["Message-ID"] == "<digest.7.2026-11-29@localhost>"


def test_excerpt_cuts_long_abstracts_at_a_word():
    long = paper("2501.00010", abstract="word " * 200)
    cut = excerpt(long, 50)
    assert len(cut) <= 51 and cut.endswith("…") and "wor…" not in cut


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 114, 20_000])
def test_message_parts_are_base64_in_the_standard_lines(size):
    data = bytes(range(256)) * (size // 256 + 1)
    assert _base64_lines(data[:size]) == base64.encodebytes(data[:size]).decode("ascii")
