"""Index upkeep: incremental updates, start-up checks, rebuilds after damage, on both backends."""

from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import text

from paperroute.models import Author, PaperRecord
from paperroute.search.embedding import embed_pending
from paperroute.store.embeddings import count_vectors, load_precomputed
from paperroute.store.papers import upsert_records
from search_support import VECTORS, load_fixture, make_service

NEW = PaperRecord(
    source="test",
    id="2611.00042",
    title="Quokka: Marsupial-Inspired Curriculum Learning for Tiny Robots",
    abstract="We teach tiny legged robots to hop across rough terrain with a curriculum.",
    authors=[Author("Grace Hopper")],
    categories=["cs.RO"],
    announced=date(2026, 11, 2),
)


def test_new_paper_is_searchable_after_embed_and_index(search):
    assert all(h.id != "2611.00042" for h in search.search("quokka").hits)
    result = upsert_records(search.engine, [NEW])
    assert embed_pending(search) == 1
    search.index_papers(["2611.00042"])
    assert search.search("quokka").hits[0].id == "2611.00042"
    # found by meaning too: the vector index holds the new paper
    near = search.similar("2611.00042", k=3)
    assert near.hits and result.added == 1
    assert search.vector("2611.00042") is not None


def test_changed_abstract_updates_the_lexical_index(search):
    # A changed abstract comes as a new arXiv version (at the same version two sources' texts
    # settle on the one that sorts first, whatever order they came in: see store/merge.py).
    changed = PaperRecord(
        source="test",
        id="2507.03724",
        title="MemOS: A Memory OS for AI System",
        abstract="Now about zymurgy, the chemistry of fermentation.",
        version=9,
    )
    upsert_records(search.engine, [changed])
    search.index_papers(["2507.03724"])
    assert search.search("zymurgy").hits[0].id == "2507.03724"


def test_restart_catches_up_on_papers_changed_while_down(settings, engine):
    load_fixture(engine)
    make_service(settings, engine)  # builds the indexes
    upsert_records(engine, [NEW])  # written by another process while this node was down
    service = make_service(settings, engine)
    assert service.indexes.messages == []  # a catch-up is routine, not worth a warning
    assert service.search("quokka").hits[0].id == "2611.00042"


def test_healthy_indexes_open_without_messages(settings, engine):
    load_fixture(engine)
    make_service(settings, engine)
    assert make_service(settings, engine).indexes.messages == []


def _on_postgres(engine) -> bool:
    return engine.dialect.name == "postgresql"


def test_vector_index_is_pgvector_on_postgres_and_a_file_on_sqlite(settings, engine):
    from paperroute.search.vectors import VectorIndex
    from paperroute.store.pgvector_index import PgVectorIndex

    load_fixture(engine)
    vectors = make_service(settings, engine).indexes.vectors
    assert isinstance(vectors, PgVectorIndex if _on_postgres(engine) else VectorIndex)
    assert len(vectors) == 300


def test_usearch_can_be_chosen_on_postgres_too(settings, engine):
    from paperroute.search.vectors import VectorIndex

    load_fixture(engine)
    chosen = settings.model_copy(update={"vector_backend": "usearch"})
    service = make_service(chosen, engine)
    assert isinstance(service.indexes.vectors, VectorIndex)
    assert service.search("MemOS").hits[0].id == "2507.03724"


def test_corrupt_vector_index_is_detected_and_rebuilt(settings, engine):
    load_fixture(engine)
    first = make_service(settings, engine)
    before = [h.id for h in first.similar("2505.16864", k=5).hits]
    if _on_postgres(engine):  # rows lost from the index table: caught up at the next start
        first.indexes.vectors.remove(["2505.16864", *before])
        assert len(make_service(settings, engine).indexes.vectors) == 300
    else:
        path = settings.data_dir / "index" / "vectors.usearch"
        path.write_bytes(b"\x00garbage" * 100)
        service = make_service(settings, engine)
        assert any("vector index unreadable" in m for m in service.indexes.messages)
    service = make_service(settings, engine)
    assert [h.id for h in service.similar("2505.16864", k=5).hits] == before


def test_an_empty_vector_table_is_built_in_one_pass_from_the_embeddings(settings, engine):
    """A store migrated to 0010 has the table but no rows: it is filled, with a message."""
    if not _on_postgres(engine):
        pytest.skip("the pgvector table exists on PostgreSQL only")
    load_fixture(engine)
    first = make_service(settings, engine)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {first.indexes.vectors.table.name}"))
    (settings.data_dir / "index" / "vectors.pgvector.json").unlink()
    service = make_service(settings, engine)
    assert any("vector index empty" in m for m in service.indexes.messages)
    assert len(service.indexes.vectors) == 300
    assert service.similar("2505.16864", k=1).hits


