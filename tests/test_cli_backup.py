"""`paperroute backup` then `paperroute restore` into an empty data dir loses nothing: the papers
export, the account export, the delivery ledger and every table's row count come back equal, on
SQLite (online-backup API) and PostgreSQL (pg_dump / pg_restore), and search works again."""

from __future__ import annotations

import threading
import time

import numpy as np
from sqlalchemy import func, select
from typer.testing import CliRunner

from paperroute.cli import app
from paperroute.search.lexical import LexicalIndex
from paperroute.store import collections as coll
from paperroute.store import deliveries
from paperroute.store import subscriptions as subs
from paperroute.store.account import export_account
from paperroute.store.backup import backup_database, restore_database, table_counts
from paperroute.store.embeddings import save_vectors
from paperroute.store.engine import make_engine
from paperroute.store.schema import papers, votes
from paperroute.store.users import add_user
from paperroute.store.votes import set_vote, toggle_vote
from webtools import seed


def populate(engine, settings) -> int:
    """Papers with vectors, a reader with a vote, a collection, a saved search, a confirmed
    subscription and one digest recorded as sent in the ledger; returns the reader's id."""
    seed(engine)
    user = add_user(engine, "reader@example.org")
    set_vote(engine, user.id, "2502.00001", True)
    shelf = coll.create_collection(engine, user.id, "Reading", is_public=True)
    coll.add_paper(engine, user.id, shelf.id, "2502.00002")
    coll.save_search(engine, user.id, "learning", "learning")
    sub = subs.subscribe(engine, "reader@example.org", user_id=user.id)
    subs.confirm_subscription(engine, sub.id)
    claim = deliveries.claim_delivery(engine, sub.id, "2025-02-06", "worker-1", 60)
    deliveries.mark_sent(engine, claim, ["2502.00001"])
    with engine.connect() as conn:
        hashes = dict(conn.execute(select(papers.c.id, papers.c.content_hash)).all())
    ids = sorted(hashes)
    vecs = np.random.default_rng(0).normal(size=(len(ids), 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    save_vectors(engine, settings.embedding_model, ids, [hashes[i] for i in ids], vecs)
    return user.id


def cli(data_dir, url, *args):
    env = {"PAPERROUTE_DATA_DIR": str(data_dir), "PAPERROUTE_DATABASE_URL": url}
    result = CliRunner().invoke(app, list(args), env={**env, "PAPERROUTE_LOAD_DEMO": "false"})
    return result


def snapshot(data_dir, url, user_id):
    engine = make_engine(url)
    try:
        return {
            "export": cli(data_dir, url, "export").stdout,
            "account": {  # all but the moment of the export itself
                k: v for k, v in export_account(engine, user_id).items() if k != "exported_at"
            },
            "ledger": deliveries.list_deliveries(engine),
            "counts": table_counts(engine),
        }
    finally:
        engine.dispose()


def test_backup_then_restore_into_an_empty_data_dir_loses_nothing(
    settings, engine, second_database_url, tmp_path
):
    user_id = populate(engine, settings)
    before = snapshot(settings.data_dir, settings.sqlalchemy_url, user_id)
    assert before["counts"]["votes"] == 1 and before["counts"]["deliveries"] == 1
    made = cli(settings.data_dir, settings.sqlalchemy_url, "backup", str(tmp_path / "backup"))
    assert made.exit_code == 0, made.output
    assert "9 papers" in made.output

    fresh = tmp_path / "fresh-data"
    restored = cli(fresh, second_database_url, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert "search indexes rebuilt (9 papers, 9 vectors)" in restored.output
    after = snapshot(fresh, second_database_url, user_id)
    assert after == before
    assert '"2502.00001"' in after["export"]
    assert LexicalIndex(fresh / "index" / "lexical").num_docs() == 9  # searchable again

    again = cli(fresh, second_database_url, "restore", str(tmp_path / "backup"))
    assert again.exit_code == 1 and "the database is not empty" in again.output
    taken = cli(settings.data_dir, settings.sqlalchemy_url, "backup", str(tmp_path / "backup"))
    assert taken.exit_code == 1 and "is not empty; give a new directory" in taken.output
    assert "Traceback" not in again.output + taken.output


def test_a_backup_taken_while_readers_vote_restores_with_matching_counts(
    settings, engine, second_database_url, tmp_path
):
    seed(engine)
    readers = [add_user(engine, f"reader{i}@example.org") for i in range(20)]
    stop = threading.Event()

    def vote() -> None:
        n = 0
        while not stop.is_set():
            toggle_vote(engine, readers[n % 20].id, f"2502.0000{1 + n % 7}")
            n += 1

    voters = [threading.Thread(target=vote) for _ in range(2)]
    for v in voters:
        v.start()
    try:
        time.sleep(0.2)
        manifest = backup_database(settings.sqlalchemy_url, tmp_path / "backup")
        time.sleep(0.2)
    finally:
        stop.set()
        for v in voters:
            v.join()
    restored = restore_database(tmp_path / "backup", second_database_url)  # checks the counts
    copy = make_engine(second_database_url)
    try:
        assert table_counts(copy) == manifest["counts"] == restored["counts"]
        with copy.connect() as conn:  # every counter equals its vote rows, as in the snapshot
            rows = conn.execute(
                select(papers.c.id, papers.c.upvotes, func.count(votes.c.user_id))
                .outerjoin(votes, votes.c.paper_id == papers.c.id)
                .group_by(papers.c.id, papers.c.upvotes)
            ).all()
    finally:
        copy.dispose()
    assert all(counter == count for _, counter, count in rows)
