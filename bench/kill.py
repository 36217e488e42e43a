"""Crash safety: SIGKILL at random points of an import, a library import, a digest send and the
worker, then run each again to completion and check that nothing was lost or half-written.

    .venv/bin/python bench/kill.py [--kills 6] [--seed 1] [--record]

Each of the four phases is killed `--kills` times (24 kills by default) at a random moment. After
every kill: SQLite's `PRAGMA integrity_check` must say ok, and no collection may exist without its
papers. At the end of each phase:
- import: every paper of the demo corpus is in the store (0 records lost);
- library import: the collection holds every cited paper;
- digest send: every subscriber got its digest (0 mails lost), and a subscriber who got two copies
  got them with the same Message-ID, at most one duplicate per kill (SMTP cannot promise more: a
  kill between the server's 250 and the ledger commit sends that one message again);
- worker: a run after the kills finishes its jobs.
The SMTP server is aiosmtpd on loopback inside this process, recording each message's recipient
and Message-ID.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).parent))
from _record import record_section  # noqa: E402
from paperroute.sources.demo import demo_corpus_path, demo_vectors_path  # noqa: E402
from paperroute.store.embeddings import load_precomputed  # noqa: E402
from paperroute.store.engine import make_engine  # noqa: E402
from paperroute.store.subscriptions import (  # noqa: E402
    Preferences,
    confirm_subscription,
    subscribe,
)
from web import PAPERROUTE, free_port  # noqa: E402

LEASE_S = 3  # digest claims lapse after this (300 s by default): the final run re-sends them


class Recorder:
    """aiosmtpd handler: remembers (recipient, Message-ID) of every accepted message."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message_id = message_from_bytes(envelope.content).get("Message-ID", "")
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt.lower(), message_id))
        return "250 OK"


