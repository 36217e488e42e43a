"""The digest's "for you" section is the recommender (ranking/recommend.py), and "not interested"
keeps a paper out of every section; on SQLite and PostgreSQL, delivered through a real aiosmtpd
server on loopback and read back as the reader's mail client would.

Paper vectors are the real sentence embeddings of the bundled demo papers (stored as the embed
job would), so "similar" means what the product means by it.
"""

from __future__ import annotations

import re

from paperroute.store.collections import save_into_collection
from paperroute.store.readers import mark_not_interested
from paperroute.store.subscriptions import Preferences, confirm_subscription, subscribe
from paperroute.store.users import add_user
from test_digest_delivery import load_demo

SAVED_VISION = ["2602.22144", "2602.20739", "2602.22766"]  # NoLan, PyVision-RL, Imagination…
VISION_BENCH = "2602.20159"  # "A Very Big Video Reasoning Suite": the closest by content
CLOSEST_SAVED = "2602.20739"  # PyVision-RL


def active(engine, email, user_id=None, **prefs):
    sub = subscribe(engine, email, Preferences(**prefs), user_id=user_id)
    return confirm_subscription(engine, sub.id)


def deliver(settings, engine):
    from paperroute.digest.delivery import send_due_digests
    from paperroute.search.service import SearchService
    from search_support import real_embedder

    return send_due_digests(settings, engine, SearchService(settings, engine, real_embedder()))


def section(text: str, title: str) -> str:
    """The plain-text part's block under `== title ==`, up to the next section."""
    match = re.search(rf"== {re.escape(title)} ==\n(.*?)(?=\n== |\Z)", text, re.S)
    return match.group(1) if match else ""


def test_reader_who_saved_vision_papers_gets_the_vision_paper_for_them(
    engine,
    mail_settings,
    smtp_server,
):
    demo = {p.id: p for p in load_demo(engine, 80, mail_settings)}
    user = add_user(engine, "vision@example.org")
    save_into_collection(engine, user.id, "Vision", SAVED_VISION)
    active(
        engine, "vision@example.org", user.id, send_hour=0, sections={"for_you": 5, "trending": 0}
    )

    assert deliver(mail_settings, engine).sent == 1
    [msg] = smtp_server.messages
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for_you = section(text, "For you")
    assert f"/papers/{VISION_BENCH}" in for_you, text
    assert f"/papers/{VISION_BENCH}" in html
    [item] = [i for i in for_you.split("\n* ") if f"/papers/{VISION_BENCH}" in i]
    why = " ".join(item[item.index("why:") :].split())
    assert why.startswith(f'why: similar to "{demo[CLOSEST_SAVED].title}"'), why
    assert "shared terms:" in why and "video" in why, "names what it shares with the saved paper"
    for saved in SAVED_VISION:
        assert f"/papers/{saved}" not in text, "the reader's own papers are not recommended"


def test_not_interested_paper_is_absent_from_every_section(
    engine,
    mail_settings,
    smtp_server,
):
    demo = {p.id: p for p in load_demo(engine, 80, mail_settings)}
    user = add_user(engine, "picky@example.org")
    save_into_collection(engine, user.id, "Vision", SAVED_VISION)
    rejected = demo[VISION_BENCH]
    mark_not_interested(engine, user.id, VISION_BENCH)
    # It would be there twice over: by a followed author and as the closest match to the library.
    author = rejected.author_names[0]
    active(
        engine,
        "picky@example.org",
        user.id,
        send_hour=0,
        follow_authors=[author],
        sections={"authors": 5, "for_you": 5, "trending": 5},
    )
    other = active(engine, "other@example.org", send_hour=0, follow_authors=[author])

    assert deliver(mail_settings, engine).sent == 2
    got = {m["To"]: m for m in smtp_server.messages}
    picky = got["picky@example.org"]
    for part in ("plain", "html"):
        assert f"/papers/{VISION_BENCH}" not in picky.get_body((part,)).get_content()
    assert "For you" in picky.get_body(("plain",)).get_content(), "the rest still recommended"
    # Only that reader's marks count: another follower of the author still gets the paper.
    assert other.email == "other@example.org"
    assert f"/papers/{VISION_BENCH}" in got["other@example.org"].get_body(("plain",)).get_content()


def test_the_digests_for_you_picks_are_the_for_you_pages_for_the_same_reader(engine, settings):
    from datetime import UTC, datetime, timedelta

    from paperroute.digest.signals import FOR_YOU_DEPTH, SIMILAR_MIN, gather_inputs
    from paperroute.search.service import SearchService
    from paperroute.store.votes import set_vote
    from search_support import real_embedder
    from webtools import client_for, make_app, sign_in

    demo = {p.id: p for p in load_demo(engine, 80, settings)}
    client = client_for(make_app(settings, engine))
    user = sign_in(client, engine, "reader@example.org")
    save_into_collection(engine, user.id, "Vision", SAVED_VISION)
    others = [pid for pid in demo if pid not in {*SAVED_VISION, VISION_BENCH}]
    set_vote(engine, user.id, others[0], True)
    mark_not_interested(engine, user.id, VISION_BENCH)
    # A followed author counts on the page as one saved paper of theirs: the mail must agree.
    followed = demo[others[40]].author_names[0]
    sub = active(engine, user.email, user.id, follow_authors=[followed], sections={"for_you": 5})

    page = client.get("/for-you?window=month&format=json").json()
    now = datetime.now(UTC)
    search = SearchService(settings, engine, real_embedder())
    [reader] = gather_inputs(
        engine, settings, [sub], {sub.id: now - timedelta(days=1)}, search, now
    )

    assert {p.id for p in reader.papers} == set(demo), "the same candidates on both sides"
    shown = [
        item["id"]
        for item in page["items"][:FOR_YOU_DEPTH]
        if item["reason"]["closest"][0]["similarity"] >= SIMILAR_MIN
        or item["reason"]["shared_authors"]
    ]
    assert shown, page
    assert list(reader.signals.similar) == shown