def test_missing_indexes_are_rebuilt_with_a_message(settings, engine):
    load_fixture(engine)
    first = make_service(settings, engine)
    index_dir = settings.data_dir / "index"
    if _on_postgres(engine):
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {first.indexes.vectors.table.name}"))
    else:
        (index_dir / "vectors.usearch").unlink()
    for f in (index_dir / "lexical").iterdir():
        f.unlink()
    service = make_service(settings, engine)
    messages = " ".join(service.indexes.messages)
    assert "vector index missing" in messages and "lexical index" in messages
    assert service.search("MemOS").hits[0].id == "2507.03724"
    assert len(service.indexes.vectors) == 300


def test_reindex_rebuilds_everything(search):
    assert search.reindex() == {"papers": 300, "vectors": 300}
    assert search.search("MemOS").hits[0].id == "2507.03724"


def test_precomputed_vectors_skip_papers_whose_text_changed(engine):
    upsert_records(engine, [NEW])
    load_fixture(engine)
    model = "sentence-transformers/all-MiniLM-L6-v2"
    assert count_vectors(engine, model) == 300
    changed = PaperRecord(source="test", id="2507.03724", title="MemOS", abstract="Changed text.")
    upsert_records(engine, [changed])
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM embeddings")
    assert load_precomputed(engine, VECTORS) == 299


def test_a_serving_process_sees_papers_another_process_indexed(settings, engine, monkeypatch):
    import paperroute.search.indexes as indexes

    load_fixture(engine)
    web = make_service(settings, engine)  # e.g. the web server
    assert web.search("quokka").total == 0
    upsert_records(engine, [NEW])
    worker = make_service(settings, engine)  # e.g. the worker: embeds, indexes, saves
    embed_pending(worker)
    worker.index_papers(["2611.00042"])
    worker.indexes.save_vectors()
    monkeypatch.setattr(indexes, "REFRESH_S", 0.0)
    assert web.search("quokka").hits[0].id == "2611.00042"
    assert "2611.00042" in web.indexes.vectors.get(["2611.00042"])  # the new vector file


def test_pgvector_count_follows_vectors_other_processes_add(engine, tmp_path, monkeypatch):
    import numpy as np
    import pytest

    from paperroute.store import pgvector_index
    from paperroute.store.pgvector_index import PgVectorIndex

    if not _on_postgres(engine):
        pytest.skip("pgvector is the PostgreSQL vector index")
    web, _ = PgVectorIndex.open_checked(engine, tmp_path / "web.json", 4, "test/model")
    worker, _ = PgVectorIndex.open_checked(engine, tmp_path / "worker.json", 4, "test/model")
    assert len(web) == 0  # the web process starts on an empty index...
    worker.upsert(["2601.00001"], np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32))
    monkeypatch.setattr(pgvector_index, "COUNT_TTL_S", 0.0)
    assert len(web) == 1  # ...and sees what the embedding worker added
    assert web.search(np.array([1.0, 0.0, 0.0, 0.0]), 1)[0][0] == "2601.00001"


def test_node_b_finds_a_paper_ingested_through_node_a(settings, engine, tmp_path, monkeypatch):
    """Two nodes (two data directories) on one database: what node A ingests and indexes, node
    B's own local lexical index picks up from the database within ~15 s, with no restart."""
    from paperroute.search import indexes

    monkeypatch.setattr(indexes, "REFRESH_S", 0.5)  # the period is 10 s in production
    load_fixture(engine)
    node_a = make_service(settings, engine)
    node_b = make_service(settings.model_copy(update={"data_dir": tmp_path / "node-b"}), engine)
    assert node_b.indexes.index_dir != node_a.indexes.index_dir
    assert all(h.id != "2611.00042" for h in node_b.search("quokka").hits)
    upsert_records(engine, [NEW])
    node_a.index_papers(["2611.00042"])
    assert node_a.search("quokka").hits[0].id == "2611.00042"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        hits = node_b.search("quokka").hits
        if hits and hits[0].id == "2611.00042":
            break
        time.sleep(0.2)
    else:
        raise AssertionError("node B never found node A's paper")
