"""Real benchmark corpus (arXiv cs crawl + HF daily papers) and its cached embeddings.

`python bench/embed.py cache [THREADS] [LIMIT]` embeds every corpus paper (or the first LIMIT)
with the product embedder settings (bf16 autocast, MiniLM) into bench/out/corpus_vectors/ (or
$PAPERROUTE_BENCH_VECTORS) in resumable chunks; other benches load them with `load_vectors()`.
`python bench/embed.py variants` measures fp32 / bf16 / int8 / threads / sequence length on a
sample and prints throughput and agreement with fp32.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA = Path("/work/shared/data")
ARXIV = DATA / "arxiv_cs" / "arxiv_cs_papers.jsonl.gz"
HF = DATA / "hf_daily_papers" / "daily_papers_all.jsonl.gz"
OUT = Path(__file__).parent / "out"
# PAPERROUTE_BENCH_VECTORS lets several checkouts share one embedding pass (it takes ~30 min).
VEC_DIR = Path(os.environ.get("PAPERROUTE_BENCH_VECTORS") or OUT / "corpus_vectors")
CHUNK = 1024


@dataclass
class CorpusPaper:
    """One real paper of the benchmark corpus."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str] = field(default_factory=list)
    announced: str | None = None
    upvotes: int = 0
    source: str = "arxiv"


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def load_corpus() -> list[CorpusPaper]:
    """HF daily papers first (in archive order), then the arXiv cs crawl; unique by id."""
    seen: dict[str, CorpusPaper] = {}
    with gzip.open(HF, "rt") as fh:
        for line in fh:
            entry = json.loads(line)
            p = entry["paper"]
            if p["id"] in seen:
                continue
            seen[p["id"]] = CorpusPaper(
                id=p["id"],
                title=_clean(p.get("title")),
                abstract=_clean(p.get("summary")),
                authors=[a.get("name", "") for a in p.get("authors") or []],
                announced=entry.get("_archive_date"),
                upvotes=int(p.get("upvotes") or 0),
                source="hf",
            )
    with gzip.open(ARXIV, "rt") as fh:
        for line in fh:
            d = json.loads(line)
            if d["id"] in seen:
                old = seen[d["id"]]
                old.categories = old.categories or d.get("categories") or []
                continue
            seen[d["id"]] = CorpusPaper(
                id=d["id"],
                title=_clean(d.get("title")),
                abstract=_clean(d.get("summary")),
                authors=list(d.get("authors") or []),
                categories=list(d.get("categories") or []),
                announced=d.get("first_seen"),
            )
    return list(seen.values())


def load_vectors(corpus: list[CorpusPaper]) -> tuple[list[CorpusPaper], np.ndarray]:
    """The prefix of the corpus that has cached vectors, and those vectors (float32, normalised)."""
    parts = []
    i = 0
    while (VEC_DIR / f"{i:05d}.npy").exists():
        parts.append(np.load(VEC_DIR / f"{i:05d}.npy"))
        i += 1
    if not parts:
        return [], np.zeros((0, 384), dtype=np.float32)
    vecs = np.concatenate(parts).astype(np.float32)
    return corpus[: len(vecs)], vecs


def cache_vectors(threads: int, limit: int | None = None) -> None:
    """Embed the corpus (or its first `limit` papers) in chunks of CHUNK; skips chunks on disk."""
    from paperroute.search import embedder
    from paperroute.search.embedder import Embedder, paper_text

    # The product leaves a core free for the web server; an offline bench run may take both.
    embedder.BATCH_THREADS = threads

    corpus = load_corpus()[:limit]
    VEC_DIR.mkdir(parents=True, exist_ok=True)
    (VEC_DIR / "corpus_ids.txt").write_text("\n".join(p.id for p in corpus))
    emb = Embedder()
    start = time.time()
    done = 0
    for n, lo in enumerate(range(0, len(corpus), CHUNK)):
        path = VEC_DIR / f"{n:05d}.npy"
        if path.exists():
            continue
        chunk = corpus[lo : lo + CHUNK]
        vecs = emb.embed([paper_text(p.title, p.abstract) for p in chunk])
        np.save(path, vecs.astype(np.float16))
        done += len(chunk)
        rate = done / (time.time() - start)
        print(f"chunk {n} {lo + len(chunk)}/{len(corpus)} {rate:.1f}/s", flush=True)


