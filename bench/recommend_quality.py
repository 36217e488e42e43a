"""Offline evaluation of personal recommendations against arxiv-sanity-lite, on real arXiv data.

Readers are authors of the 74.7k-paper arXiv cs crawl (../shared/data/arxiv_cs): an author's papers
first seen before a split date are their library; their papers first seen in the following window
are held-out targets, ranked among ALL papers of that window. Metrics: Recall@20 and nDCG@20,
averaged over readers.

Two splits: validation (used to tune our model's parameters) and test (reported). Methods:
- `sanity`: arxiv-sanity-lite exactly: TF-IDF of title + abstract + author names (1-2-grams,
  sublinear tf, 20k features, its min_df=5/max_df=0.1, stop words and token pattern), LinearSVC
  (class_weight="balanced", C=0.01), library papers positive, every other paper of the pool
  negative.
- `sanity-masked`: the same with the reader's own name removed from the features. Readers here are
  authors, so the spec baseline sees the reader's name on every target: a leak no real reader has.
- `sanity-text`: the same over title + abstract only (no author names).
- `ours`: the product's model (paperroute.ranking.recommend.score_candidates): a linear SVM over
  MiniLM embeddings of title + abstract joined with TF-IDF of title + abstract and of author
  names, nearest neighbours, and "by authors you saved". Every name that shares a word with the
  reader's is dropped (`masked_authors`), at least as strict as `sanity-masked`.
- `ours-content-only`: `ours` without the author signal: the inputs `sanity-masked` has.
- `ours-title-abstract`: `ours` without author names at all: the inputs `sanity-text` has.

Usage: python bench/recommend_quality.py [--readers 200] [--tune] | --speed
Embeddings are cached in bench/out/ (git-ignored); the first run embeds ~10k abstracts on CPU.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
import unicodedata
from collections import defaultdict
from dataclasses import astuple, dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from paperroute.ranking.recommend import (
    Features,
    Params,
    Terms,
    author_scores,
    normalise_rows,
    paper_terms,
    score_candidates,
    term_features,
    term_space,
)
from paperroute.search.embedder import paper_text
from paperroute.store.papers import author_key

_CRAWL = "shared/data/arxiv_cs/arxiv_cs_papers.jsonl.gz"
# ../shared next to the clone; a worktree one level deeper finds it one folder further up.
CORPUS = next(
    (p / _CRAWL for p in Path(__file__).resolve().parents[2:4] if (p / _CRAWL).exists()),
    Path(__file__).resolve().parents[2] / _CRAWL,
)
OUT = Path(__file__).resolve().parent / "out"
K = 20
MIN_LIBRARY = 3
MAX_LIBRARY = 30  # most recent papers before the split; bounds embedding cost
SPLITS = {"validation": (date(2026, 5, 18), 7), "test": (date(2026, 6, 1), 7)}


@dataclass
class Split:
    """One evaluation split: the candidate window and the readers with library and targets."""

    name: str
    window: list[int]  # corpus rows first seen in the window
    readers: list[tuple[str, list[int], set[int]]]  # (name, library rows, target rows)


def load_corpus(path: Path) -> list[dict]:
    """Every paper of the crawl with a parsed first_seen date."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            d["day"] = date.fromisoformat(d["first_seen"][:10])
            rows.append(d)
    return rows


def make_split(corpus: list[dict], name: str, start: date, days: int, n: int, seed: int) -> Split:
    """Readers (authors) with >= MIN_LIBRARY papers before `start` and >= 1 in the window."""
    end = start + timedelta(days=days)
    window = [i for i, d in enumerate(corpus) if start <= d["day"] < end]
    before, during = defaultdict(list), defaultdict(set)
    for i, d in enumerate(corpus):
        for a in d["authors"]:
            if d["day"] < start:
                before[a].append(i)
            elif d["day"] < end:
                during[a].add(i)
    names = sorted(a for a in during if len(before[a]) >= MIN_LIBRARY)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(names), size=min(n, len(names)), replace=False)
    readers = []
    for j in sorted(chosen):
        a = names[j]
        lib = sorted(before[a], key=lambda i: corpus[i]["day"])[-MAX_LIBRARY:]
        readers.append((a, lib, during[a]))
    return Split(name, window, readers)


