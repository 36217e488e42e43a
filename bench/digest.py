"""Digest benchmark: 10,000 subscribers over the demo corpus plus one real day of new arXiv papers.

    python bench/digest.py [--subscribers 10000] [--send 3000] [--cache-dir DIR] [--record]

With --cache-dir (default bench/out/digest-cache) the new day's paper vectors and the topic-vector
cache are kept between runs: a later run embeds nothing and measures the daily steady state only
(the first-run row is then left out). Delete the folder to measure the first run again.

Steps, each timed:
1. setup: the bundled demo corpus (3,014 papers, first seen a month ago) and one real arXiv
   announcement day from ../shared/data/arxiv_cs (first seen now; when that folder is missing, the
   last 600 demo papers play the new day); the new day's vectors stored as the embed job does;
   10,000 active subscriptions with varied topics (phrases from the corpus's keywords), followed
   authors and categories, and 1,000 of them signed-in readers with a library (for "for you").
2. compose + render: gather signals for all subscribers in one batch (every distinct topic
   embedded once, one matrix product against the day's papers), compose each digest and render it
   to a complete MIME message (HTML + text + headers).
3. SMTP hand-off: the rendered messages to an aiosmtpd sink server in another process on
   loopback, over one reused connection (the Mailer), no rate limit.
4. end to end: `send_due_digests` (claim in the ledger, compose, render, send, record) for the
   first --send subscribers against the same server.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, update

import paperroute
from paperroute.config import load_settings
from paperroute.digest.delivery import DeliveryOptions, compose_for, reader_since, send_due_digests
from paperroute.digest.render import digest_message
from paperroute.digest.signals import gather_inputs, load_pool
from paperroute.mail.smtp import Mailer
from paperroute.search.embedder import paper_text
from paperroute.search.service import SearchService
from paperroute.sources.files import read_file
from paperroute.sources.jsonl import record_from_listing
from paperroute.store import schema
from paperroute.store.engine import make_engine, migrate
from paperroute.store.papers import get_papers, upsert_records
from paperroute.store.subscriptions import list_subscriptions

sys.path.insert(0, str(Path(__file__).parent))
from _record import record_section  # noqa: E402

DEMO = Path(paperroute.__file__).parent / "data" / "demo_papers.jsonl.gz"
ARXIV = Path("/work/shared/data/arxiv_cs/arxiv_cs_papers.jsonl.gz")
NEW_DAY = "2026-06-02"  # a real announcement day of the crawl (713 papers)
# Topic phrases, each with the papers of NEW_DAY that should match it (labelled by reading
# every title of the day, before either matcher was run on it).
LABELLED_TOPICS = Path(__file__).parent / "queries" / "topics.jsonl"
# Precision@5 of the matcher digests used before topics went through the search service
# (digest/signals.match_topics at 8cee005^: its own BM25 + reciprocal-rank fusion over the pool),
# measured on the same labelled phrases and day (0.6, 0.4, 1.0, 0.6, 1.0 per phrase).
OLD_MATCHER_PRECISION = 0.72
CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "cs.RO", "cs.IR", "stat.ML", "cs.SD"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_day_records(limit: int) -> list:
    if not ARXIV.exists():
        return []
    out = []
    with gzip.open(ARXIV, "rt") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj.get("first_seen") == NEW_DAY:
                out.append(record_from_listing(obj))
                if len(out) >= limit:
                    break
    return out


def day_vectors(search, new_papers, cache: Path | None):
    """The new day's vectors: from the cache when it holds exactly these papers, else embedded."""
    path = cache / "new-day.npz" if cache else None
    ids = [p.id for p in new_papers]
    if path and path.exists():
        with np.load(path, allow_pickle=False) as data:
            if data["ids"].tolist() == ids:
                return data["vectors"], True
    vectors = search.embedder.embed([paper_text(p.title, p.abstract) for p in new_papers])
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, ids=np.array(ids, dtype=str), vectors=vectors)
    return vectors, False


