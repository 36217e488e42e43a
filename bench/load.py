"""Load under write contention: 40 signed-in voters and 8 readers against `paperroute serve` for
45 s, while a 45 MB library import (web upload) and a digest run (`paperroute digest send` in a
second process, to a loopback SMTP sink) go on.

    .venv/bin/python bench/load.py [--seconds 45] [--voters 40] [--readers 8] [--record]

Prints errors (any answer other than 2xx/3xx, or a dropped connection), the readers' p50/p95 and
the voters' POST p95 at the client, and checks afterwards that every paper's vote counter equals
its vote rows. Target on the 2-core machine (issue 15): 0 errors, counters equal rows, read
p95 <= 100 ms.

Each voter casts at most one vote a second (the per-member limit is 60 a minute, and a limited
vote would be a 429, not a fault) and reads the paper it voted on, as a person would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from _record import record_section  # noqa: E402
from paperroute.config import load_settings  # noqa: E402
from paperroute.store import auth  # noqa: E402
from paperroute.store.engine import make_engine  # noqa: E402
from paperroute.store.subscriptions import (  # noqa: E402
    Preferences,
    confirm_subscription,
    get_subscription_by_email,
    subscribe,
)
from web import PAPERROUTE, QUERIES, free_port, prepare, start_server  # noqa: E402

BIB_BYTES = 45 * 1024 * 1024


def sign_in(base: str, engine, email: str) -> tuple[str, str]:
    """(Cookie header, CSRF token) of a fresh signed-in session for `email`."""
    token = auth.create_login_token(engine, email)
    with httpx.Client(base_url=base) as client:
        page = client.get(f"/signin/verify?token={token}").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/signin/verify", data={"token": token, "csrf_token": csrf})
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/profile").text)[1]
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return cookie, csrf


def write_bib(path: Path, ids: list[str], size: int) -> int:
    """A BibTeX library of about `size` bytes citing demo papers (long notes fill it out)."""
    rng = random.Random(7)
    note = "A note a reader kept about this paper. " * 60
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < size:
            paper = rng.choice(ids)
            fh.write(
                f"@article{{ref{count},\n  title = {{Paper {paper}}},\n"
                f"  eprint = {{{paper}}},\n  archivePrefix = {{arXiv}},\n"
                f"  note = {{{note}}},\n}}\n\n"
            )
            count += 1
    return count


def add_subscribers(engine, n: int) -> None:
    """n confirmed daily subscriptions due this hour (so `digest send` has work)."""
    hour = datetime.now(UTC).hour
    for i in range(n):
        email = f"load{i}@bench.example"
        if get_subscription_by_email(engine, email) is None:
            prefs = Preferences(cadence="daily", send_hour=hour, topics=["language models"])
            confirm_subscription(engine, subscribe(engine, email, prefs).id)


class Connection:
    """A minimal HTTP/1.1 keep-alive client (cheap on the shared 2 cores; see bench/web.py)."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port, self.cookie = port, cookie
        self.reader = self.writer = None

    async def request(self, method: str, url: str, body: str = "", csrf: str = "") -> int:
        """Send one request; returns the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n"
        if self.cookie:
            head += f"Cookie: {self.cookie}\r\n"
        if method == "POST":
            head += "Content-Type: application/x-www-form-urlencoded\r\n"
            head += f"X-CSRF-Token: {csrf}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write((head + "\r\n" + body).encode())
        reply = await self.reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", reply)
        await self.reader.readexactly(int(length.group(1)) if length else 0)
        return int(reply[9:12])

    def close(self) -> None:
        """Close the socket."""
        if self.writer is not None:
            self.writer.close()


async def run_clients(port, voters, readers, paper_ids, seconds) -> dict:
    """Voters and readers until the clock runs out; latencies and errors."""
    stop = time.monotonic() + seconds
    reads: list[float] = []
    posts: list[float] = []
    by_kind: dict[str, list[float]] = {}
    errors: list[str] = []
    rng = random.Random(3)
    read_urls = ["/", "/trending", *[f"/search?{urlencode({'q': q})}" for q in QUERIES]]

    async def timed(conn, method, url, into, **kw) -> None:
        started = time.perf_counter()
        try:
            status = await conn.request(method, url, **kw)
        except (OSError, asyncio.IncompleteReadError) as exc:
            errors.append(f"{method} {url}: {exc!r}")
            conn.writer = None
            return
        into.append((time.perf_counter() - started) * 1000)
        kind = f"{method} /{url.split('/')[1].split('?')[0]}" + (
            " (signed in)" if conn.cookie else ""
        )
        by_kind.setdefault(kind, []).append(into[-1])
        if status >= 400:
            errors.append(f"{method} {url}: HTTP {status}")

    async def voter(cookie: str, csrf: str) -> None:
        conn = Connection(port, cookie)
        while time.monotonic() < stop:
            began = time.monotonic()
            paper = rng.choice(paper_ids)
            await timed(conn, "POST", f"/papers/{paper}/upvote", posts, csrf=csrf)
            await timed(conn, "GET", f"/papers/{paper}", reads)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
        conn.close()

    async def reader() -> None:
        conn = Connection(port, "")
        while time.monotonic() < stop:
            url = rng.choice(read_urls + [f"/papers/{rng.choice(paper_ids)}"])
            await timed(conn, "GET", url, reads)
        conn.close()

    await asyncio.gather(*(voter(*v) for v in voters), *(reader() for _ in range(readers)))
    return {"reads": reads, "posts": posts, "errors": errors, "by_kind": by_kind}


def upload_library(base: str, cookie: str, csrf: str, path: Path, out: dict) -> None:
    """POST the library file as the import form does, then wait for the import to finish."""
    started = time.perf_counter()
    headers = {"Cookie": cookie, "X-CSRF-Token": csrf}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client, path.open("rb") as fh:
        reply = client.post(
            "/for-you/import",
            files={"library": (path.name, fh, "application/x-bibtex")},
            data={"collection": "Load test", "csrf_token": csrf},
        )
        out["upload_status"] = reply.status_code
        out["upload_answered_s"] = time.perf_counter() - started
        location = reply.headers.get("location")
        while location and time.perf_counter() - started < 600:  # a background import: poll it
            state = client.get(location, params={"format": "json"}).json()
            if state.get("status") in {"done", "failed"}:
                out["import_status"] = state.get("status")
                break
            time.sleep(1)
    out["import_s"] = time.perf_counter() - started


def run_digest(env: dict, out: dict) -> None:
    """`paperroute digest send` in its own process, as a worker would run it."""
    started = time.perf_counter()
    done = subprocess.run([*PAPERROUTE, "digest", "send"], env=env, capture_output=True, text=True)
    out["digest_rc"] = done.returncode
    out["digest_s"] = time.perf_counter() - started
    out["digest_report"] = done.stdout.strip()[-300:]


def vote_mismatches(engine) -> int:
    """Papers whose upvote counter differs from their vote rows."""
    query = text(
        "SELECT count(*) FROM papers p WHERE p.upvotes <> "
        "(SELECT count(*) FROM votes v WHERE v.paper_id = p.id)"
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def main() -> None:
    """Prepare, serve, load, check, print (and record)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/paperroute-load"))
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--voters", type=int, default=40)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--without", default="", help="Leave out: import, digest (comma list).")
    parser.add_argument("--record", action="store_true", help="Write docs/benchmarks.md.")
    args = parser.parse_args()
    prepare(args.data_dir)
    smtp_port, port = free_port(), free_port()
    env = {**os.environ, "PAPERROUTE_DATA_DIR": str(args.data_dir), "HF_HUB_OFFLINE": "1",
           "PAPERROUTE_SMTP_HOST": "127.0.0.1", "PAPERROUTE_SMTP_PORT": str(smtp_port)}  # fmt: skip
    os.environ.update(env)
    sink = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    sink.start()
    server = start_server(args.data_dir, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    engine = make_engine(load_settings(data_dir=args.data_dir).sqlalchemy_url)
    try:
        ids = [e["paper"]["id"] for e in httpx.get(f"{base}/api/daily_papers?limit=100").json()]
        sessions = [sign_in(base, engine, f"voter{i}@bench.example") for i in range(args.voters)]
        importer = sign_in(base, engine, "importer@bench.example")
        add_subscribers(engine, args.subscribers)
        bib = args.data_dir / "library-45mb.bib"
        entries = write_bib(bib, ids, BIB_BYTES)
        httpx.get(f"{base}/search", params={"q": "warm up"}, timeout=120)
        side: dict = {}
        threads = []
        if "import" not in args.without:
            threads.append(
                threading.Thread(target=upload_library, args=(base, *importer, bib, side))
            )
        if "digest" not in args.without:
            threads.append(threading.Thread(target=run_digest, args=(env, side)))
        for t in threads:
            t.start()
        result = asyncio.run(run_clients(port, sessions, args.readers, ids, args.seconds))
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(20)
        sink.stop()
    summary = summarise(result, side, vote_mismatches(engine), entries, args)
    print(summary)
    if args.record:
        record_section(
            "Load: voters, readers, an import and a digest run", "bench/load.py", summary
        )


def summarise(result: dict, side: dict, mismatches: int, entries: int, args) -> str:
    """The Markdown table of one run."""
    reads, posts = result["reads"], result["posts"]
    rq, pq = statistics.quantiles(reads, n=100), statistics.quantiles(posts, n=100)
    lines = [
        f"{args.voters} signed-in voters (<= 1 vote/s each, then the paper page) and "
        f"{args.readers} closed-loop readers for {args.seconds:g} s against `paperroute serve` "
        f"(SQLite, demo corpus), while a {BIB_BYTES // 2**20} MB BibTeX file ({entries:,} "
        f"entries) is uploaded to /for-you/import and `paperroute digest send` runs for "
        f"{args.subscribers} subscribers in a second process.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| errors (non-2xx/3xx or dropped) | {len(result['errors'])} | 0 |",
        f"| reads | {len(reads):,}, p50 {rq[49]:.1f} ms, p95 {rq[94]:.1f} ms | p95 <= 100 ms |",
        f"| vote POSTs | {len(posts):,}, p95 {pq[94]:.1f} ms | |",
        f"| papers whose counter != vote rows | {mismatches} | 0 |",
        f"| upload answered (HTTP {side.get('upload_status')}) | "
        f"{side.get('upload_answered_s', 0):.2f} s; import {side.get('import_status')} after "
        f"{side.get('import_s', 0):.1f} s | |",
        f"| digest send (exit {side.get('digest_rc')}) | {side.get('digest_s', 0):.1f} s | |",
    ]
    lines += ["", "| request | count | p50 | p95 |", "|---|---|---|---|"]
    for kind, values in sorted(result["by_kind"].items()):
        q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        lines.append(f"| {kind} | {len(values):,} | {q[49]:.1f} ms | {q[94]:.1f} ms |")
    if result["errors"]:
        lines += ["", "First errors: " + "; ".join(sorted(set(result["errors"]))[:5])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