def variants(n: int = 64) -> None:
    """Throughput and agreement with fp32 of each inference variant on n real abstracts."""
    import torch

    from paperroute.search.embedder import Embedder, paper_text

    texts = [paper_text(p.title, p.abstract) for p in load_corpus()[20_000 : 20_000 + n]]

    from paperroute.search import embedder

    def run(name: str, emb: Embedder, threads: int, ref: np.ndarray | None) -> np.ndarray:
        torch.set_num_threads(threads)
        embedder.BATCH_THREADS = threads  # what Embedder.embed sets for each batch
        emb.embed(texts[:8])  # warm-up
        start = time.perf_counter()
        vecs = emb.embed(texts)
        rate = n / (time.perf_counter() - start)
        agree = "" if ref is None else f" cosine vs fp32 min {float((vecs * ref).sum(1).min()):.5f}"
        print(f"{name:<28} threads={threads} {rate:6.1f} texts/s{agree}", flush=True)
        return vecs

    ref = run("fp32", Embedder(precision="fp32"), 2, None)
    run("fp32", Embedder(precision="fp32"), 1, ref)
    run("bf16 autocast", Embedder(precision="bf16"), 2, ref)
    run("bf16 autocast", Embedder(precision="bf16"), 1, ref)
    short = Embedder(precision="bf16")
    short.model.max_seq_length = 128
    run("bf16 autocast, 128 tokens", short, 2, ref)
    q = Embedder(precision="fp32")
    q._model = torch.ao.quantization.quantize_dynamic(q.model, {torch.nn.Linear}, dtype=torch.qint8)
    run("int8 dynamic quantisation", q, 2, ref)
    onnx_variants(texts, ref)


def onnx_variants(texts: list[str], ref: np.ndarray) -> None:
    """ONNX Runtime (the product's exported query encoder) for batches and for single queries."""
    import tempfile

    from paperroute.search.embedder import Embedder, model_path
    from paperroute.search.onnx_query import OnnxQueryEncoder

    emb = Embedder(cache_dir=Path(tempfile.mkdtemp()))
    enc = OnnxQueryEncoder.load(
        emb.model, emb.model_name, model_path(emb.model_name), emb.cache_dir
    )
    enc.session.run(None, _feeds(enc, texts[:8]))
    start = time.perf_counter()
    vecs = np.concatenate([enc.session.run(None, _feeds(enc, texts[i : i + 32]))[0]
                           for i in range(0, len(texts), 32)])  # fmt: skip
    rate = len(texts) / (time.perf_counter() - start)
    agree = float((vecs * ref).sum(1).min())
    print(f"{'onnxruntime fp32 (1 thread)':<28} threads=1 {rate:6.1f} texts/s "
          f"cosine vs fp32 min {agree:.5f}")  # fmt: skip
    queries = [" ".join(t.split()[:n]) for t in texts for n in (2, 5, 9)][:90]
    torch_only = Embedder(query_backend="torch")
    torch_only._model = emb.model
    for name, encode in (("torch fp32", torch_only.embed_query), ("onnxruntime", enc.encode)):
        times = []
        for query in queries:
            start = time.perf_counter()
            encode(query)
            times.append((time.perf_counter() - start) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        print(f"single query, {name:<16} p50 {p50:5.2f} ms  p95 {p95:5.2f} ms", flush=True)


def _feeds(enc, batch: list[str]) -> dict:
    tok = enc.tokenizer(batch, return_tensors="np", truncation=True, max_length=256, padding=True)
    return {k: tok[k].astype(np.int64) for k in ("input_ids", "attention_mask")}


if __name__ == "__main__":
    if sys.argv[1:2] == ["cache"]:
        cache_vectors(
            int(sys.argv[2]) if len(sys.argv) > 2 else 1,
            int(sys.argv[3]) if len(sys.argv) > 3 else None,
        )
    elif sys.argv[1:] == ["variants"]:
        variants()