def text_of(d: dict) -> str:
    """What gets embedded: the product's paper text (title and abstract)."""
    return paper_text(d["title"], d["summary"])


def embed(corpus: list[dict], rows: set[int]) -> dict[int, np.ndarray]:
    """MiniLM vectors for the rows, cached by arXiv id in bench/out/minilm.npz."""
    OUT.mkdir(exist_ok=True)
    cache_file = OUT / "minilm.npz"
    cache: dict[str, np.ndarray] = {}
    if cache_file.exists():
        z = np.load(cache_file)
        cache = dict(zip(z["ids"].tolist(), z["vectors"], strict=True))
    missing = sorted({corpus[i]["id"] for i in rows} - set(cache))
    if missing:
        import torch

        from paperroute.search.embedder import Embedder

        torch.set_num_threads(2)
        embedder = Embedder()  # bundled MiniLM, bf16 autocast where the CPU has it
        by_id = {d["id"]: d for d in corpus}
        t0 = time.time()
        print(f"embedding {len(missing)} papers ...", flush=True)
        for s in range(0, len(missing), 256):
            chunk = missing[s : s + 256]
            vecs = embedder.embed([text_of(by_id[p]) for p in chunk])
            cache.update(zip(chunk, vecs, strict=True))
            ids = list(cache)
            np.savez(cache_file, ids=np.array(ids), vectors=np.stack([cache[i] for i in ids]))
            rate = (s + len(chunk)) / (time.time() - t0)
            print(f"  {s + len(chunk)}/{len(missing)} ({rate:.0f}/s)", flush=True)
    return {i: cache[corpus[i]["id"]] for i in rows}


def metrics(scores: np.ndarray, pool: list[int], targets: set[int]) -> tuple[float, float]:
    """Recall@K and nDCG@K of the pool ranked by score."""
    top = [pool[i] for i in np.argsort(-scores)[:K]]
    hits = [1.0 if p in targets else 0.0 for p in top]
    recall = sum(hits) / len(targets)
    dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
    ideal = sum(1 / np.log2(r + 2) for r in range(min(len(targets), K)))
    return recall, dcg / ideal


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


class Sanity:
    """arxiv-sanity-lite's features and SVM (its compute.py and serve.py)."""

    def __init__(self, corpus: list[dict], authors: bool = True):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(
            input="content",
            encoding="utf-8",
            decode_error="replace",
            strip_accents="unicode",
            lowercase=True,
            analyzer="word",
            stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
            ngram_range=(1, 2),
            max_features=20000,
            norm="l2",
            use_idf=True,
            smooth_idf=True,
            sublinear_tf=True,
            max_df=0.1,
            min_df=5,
        )
        texts = [
            " ".join([d["title"], d["summary"], " ".join(d["authors"]) if authors else ""])
            for d in corpus
        ]
        self.x = self.vectorizer.fit_transform(texts).astype(np.float32).tocsr()
        self.vocab = self.vectorizer.vocabulary_

    def name_columns(self, name: str) -> np.ndarray:
        """Feature columns that contain a token of the reader's own name."""
        parts = set(re.findall(r"[a-z_][a-z0-9_]+", _ascii(name)))
        return np.array([j for t, j in self.vocab.items() if parts & set(t.split())], dtype=int)

    def rank(self, pool: list[int], library: list[int], mask_name: str | None) -> np.ndarray:
        """Decision values of the SVM trained on the pool (library positive, rest negative)."""
        from sklearn import svm

        x = self.x[pool]
        if mask_name:
            cols = self.name_columns(mask_name)
            if len(cols):
                x = x.tolil()
                x[:, cols] = 0
                x = x.tocsr()
        lib = set(library)
        y = np.array([1.0 if p in lib else 0.0 for p in pool])
        clf = svm.LinearSVC(
            class_weight="balanced", verbose=False, max_iter=10000, tol=1e-6, C=0.01
        )
        clf.fit(x, y)
        return clf.decision_function(x)