def setup(
    engine, settings, search, n_subs: int, rng: random.Random, cache: Path | None = None
) -> dict:
    """The corpus, the new day with stored vectors, and the subscribers."""
    started = time.perf_counter()
    demo = [r for r in read_file(DEMO) if not isinstance(r, Exception)]
    upsert_records(engine, demo)
    month_ago = datetime.now(UTC) - timedelta(days=30)
    with engine.begin() as conn:
        conn.execute(update(schema.papers).values(first_seen=month_ago))
    fresh = new_day_records(800) or demo[-600:]
    upsert_records(engine, fresh)
    since = datetime.now(UTC) - timedelta(hours=23)
    with engine.begin() as conn:
        conn.execute(
            update(schema.papers)
            .where(schema.papers.c.id.in_([r.id for r in fresh]))
            .values(first_seen=datetime.now(UTC))
        )
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    new_papers = get_papers(engine, [r.id for r in fresh], with_versions=False)
    vectors, cached = day_vectors(search, new_papers, cache)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(schema.embeddings),
            [
                {"paper_id": p.id, "model": settings.embedding_model, "content_hash": "bench",
                 "dim": v.shape[0], "vector": v.astype("<f4").tobytes(), "created_at": now}
                for p, v in zip(new_papers, vectors, strict=True)
            ],
        )  # fmt: skip
    embedded = time.perf_counter() - started
    started = time.perf_counter()
    make_subscribers(engine, n_subs, demo, new_papers, rng)
    return {
        "papers_total": len(demo) + len(fresh),
        "papers_new": len(new_papers),
        "load_s": loaded,
        "embed_new_s": embedded,
        "embed_cached": cached,
        "subscribers_s": time.perf_counter() - started,
        "since": since,
    }


def make_subscribers(engine, n: int, demo, new_papers, rng: random.Random) -> None:
    """n active subscriptions; every tenth one belongs to a user with 5 voted papers and 2
    papers marked "not interested"."""
    phrases = sorted({k for r in demo for k in (r.keywords or []) if 3 <= len(k) <= 60})
    authors = sorted({a.name for p in new_papers for a in p.authors})
    now = datetime.now(UTC)
    users, subs, votes = [], [], []
    for i in range(n):
        uid = i // 10 + 1 if i % 10 == 0 else None
        if uid:
            users.append({"id": uid, "email": f"user{i}@bench.example", "is_admin": False,
                          "created_at": now})  # fmt: skip
            votes += [
                {"user_id": uid, "paper_id": p.id, "created_at": now}
                for p in rng.sample(new_papers, 5)
            ]
        subs.append({
            "email": f"reader{i}@bench.example", "user_id": uid, "status": "active",
            "cadence": "daily", "weekday": 0, "send_hour": 0, "timezone": "UTC",
            "sections": {"topics": 3, "authors": 5, "categories": 3, "for_you": 3, "trending": 5},
            "topics": rng.sample(phrases, rng.randint(1, 3)),
            "follow_authors": rng.sample(authors, rng.randint(0, 2)),
            "follow_categories": rng.sample(CATEGORIES, rng.randint(0, 2)),
            "send_empty": False, "hard_bounces": 0, "created_at": now, "confirmed_at": now,
        })  # fmt: skip
    # A separate generator, so the subscribers are the same as before negatives were added.
    neg_rng = random.Random(11)
    marks = [
        {"user_id": u["id"], "paper_id": p.id, "created_at": now}
        for u in users
        for p in neg_rng.sample(new_papers, 2)
        if p.id not in {v["paper_id"] for v in votes if v["user_id"] == u["id"]}
    ]
    with engine.begin() as conn:
        if users:
            conn.execute(insert(schema.users), users)
            conn.execute(insert(schema.votes), votes)
            conn.execute(insert(schema.not_interested), marks)
        for start in range(0, len(subs), 2000):
            conn.execute(insert(schema.subscriptions), subs[start : start + 2000])


def topic_quality(search, since) -> dict:
    """Precision@5 of the digest's topic match on the labelled phrases (hits among the first 5,
    over min(5, labelled papers)), when the new day is the real arXiv day."""
    labels = [json.loads(line) for line in LABELLED_TOPICS.read_text().splitlines() if line]
    matched = search.match_topics([x["topic"] for x in labels], since)
    per = {}
    for x in labels:
        top = matched[x["topic"]][:5]
        per[x["topic"]] = len(set(top) & set(x["relevant"])) / min(5, len(x["relevant"]))
    return {"per_topic": per, "mean": sum(per.values()) / len(per)}


