"""The comment store on both backends: threads, counts, votes, moderation, bans, and comments
written at once by many threads (the paper's count stays exact)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from paperroute.store import comments as store
from paperroute.store.papers import get_paper
from paperroute.store.users import add_user, delete_user, update_profile
from webtools import seed

PAPER = "2502.00002"


def _add(engine, user, text, parent=None):
    return store.add_comment(engine, PAPER, user.id, text, f"<p>{text}</p>", parent)


def test_a_thread_nests_replies_and_keeps_placeholders_only_where_replies_hang(engine):
    seed(engine)
    ada, bob = add_user(engine, "ada@example.org"), add_user(engine, "bob@example.org")
    update_profile(engine, ada.id, "Ada")
    first = _add(engine, ada, "first")
    reply = _add(engine, bob, "reply", first.id)
    lone = _add(engine, bob, "lone")
    store.delete_comment(engine, first.id, ada.id)
    store.delete_comment(engine, lone.id, bob.id)
    [root] = store.thread(engine, PAPER)
    assert root.placeholder and root.body == "" and [r.id for r in root.replies] == [reply.id]
    assert get_paper(engine, PAPER).num_comments == 1  # only what shows its text counts
    delete_user(engine, bob.id)
    [root] = store.thread(engine, PAPER)
    assert root.replies[0].author == "deleted member" and root.replies[0].body == "reply"


def test_votes_per_reader_and_hiding_and_bans(engine):
    seed(engine)
    ada, bob = add_user(engine, "ada@example.org"), add_user(engine, "bob@example.org")
    one, two = _add(engine, ada, "one"), _add(engine, ada, "two")
    assert store.toggle_comment_vote(engine, bob.id, one.id) == (True, 1)
    assert store.voted_in_thread(engine, PAPER, bob.id) == {one.id}
    assert store.voted_in_thread(engine, PAPER, ada.id) == set()
    assert store.toggle_comment_vote(engine, bob.id, one.id) == (False, 0)
    assert store.report_comment(engine, two.id, bob.id, "spam")
    assert not store.report_comment(engine, two.id, bob.id, "again")
    assert [q.comment.id for q in store.moderation_queue(engine)] == [two.id]
    store.moderate_comment(engine, two.id, "hide")
    assert store.moderation_queue(engine) == []
    assert [c.id for c in store.thread(engine, PAPER)] == [one.id]
    assert store.ban_member(engine, ada.id, bob.id, "troll") == 1  # hides what is left
    assert store.is_banned(engine, ada.id) and store.thread(engine, PAPER) == []
    assert get_paper(engine, PAPER).num_comments == 0


def test_comments_written_at_once_keep_the_count_exact(engine):
    seed(engine)
    members = [add_user(engine, f"m{i}@example.org") for i in range(8)]

    def write(member):
        return [_add(engine, member, f"c{n}").id for n in range(5)]

    with ThreadPoolExecutor(8) as pool:
        ids = [i for batch in pool.map(write, members) for i in batch]
    assert len(set(ids)) == 40
    assert get_paper(engine, PAPER).num_comments == 40
    assert len(store.thread(engine, PAPER)) == 40


def test_a_mention_finds_its_member_through_the_handle_index(engine):
    """@AdaLovelace is "Ada Lovelace" in any case, the earlier of two accounts with one handle
    has it, and the lookup uses migration 0011's index rather than reading every member."""
    ada = add_user(engine, "ada@example.org")
    update_profile(engine, ada.id, "Ada Lovelace")
    update_profile(engine, add_user(engine, "twin@example.org").id, "ada lovelace")
    add_user(engine, "nameless@example.org")  # no display name: cannot be mentioned
    found = store.mentioned_members(engine, ["AdaLovelace", "adaLOVELACE", "nameless", "nobody"])
    assert found == {"adalovelace": ada.id}

    query = store._MENTIONED.params(handles=["adalovelace"]).compile(
        dialect=engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").all()
        else:  # a handful of rows: without this PostgreSQL would rightly scan anyway
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql(f"EXPLAIN {query}").all()
    assert "ix_users_mention_handle" in " ".join(map(str, plan)), plan