def evaluate(split: Split, method, label: str) -> dict:
    """Mean Recall@K / nDCG@K of one method over the split's readers (candidates = window)."""
    recalls, ndcgs = [], []
    t0 = time.time()
    for name, library, targets in split.readers:
        pool = list(dict.fromkeys(split.window + library))
        cand = len(split.window)
        scores = method(pool, library, name)[:cand]
        r, n = metrics(scores, split.window, targets)
        recalls.append(r)
        ndcgs.append(n)
    result = {
        "split": split.name,
        "method": label,
        "readers": len(recalls),
        "candidates": len(split.window),
        f"recall@{K}": round(float(np.mean(recalls)), 4),
        f"ndcg@{K}": round(float(np.mean(ndcgs)), 4),
        "seconds_per_reader": round((time.time() - t0) / max(len(recalls), 1), 3),
    }
    print(json.dumps(result), flush=True)
    return result


def masked_authors(corpus: list[dict], rows: list[int], reader: str) -> list[list[str]]:
    """Author keys of the rows without any name that shares a word with the reader's name.

    At least as strict as `sanity-masked` (which zeroes the feature columns holding a word of
    the name): a co-author "Wei Li" of the reader "Wei Zhang" is dropped whole here.
    """
    parts = set(re.findall(r"[a-z_][a-z0-9_]+", _ascii(reader)))
    out = []
    for i in rows:
        keys = [author_key(a) for a in corpus[i]["authors"]]
        out.append([k for k in keys if not parts & set(re.findall(r"[a-z_][a-z0-9_]+", _ascii(k)))])
    return out


class Ours:
    """The product's model (paperroute.ranking.recommend) on the bench's readers: MiniLM vectors
    of title + abstract, TF-IDF of title + abstract and of author names (reader masked, see
    `masked_authors`), and the "by authors you saved" signal over the same masked names."""

    def __init__(self, corpus: list[dict], vectors: dict[int, np.ndarray], rows: set[int]):
        self.corpus = corpus
        self.vectors = vectors
        order = sorted(rows)
        self.row = {i: k for k, i in enumerate(order)}
        self.words = paper_terms([text_of(corpus[i]) for i in order], [[] for _ in order]).words

    def method(self, params: Params):
        """A `evaluate` method scoring the pool with `params`."""

        def run(pool: list[int], library: list[int], name: str) -> np.ndarray:
            cand = normalise_rows(np.stack([self.vectors[i] for i in pool]))
            own = np.array([pool.index(i) for i in library])
            names = masked_authors(self.corpus, pool, name)
            authors = None
            if params.author_weight:
                authors = author_scores(names, [names[k] for k in own], normalised=True)
            features = None
            if params.text_weight + params.name_weight > 0:
                blank = paper_terms([""] * len(pool), names)
                terms = Terms(self.words[[self.row[i] for i in pool]], blank.names)
                space = term_space(terms, params)
                x = term_features(terms, space, params)
                features = Features(x, x[own], x[[]])
            return score_candidates(
                cand, cand[own], None, params, exclude=own, authors=authors, features=features
            )

        return run


TUNE_GRID = (
    ("c", (0.01, 0.1, 1.0)),
    ("dense_scale", (0.1, 0.25, 0.5)),
    ("name_weight", (0.5, 1.0, 2.0)),
    ("blend", (0.5, 0.75, 1.0)),
    ("knn_k", (3, 5, 10)),
    ("few_saved_boost", (True, False)),
)


def tune(split: Split, ours: Ours) -> Params:
    """Coordinate search on the validation split: the content model first (no author signal),
    then the weight of the author signal."""
    score: dict[tuple, float] = {}

    def trial(p: Params) -> float:
        if astuple(p) not in score:
            label = f"ours {astuple(p)[:10]}"
            score[astuple(p)] = evaluate(split, ours.method(p), label)[f"recall@{K}"]
        return score[astuple(p)]

    best = replace(Params(), author_weight=0.0)
    for field_name, values in TUNE_GRID:
        best = max((replace(best, **{field_name: v}) for v in values), key=trial)
    best = max((replace(best, author_weight=v) for v in (0.0, 0.25, 0.5, 1.0, 2.0)), key=trial)
    print("best on validation:", best, trial(best), flush=True)
    return best