def timed(obj, name: str) -> dict:
    """Wrap obj.name to add up its wall time in the returned dict's "s" (bench instrumentation)."""
    timer = {"s": 0.0}
    method = getattr(type(obj), name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(obj, *args, **kwargs)
        finally:
            timer["s"] += time.perf_counter() - started

    setattr(obj, name, wrapper)
    return timer


def compose_all(engine, settings, moment, search):
    """Signals for everyone in one batch, then compose + render each digest."""
    subs = list_subscriptions(engine, "active")
    topics_timer = timed(search, "match_topics")
    started, cpu = time.perf_counter(), time.process_time()
    since = reader_since(engine, subs, moment)
    pool = load_pool(engine, min(since.values()))
    inputs = gather_inputs(engine, settings, subs, since, search, moment, pool=pool)
    gathered = time.perf_counter() - started
    messages, sizes, for_you = [], [], 0
    for reader in inputs:
        digest = compose_for(reader, "2026-06-02")
        if digest.is_empty:
            continue
        for_you += any(s.key == "for_you" for s in digest.sections)
        sizes.append(len(digest.paper_ids))
        messages.append(digest_message(settings, reader.subscription, digest))
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu
    unique_topics = len({t for s in subs for t in s.prefs.topics})
    stats = {"signals_s": gathered, "compose_render_s": total, "cpu_s": cpu,
             "topics_s": topics_timer["s"], "digests": len(messages),
             "mean_papers": sum(sizes) / max(1, len(sizes)), "unique_topics": unique_topics,
             "pool": len(pool.papers), "for_you": for_you}  # fmt: skip
    return messages, stats


def start_sink(port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
           "-c", "aiosmtpd.handlers.Sink"]  # fmt: skip
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    raise RuntimeError("aiosmtpd sink did not start")


def hand_off(settings, messages) -> dict:
    started = time.perf_counter()
    with Mailer(settings, rate=0) as mailer:
        for msg in messages:
            mailer.send(msg)
    elapsed = time.perf_counter() - started
    return {"sent": len(messages), "send_s": elapsed, "per_s": len(messages) / elapsed}


def end_to_end(engine, settings, limit: int, search) -> dict:
    """send_due_digests for `limit` subscribers (the rest are paused for this run)."""
    subs = list_subscriptions(engine, "active")
    keep = {s.id for s in subs[:limit]}
    with engine.begin() as conn:
        conn.execute(
            update(schema.subscriptions)
            .where(schema.subscriptions.c.id.not_in(keep))
            .values(status="paused")
        )
    started = time.perf_counter()
    report = send_due_digests(settings, engine, search, options=DeliveryOptions(batch_size=1000))
    elapsed = time.perf_counter() - started
    handled = report.sent + report.skipped_empty
    return {"e2e_sent": report.sent, "e2e_empty": report.skipped_empty, "e2e_s": elapsed,
            "e2e_per_s": handled / elapsed}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--send", type=int, default=3000, help="subscribers for the e2e run")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(__file__).parent / "out" / "digest-cache",
        help="keep the new day's vectors and topic vectors here between runs ('' to disable)",
    )
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    rng = random.Random(7)
    load_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    port = free_port()
    settings = load_settings(
        data_dir=workdir, load_demo=False, smtp_host="127.0.0.1", smtp_port=port,
        mail_rate_per_second=0,
        base_url="https://papers.example.org",
    )  # fmt: skip
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    cache = args.cache_dir if str(args.cache_dir) not in ("", ".") else None
    search = SearchService(settings, engine)  # one per process, as the worker has
    info = setup(engine, settings, search, args.subscribers, rng, cache)
    search.open()
    topics_file = search.phrases.path
    cached_topics = cache / topics_file.name if cache else None
    if cached_topics and cached_topics.exists():
        topics_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cached_topics, topics_file)
    print(f"setup: {info['papers_total']} papers, {info['papers_new']} new; load "
          f"{info['load_s']:.1f}s, embed day {info['embed_new_s']:.1f}s", flush=True)  # fmt: skip
    moment = datetime.now(UTC)
    cold = None
    if not topics_file.exists():
        _, cold = compose_all(engine, settings, moment, search)
        print(f"compose+render, cold topic cache: {cold['compose_render_s']:.1f}s "
              f"(signals {cold['signals_s']:.1f}s)", flush=True)  # fmt: skip
        if cached_topics:
            shutil.copy(topics_file, cached_topics)
    else:
        # A fresh process: the first run loads the model and libraries, as the worker does once.
        _, warm = compose_all(engine, settings, moment, search)
        print(f"compose+render, first run in a fresh process (cached topics): "
              f"{warm['compose_render_s']:.1f}s (signals {warm['signals_s']:.1f}s)",
              flush=True)  # fmt: skip
        if cached_topics:  # phrases new to this run are kept for the next one
            shutil.copy(topics_file, cached_topics)
    messages, comp = compose_all(engine, settings, moment, search)
    print(f"compose+render: {args.subscribers} subscribers -> {comp['digests']} digests "
          f"(mean {comp['mean_papers']:.1f} papers, {comp['unique_topics']} distinct topics, "
          f"pool {comp['pool']}, {comp['for_you']} with a for-you section) in "
          f"{comp['compose_render_s']:.1f}s (signals {comp['signals_s']:.1f}s, of which topic "
          f"matching {comp['topics_s']:.1f}s; process CPU {comp['cpu_s']:.1f}s; load "
          f"{os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    quality = topic_quality(search, info["since"]) if new_day_records(1) else None
    if quality:
        per = ", ".join(f"{t}: {p:.1f}" for t, p in quality["per_topic"].items())
        print(f"topic quality: precision@5 {quality['mean']:.2f} ({per})", flush=True)
    sink = start_sink(port)
    try:
        send = hand_off(settings, messages)
        print(f"SMTP hand-off: {send['sent']} messages in {send['send_s']:.1f}s = "
              f"{send['per_s']:.0f} msg/s", flush=True)  # fmt: skip
        e2e = end_to_end(engine, settings, args.send, search)
        print(f"end to end (claim+compose+render+send+record): {e2e['e2e_sent']} sent, "
              f"{e2e['e2e_empty']} empty in {e2e['e2e_s']:.1f}s = {e2e['e2e_per_s']:.0f} "
              "digests/s", flush=True)  # fmt: skip
    finally:
        sink.terminate()
    load = os.getloadavg()[0]
    quality_row = ""
    if quality:
        quality_row = (
            f"| topic precision@5, {len(quality['per_topic'])} labelled phrases "
            f"(`bench/queries/topics.jsonl`, arXiv {NEW_DAY}) | **{quality['mean']:.2f}** "
            f"(before, the digest's own BM25 + RRF matcher: {OLD_MATCHER_PRECISION:.2f}) | "
            "not lower than before |\n"
        )
    embed_row = cold_row = cached_note = ""
    if not cold:
        cached_note = (
            "This run reused the new day's vectors and the topic vectors from `--cache-dir` (the\n"
            "first-run and embedding rows are measured only when that folder is empty).\n"
        )
    if not info["embed_cached"]:
        embed_row = (
            "| embed the new day (embed job, not part of digests) | "
            f"{info['embed_new_s']:.1f} s | |\n"
        )
    if cold:
        cold_row = (
            f"| compose + render {args.subscribers} digests, first run: all "
            f"{comp['unique_topics']} distinct topics embedded | {cold['compose_render_s']:.1f} s "
            f"(signals {cold['signals_s']:.1f} s) | |\n"
        )
    if args.record:
        record_section(
            "Digests",
            "python bench/digest.py --record",
            f"""
| step | result | target |
|---|---|---|
| corpus | {info["papers_total"]} papers ({info["papers_new"]} new today: arXiv {NEW_DAY}) | |
{embed_row}{cold_row}| compose + render {args.subscribers} digests, daily steady state (topic vectors cached on disk, warm worker process) | **{comp["compose_render_s"]:.1f} s** (signals {comp["signals_s"]:.1f} s, of which matching {comp["unique_topics"]} distinct topics {comp["topics_s"]:.1f} s; process CPU {comp["cpu_s"]:.1f} s), {comp["digests"]} non-empty ({comp["for_you"]} with "for you"), mean {comp["mean_papers"]:.1f} papers | ≤ 60 s |
{quality_row}| hand {send["sent"]} messages to loopback SMTP (aiosmtpd sink, one reused connection) | **{send["per_s"]:.0f} msg/s** ({send["send_s"]:.1f} s) | ≥ 100 msg/s |
| end to end `send_due_digests` on SQLite, {args.send} subscribers (ledger claim + compose + render + send + record) | {e2e["e2e_per_s"]:.0f} digests/s ({e2e["e2e_s"]:.1f} s) | |

Load average (1 min) at the start of the run {load_start:.1f}, at the end {load:.1f}, on 2 cores
shared with other work: wall times stretch with the load, process CPU time much less.

Topics are ranked by the search service (`SearchService.match_topics`: the same tantivy BM25 +
vectors + fusion as `/search`, restricted to the window's papers), the window's rows, vectors
and lexical filter read once per run. "For you" is `Recommender.for_readers`, the recommender
behind /for-you and its API, called once for every signed-in reader of the window (1 in 10, each
with 5 upvoted papers and 2 "not interested" marks).
{cached_note}The first run embeds every distinct topic phrase once; the vectors are kept in
`data_dir/cache/phrases-<model>.npz`, so each later run embeds only phrases it has not seen (a new
reader's topics are also embedded when their first digest is composed). The steady state is what a
daily run costs. End to end is bounded by two ledger commits per digest (claim, then record) —
kept per digest on purpose so that a crash can re-send at most the one digest in flight — and by
`mail_rate_per_second` (50 by default).
""",  # noqa: E501
        )


if __name__ == "__main__":
    main()
