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
from collections import defaultdict
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).parent))
from _record import record_section  # noqa: E402
from paperroute.sources.demo import demo_corpus_path  # noqa: E402
from web import PAPERROUTE, free_port  # noqa: E402


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


def killed_phase(name, cmd, env, db, kills, rng, lo, hi, log) -> int:
    """Kill `cmd` `kills` times at random moments, checking the store after each; then finish."""
    done = 0
    for _ in range(kills):
        if run(cmd, env, rng.uniform(lo, hi)):
            done += 1
        for problem in check_db(db):
            log.append(f"{name}: after a kill: {problem}")
    run(cmd, env, None)
    return done


def demo_ids() -> list[str]:
    """The distinct paper ids of the bundled demo corpus."""
    with gzip.open(demo_corpus_path(), "rt") as fh:
        return sorted({json.loads(line)["paper"]["id"] for line in fh if line.strip()})


def main() -> None:
    """Four killed phases; prints (and records) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=6, help="kills per phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subscribers", type=int, default=300)
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
        k = killed_phase("import", ["import", "-q", str(demo_corpus_path())], env, db,
                         args.kills, rng, 0.5, 6.0, log)  # fmt: skip
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
        k = killed_phase("library import", cmd, env, db, args.kills, rng, 0.3, 4.0, log)
        held = count(db, "SELECT max(n) FROM (SELECT count(*) n FROM collection_items "
                         "GROUP BY collection_id)")  # fmt: skip
        rows.append(("library import (1,500 entries)", k, f"{held or 0:,} of {len(cited):,}"
                     " papers in the collection", (held or 0) == len(cited)))  # fmt: skip

        hour = datetime.now(UTC).hour
        for i in range(args.subscribers):
            run(["subscribe", f"s{i}@kill.example", "--hour", str(hour), "--topic", "agents"],
                env, None)  # fmt: skip
        with sqlite3.connect(db) as conn:  # confirm them all, as their links would
            conn.execute("UPDATE subscriptions SET status='active', confirmed_at=CURRENT_TIMESTAMP")
        recorder.received.clear()
        k = killed_phase("digest send", ["digest", "send"], env, db, args.kills, rng, 1.0, 8.0, log)
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

        k = killed_phase("worker", ["worker", "--once"], env, db, args.kills, rng, 1.0, 10.0, log)
        rows.append(("worker --once", k, "ran to the end after the kills",
                     not any(line.startswith("worker") for line in log)))  # fmt: skip
    finally:
        controller.stop()
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