def speed(corpus: list[dict], n_papers: int, n_saved: int, repeat: int) -> dict:
    """Time the /for-you page end to end: SQLite store of a month of real papers, 200 saved.

    Papers without a cached MiniLM vector get the vector of a random embedded paper plus noise
    (timing does not depend on which vectors they are).
    """
    import tempfile

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from paperroute.app import create_app
    from paperroute.config import load_settings
    from paperroute.models import Author, PaperRecord
    from paperroute.store import collections as coll
    from paperroute.store.auth import create_api_token
    from paperroute.store.embeddings import save_vectors
    from paperroute.store.engine import make_engine, migrate
    from paperroute.store.papers import upsert_records
    from paperroute.store.schema import papers
    from paperroute.store.users import add_user

    z = np.load(OUT / "minilm.npz")
    cached = dict(zip(z["ids"].tolist(), z["vectors"], strict=True))
    rows = sorted(corpus, key=lambda d: d["day"])[-n_papers:]
    last = rows[-1]["day"]
    tmp = Path(tempfile.mkdtemp())
    settings = load_settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'bench.db'}")
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    records = [
        PaperRecord(source="arxiv-oai", id=d["id"], title=d["title"], abstract=d["summary"],
                    authors=[Author(a) for a in d["authors"]], categories=d["categories"],
                    primary_category=d["categories"][0],
                    announced=max(d["day"], last - timedelta(days=29)))
        for d in rows
    ]  # fmt: skip
    for s in range(0, len(records), 2000):
        upsert_records(engine, records[s : s + 2000])
    rng = np.random.default_rng(0)
    pool = np.stack(list(cached.values()))
    ids = [d["id"] for d in rows]
    vecs = (
        np.stack([cached[i] if i in cached else pool[rng.integers(len(pool))] for i in ids])
        + rng.normal(0, 0.01, (len(ids), pool.shape[1])).astype(np.float32)
        * (np.array([i not in cached for i in ids])[:, None])
    )
    with engine.connect() as conn:
        hashes = dict(conn.execute(select(papers.c.id, papers.c.content_hash)).all())
    save_vectors(engine, settings.embedding_model, ids, [hashes[i] for i in ids], vecs)
    user = add_user(engine, "bench@example.org")
    shelf = coll.create_collection(engine, user.id, "Saved")
    for pid in rng.choice(ids, size=n_saved, replace=False):
        coll.add_paper(engine, user.id, shelf.id, str(pid))
    app = create_app(settings, engine=engine, enable_search=False, page_cache_ttl=0)
    client = TestClient(app)
    token = create_api_token(engine, user.id, "bench")
    headers = {"authorization": f"Bearer {token}"}
    client.get("/api/recommendations?window=month", headers=headers)  # fills the vector cache
    times = []
    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get("/api/recommendations?window=month&limit=30", headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200 and len(response.json()["items"]) == 30
    if profiler is not None:
        import pstats

        for _ in range(repeat):  # the route runs in a worker thread: profile the call itself
            app.state.services.recommender().for_reader(user.id, "month", None, 30)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    body = response.json()
    page_times = _time_page(app, engine, user.email, repeat)
    held = set(coll.collection_paper_ids(engine, shelf.id))
    coll.add_paper(engine, user.id, shelf.id, next(i for i in ids if i not in held))
    t0 = time.perf_counter()
    client.get("/api/recommendations?window=month&limit=30", headers=headers)
    refit_ms = (time.perf_counter() - t0) * 1000
    result = {
        "papers_in_window": body["candidates"],
        "saved": n_saved,
        "median_ms": round(float(np.median(times)), 1),
        "p90_ms": round(float(np.percentile(times, 90)), 1),
        "ranking_ms_reported": body["took_ms"],
        "page_median_ms": round(float(np.median(page_times)), 1),
        "after_saving_a_paper_ms": round(refit_ms, 1),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result), flush=True)
    return result