def run(args: list[str], env: dict, kill_after: float | None) -> bool:
    """Run a paperroute command; SIGKILL it after `kill_after` s. True if it was killed."""
    proc = subprocess.Popen([*PAPERROUTE, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        proc.wait(timeout=kill_after)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def check_db(db: Path) -> list[str]:
    """Problems after a kill: integrity, and collections left without their papers."""
    with sqlite3.connect(db) as conn:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        empty = conn.execute(
            "SELECT count(*) FROM collections c WHERE NOT EXISTS "
            "(SELECT 1 FROM collection_items i WHERE i.collection_id = c.id)"
        ).fetchone()[0]
    if empty:
        problems.append(f"{empty} collection(s) without papers")
    return problems


def count(db: Path, sql: str) -> int:
    """One number from the store."""
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def full_run_seconds(cmd, env, work: Path) -> float:
    """How long `cmd` takes from start to end, timed on a copy of the data dir (so that kills
    can land anywhere inside a run, start-up included, rather than after it ended)."""
    scratch = work.with_name(work.name + "-timing")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    # SQLite's online backup, not a file copy: a copied -wal/-shm pair is not a database.
    with (
        sqlite3.connect(work / "paperroute.db") as src,
        sqlite3.connect(scratch / "paperroute.db") as dst,
    ):
        src.backup(dst)
    src.close()
    dst.close()
    started = time.monotonic()
    run(cmd, {**env, "PAPERROUTE_DATA_DIR": str(scratch)}, None)
    shutil.rmtree(scratch, ignore_errors=True)
    return time.monotonic() - started


def killed_phase(name, cmd, env, work, kills, rng, log, recorder=None) -> int:
    """Kill `cmd` `kills` times at random moments of a run, checking the store after each;
    then run it to the end. Returns how many kills landed."""
    span = full_run_seconds(cmd, env, work)
    if recorder is not None:
        recorder.received.clear()  # the timing run's mail went to another data dir
    done = 0
    for _ in range(kills):
        if run(cmd, env, rng.uniform(0.15 * span, 0.95 * span)):
            done += 1
        for problem in check_db(work / "paperroute.db"):
            log.append(f"{name}: after a kill: {problem}")
    time.sleep(LEASE_S + 0.5)  # a killed sender's claim lapses first (it is re-sent, not lost)
    run(cmd, env, None)
    return done


def demo_ids() -> list[str]:
    """The distinct paper ids of the bundled demo corpus."""
    with gzip.open(demo_corpus_path(), "rt") as fh:
        return sorted({json.loads(line)["paper"]["id"] for line in fh if line.strip()})


def main() -> None:
    """Four killed phases; prints (and records) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=12, help="kills per phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="Keep the data dir for a look.")
    parser.add_argument("--record", action="store_true", help="Write docs/benchmarks.md.")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    recorder = Recorder()
    smtp_port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    work = Path(tempfile.mkdtemp(prefix="paperroute-kill-"))
    env = {**os.environ, "PAPERROUTE_DATA_DIR": str(work), "HF_HUB_OFFLINE": "1",
           "PAPERROUTE_SMTP_HOST": "127.0.0.1", "PAPERROUTE_SMTP_PORT": str(smtp_port),
           "PAPERROUTE_LOAD_DEMO": "false"}  # fmt: skip
    db, log, rows = work / "paperroute.db", [], []
    try:
        run(["init"], env, None)
        ids = demo_ids()
        cmd = ["import", "-q", str(demo_corpus_path())]
        k = killed_phase("import", cmd, env, work, args.kills, rng, log)
        have = count(db, "SELECT count(*) FROM papers")
        rows.append(
            ("import (demo corpus)", k, f"{have:,} of {len(ids):,} papers", have == len(ids))
        )

        bib = work / "library.bib"
        cited = ids[:1500]
        entry = "@misc{{r{0},\n  eprint = {{{1}}},\n  archivePrefix = {{arXiv}}\n}}\n"
        bib.write_text("".join(entry.format(i, p) for i, p in enumerate(cited)))
        run(["users", "add", "reader@kill.example"], env, None)
        cmd = [
            "library",
            "import",
            "reader@kill.example",
            str(bib),
            "--collection",
            "Killed",
            "--offline",
        ]
        k = killed_phase("library import", cmd, env, work, args.kills, rng, log)
        held = count(db, "SELECT max(n) FROM (SELECT count(*) n FROM collection_items "
                         "GROUP BY collection_id)")  # fmt: skip
        rows.append(("library import (1,500 entries)", k, f"{held or 0:,} of {len(cited):,}"
                     " papers in the collection", (held or 0) == len(cited)))  # fmt: skip

        hour = datetime.now(UTC).hour
        engine = make_engine(f"sqlite:///{db}")
        for i in range(args.subscribers):  # confirmed, as their links would be
            prefs = Preferences(cadence="daily", send_hour=hour, topics=["agents"])
            confirm_subscription(engine, subscribe(engine, f"s{i}@kill.example", prefs).id)
        load_precomputed(engine, demo_vectors_path())  # as `serve` does
        engine.dispose()  # this process holds no connection while the others are killed
        recorder.received.clear()
        k = killed_phase(
            "digest send",
            ["digest", "send", "--lease-seconds", str(LEASE_S)],
            env,
            work,
            args.kills,
            rng,
            log,
            recorder,
        )
        by_rcpt = defaultdict(list)
        for rcpt, mid in recorder.received:
            by_rcpt[rcpt].append(mid)
        subs = {f"s{i}@kill.example" for i in range(args.subscribers)}
        lost = len(subs - set(by_rcpt))
        dups = sum(len(m) - 1 for r, m in by_rcpt.items() if r in subs)
        mixed = sum(1 for r, m in by_rcpt.items() if r in subs and len(set(m)) > 1)
        ok = lost == 0 and dups <= k and mixed == 0
        rows.append(
            (
                f"digest send ({args.subscribers} digests)",
                k,
                f"{lost} lost, {dups} duplicate(s), {mixed} with a new Message-ID",
                ok,
            )
        )

        k = killed_phase("worker", ["worker", "--once"], env, work, args.kills, rng, log)
        rows.append(("worker --once", k, "ran to the end after the kills",
                     not any(line.startswith("worker") for line in log)))  # fmt: skip
    finally:
        controller.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    total = sum(r[1] for r in rows)
    body = [f"{total} SIGKILLs in all; after each, `PRAGMA integrity_check` and a look for "
            "collections without papers.", "", "| phase | kills | after re-running | ok |",
            "|---|---|---|---|"]  # fmt: skip
    body += [
        f"| {name} | {k} | {what} | {'yes' if ok else '**no**'} |" for name, k, what, ok in rows
    ]
    if log:
        body += ["", "Problems seen: " + "; ".join(log[:10])]
    summary = "\n".join(body)
    print(summary)
    if args.record:
        record_section("Crash safety: SIGKILL at random points", "bench/kill.py", summary)


if __name__ == "__main__":
    main()