def record() -> None:
    """The "Recommendations" section of docs/benchmarks.md, from the saved results."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _record import record_section

    rows = json.loads((OUT / "recommend_quality.json").read_text())
    lines = [
        "`python bench/recommend_quality.py --tune` (quality) and `--speed` (latency), then",
        "`--record`. Readers: authors of the arXiv cs crawl with >= 3 papers before the split",
        "(their library, at most the 30 newest) and >= 1 paper in the 7-day window after it",
        "(targets, ranked among ALL papers of the window). Parameters tuned on validation only.",
        "",
        "| split | method | readers | candidates | Recall@20 | nDCG@20 |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['split']} | {r['method']} | {r['readers']} | {r['candidates']} "
            f"| {r['recall@20']:.4f} | {r['ndcg@20']:.3f} |"
        )
    test = {r["method"]: r for r in rows if r["split"] == "test"}

    def ratio(a: str, b: str) -> str:
        return f"{test[a]['recall@20'] / test[b]['recall@20']:.2f}x"

    lines += [
        "",
        f"Test split, Recall@20: `ours` (the product's model) is {ratio('ours', 'sanity')} the",
        "arxiv-sanity-lite spec baseline (which sees the reader's own name on every target) and",
        f"{ratio('ours', 'sanity-masked')} the same baseline with the reader's name masked.",
        "`ours-content-only` sees what `sanity-masked` sees (title + abstract + author names, the",
        f"reader's name masked, no author signal): {ratio('ours-content-only', 'sanity-masked')}.",
        "`ours-title-abstract` against `sanity-text` (title + abstract only, no names on either",
        f"side): {ratio('ours-title-abstract', 'sanity-text')}.",
    ]
    speed_file = OUT / "recommend_speed.json"
    if speed_file.exists():
        sp = json.loads(speed_file.read_text())
        lines += [
            "",
            f"Latency (`--speed`): a reader with {sp['saved']} saved papers over a month of "
            f"{sp['papers_in_window']} real papers (SQLite, warm vector cache, load average "
            f"{sp['load_average']} from other work on the 2 cores): "
            f"`GET /api/recommendations?window=month&limit=30` median {sp['median_ms']} ms "
            f"(p90 {sp['p90_ms']} ms), the `/for-you` HTML page median {sp['page_median_ms']} ms; "
            f"the first request after saving a paper refits the model: "
            f"{sp['after_saving_a_paper_ms']} ms.",
        ]
    record_section("Recommendations", "bench/recommend_quality.py", "\n".join(lines))


def _time_page(app, engine, email: str, repeat: int) -> list[float]:
    """Milliseconds to render the /for-you HTML page for a signed-in reader."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from fastapi.testclient import TestClient

    from webtools import sign_in  # the real magic-link sign-in routes

    browser = TestClient(app, headers={"accept": "text/html"}, follow_redirects=False)
    sign_in(browser, engine, email)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        page = browser.get("/for-you?window=month")
        times.append((time.perf_counter() - t0) * 1000)
        assert page.status_code == 200 and page.text.count('class="reason"') == 30
    return times


def main() -> None:
    """Build splits, embed what they need, evaluate both methods, print JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--tune", action="store_true", help="grid-search on the validation split")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed", action="store_true", help="time the recommendation API only")
    parser.add_argument(
        "--record", action="store_true", help="write bench/out results into docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.record:
        record()
        return
    corpus = load_corpus(CORPUS)
    if args.speed:
        result = speed(corpus, n_papers=30000, n_saved=200, repeat=10)
        (OUT / "recommend_speed.json").write_text(json.dumps(result, indent=2))
        return
    splits = [
        make_split(corpus, name, start, days, args.readers, args.seed + n)
        for n, (name, (start, days)) in enumerate(SPLITS.items())
    ]
    needed = {i for s in splits for i in s.window} | {
        i for s in splits for _, lib, _ in s.readers for i in lib
    }
    vectors = embed(corpus, needed)
    ours = Ours(corpus, vectors, needed)
    params = tune(splits[0], ours) if args.tune else Params()
    arms = {
        "ours-title-abstract": replace(params, name_weight=0.0, author_weight=0.0),
        "ours-content-only": replace(params, author_weight=0.0),
        "ours": params,
    }
    sanity = Sanity(corpus)
    sanity_text = Sanity(corpus, authors=False)
    results = []
    for split in splits:
        results.append(evaluate(split, lambda p, lib, _n: sanity.rank(p, lib, None), "sanity"))
        results.append(evaluate(split, lambda p, lib, n: sanity.rank(p, lib, n), "sanity-masked"))
        method = lambda p, lib, _n: sanity_text.rank(p, lib, None)  # noqa: E731
        results.append(evaluate(split, method, "sanity-text"))
        for label, arm in arms.items():
            results.append(evaluate(split, ours.method(arm), label))
    print("params:", params, flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "recommend_quality.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
