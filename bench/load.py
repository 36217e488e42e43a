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
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from _procstat import process_cpu_ms, split_cpu_ms, threads_cpu_ns  # noqa: E402
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


def warm_up(base: str, cookie: str, paper: str) -> None:
    """One request of each kind first (search loads its model, templates compile once), as a
    server that has been running a while has done."""
    with httpx.Client(base_url=base, timeout=120) as anon:
        anon.get("/search", params={"q": "warm up"})
        for path in ("/", "/trending", f"/papers/{paper}"):
            anon.get(path)
    httpx.get(f"{base}/papers/{paper}", headers={"Cookie": cookie}, timeout=120)


RUN = datetime.now(UTC).strftime("%Y%m%d%H%M%S")  # new subscribers and collection each run


def add_subscribers(engine, n: int) -> None:
    """n confirmed daily subscriptions due this hour (so `digest send` has work), new for this
    run: those of an earlier run in the same data directory got today's digest already."""
    hour = datetime.now(UTC).hour
    for i in range(n):
        email = f"load{RUN}-{i}@bench.example"
        if get_subscription_by_email(engine, email) is None:
            prefs = Preferences(cadence="daily", send_hour=hour, topics=["language models"])
            confirm_subscription(engine, subscribe(engine, email, prefs).id)


class Connection:
    """A minimal HTTP/1.1 keep-alive client (cheap on the shared 2 cores; see bench/web.py).

    `reconnect`: when the server has closed an idle keep-alive connection (uvicorn does after
    5 s), open a new one and send again, as browsers do; off during the load, where a closed
    connection is counted as an error.
    """

    def __init__(self, port: int, cookie: str, reconnect: bool = False) -> None:
        self.port, self.cookie, self.reconnect = port, cookie, reconnect
        self.reader = self.writer = None

    async def request(self, method: str, url: str, body: str = "", csrf: str = "") -> int:
        """Send one request; returns the status code."""
        fresh = self.writer is None
        if fresh:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n"
        if self.cookie:
            head += f"Cookie: {self.cookie}\r\n"
        if method == "POST":
            head += "Content-Type: application/x-www-form-urlencoded\r\n"
            head += f"X-CSRF-Token: {csrf}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write((head + "\r\n" + body).encode())
        try:
            reply = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError):
            if fresh or not self.reconnect:
                raise
            self.close()
            self.writer = None
            return await self.request(method, url, body, csrf)
        length = re.search(rb"(?i)content-length: *(\d+)", reply)
        await self.reader.readexactly(int(length.group(1)) if length else 0)
        return int(reply[9:12])

    def close(self) -> None:
        """Close the socket."""
        if self.writer is not None:
            self.writer.close()


def client_share(port, voters, readers, paper_ids, start_at, seconds, seed, nice, cpus) -> dict:
    """One client process's share of the voters and readers (picklable: runs under spawn).

    Returns what run_clients measured, plus this process's own CPU time and wall time, so a
    run can tell how much of the two cores the load generator itself took.
    """
    if cpus:
        os.sched_setaffinity(0, cpus)
    if nice:
        os.nice(nice)
    time.sleep(max(0.0, start_at - time.time()))  # every process starts together
    cpu, wall = time.process_time(), time.perf_counter()
    result = asyncio.run(run_clients(port, voters, readers, paper_ids, seconds, seed))
    result["cpu_s"] = time.process_time() - cpu
    result["wall_s"] = time.perf_counter() - wall
    return result


async def run_clients(port, voters, readers, paper_ids, seconds, seed=3) -> dict:
    """Voters and readers until the clock runs out; latencies and errors."""
    stop = time.monotonic() + seconds
    reads: list[float] = []
    posts: list[float] = []
    by_kind: dict[str, list[float]] = {}
    errors: list[str] = []
    rng = random.Random(seed)
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
        by_kind.setdefault(route_kind(method, url, bool(conn.cookie)), []).append(into[-1])
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


def route_kind(method: str, url: str, signed_in: bool) -> str:
    """The row a request is counted in: method, first path segment, signed in or not."""
    return f"{method} /{url.split('/')[1].split('?')[0]}" + (" (signed in)" if signed_in else "")


def run_load(args, port: int, sessions: list, ids: list[str]) -> dict:
    """Every voter and reader, in `args.client_procs` processes of their own (or in this one).

    Out of this process, the clients share no interpreter lock with the SMTP sink, the upload
    thread and the digest's waiter, which all run here.
    """
    procs = max(1, args.client_procs)
    shares = [
        (sessions[i::procs], args.readers // procs + (i < args.readers % procs))
        for i in range(procs)
    ]
    if args.client_procs == 0:
        result = asyncio.run(run_clients(port, sessions, args.readers, ids, args.seconds))
        return {**result, "client_cpu_s": None, "client_wall_s": args.seconds}
    start_at = time.time() + 3  # long enough for every spawned process to import this module
    cpus = {int(c) for c in args.client_cpus.split(",") if c}
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(procs, mp_context=spawn) as pool:
        futures = [
            pool.submit(
                client_share,
                port,
                voters,
                readers,
                ids,
                start_at,
                args.seconds,
                3 + i,
                args.client_nice,
                cpus,
            )  # fmt: skip
            for i, (voters, readers) in enumerate(shares)
        ]
        parts = [f.result() for f in futures]
    merged: dict = {"reads": [], "posts": [], "errors": [], "by_kind": {}}
    for part in parts:
        for key in ("reads", "posts", "errors"):
            merged[key] += part[key]
        for kind, values in part["by_kind"].items():
            merged["by_kind"].setdefault(kind, []).extend(values)
    merged["client_cpu_s"] = sum(p["cpu_s"] for p in parts)
    merged["client_wall_s"] = max(p["wall_s"] for p in parts)
    return merged


async def measure_costs(pid: int, port: int, sessions: list, ids: list[str], n: int) -> dict:
    """Server CPU per request, by kind, with one client at a time and nothing else running.

    Each request's cost is the server's CPU (every thread, exact) from sending it to reading
    the answer; the kinds and their order are those of the load (a vote, then that paper).
    """
    rng = random.Random(11)
    costs: dict[str, list[float]] = {}
    anon = Connection(port, "", reconnect=True)
    voters = [(Connection(port, cookie, reconnect=True), csrf) for cookie, csrf in sessions]

    async def cost(kind: str, conn: Connection, method: str, url: str, **kw) -> None:
        before = threads_cpu_ns(pid)
        await conn.request(method, url, **kw)
        main, rest = split_cpu_ms(pid, before, threads_cpu_ns(pid))
        costs.setdefault(kind, []).append(main + rest)

    for i in range(n):
        await cost("GET / (anonymous)", anon, "GET", "/")
        await cost("GET /trending (anonymous)", anon, "GET", "/trending")
        query = QUERIES[i % len(QUERIES)]
        await cost("GET /search (anonymous)", anon, "GET", f"/search?{urlencode({'q': query})}")
        await cost("GET /papers/{id} (anonymous)", anon, "GET", f"/papers/{rng.choice(ids)}")
        conn, csrf = voters[i % len(voters)]
        paper = rng.choice(ids)
        await cost("POST upvote (signed in)", conn, "POST", f"/papers/{paper}/upvote", csrf=csrf)
        await cost("GET /papers/{id} (signed in, after the vote)", conn, "GET", f"/papers/{paper}")
        # The same on a paper whose page is cached (the load's voters mostly find it so).
        await cost("POST upvote (signed in, warm paper)", conn, "POST", f"/papers/{ids[0]}/upvote",
                   csrf=csrf)  # fmt: skip
        await cost("GET /papers/{id} (signed in, after the vote, page cached)", conn, "GET",
                   f"/papers/{ids[0]}")  # fmt: skip
        await asyncio.sleep(0.02)  # a pace near the load's (votes age the shared pages)
    for conn, _ in voters:
        conn.close()
    anon.close()
    return costs


def idle_cpu_ms_per_s(pid: int, seconds: float = 2.0) -> float:
    """The server's CPU use while nobody asks it anything (its periodic jobs), ms per second."""
    before = threads_cpu_ns(pid)
    time.sleep(seconds)
    main, rest = split_cpu_ms(pid, before, threads_cpu_ns(pid))
    return (main + rest) / seconds


def upload_library(base: str, cookie: str, csrf: str, path: Path, out: dict) -> None:
    """POST the library file as the import form does, then wait for the import to finish."""
    started = time.perf_counter()
    headers = {"Cookie": cookie, "X-CSRF-Token": csrf}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client, path.open("rb") as fh:
        reply = client.post(
            "/for-you/import",
            files={"library": (path.name, fh, "application/x-bibtex")},
            data={"collection": f"Load test {RUN}", "csrf_token": csrf},  # fills a new one
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
    proc = subprocess.Popen([*PAPERROUTE, "digest", "send"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    report = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out["digest_rc"] = proc.returncode
    out["digest_s"] = time.perf_counter() - started
    out["digest_cpu_s"] = usage.ru_utime + usage.ru_stime
    out["digest_report"] = report.strip()[-300:]


def sample_load(into: list[float], done: threading.Event) -> None:
    """The machine's 1-minute load average every 5 s (is anything else using the cores?)."""
    while not done.wait(5 if into else 0):
        into.append(os.getloadavg()[0])


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
    args = parse_args()
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
        warm_up(base, sessions[0][0], ids[0])
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
        cpu_before, threads_before = process_cpu_ms(server.pid), threads_cpu_ns(server.pid)
        loads: list[float] = []
        sampling = threading.Event()
        sampler = threading.Thread(target=sample_load, args=(loads, sampling), daemon=True)
        sampler.start()
        result = run_load(args, port, sessions, ids)
        sampling.set()
        result["loadavg"] = loads
        result["server_cpu"] = _server_cpu(server.pid, cpu_before, threads_before)
        for t in threads:
            t.join()
        result["server_cpu"]["children_ms"] = process_cpu_ms(server.pid)[1] - cpu_before[1]
        if args.cost:
            result["idle_cpu"] = idle_cpu_ms_per_s(server.pid)
            result["costs"] = asyncio.run(measure_costs(server.pid, port, sessions, ids, args.cost))
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


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/paperroute-load"))
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--voters", type=int, default=40)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--without", default="", help="Leave out: import, digest (comma list).")
    parser.add_argument(
        "--client-procs",
        type=int,
        default=1,
        help="Processes for the clients (0: in this one, beside the SMTP sink).",
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="Niceness change of the client processes (negative needs root).",
    )
    parser.add_argument("--client-cpus", default="", help="Pin the clients: CPU list, e.g. 1.")
    parser.add_argument(
        "--cost",
        type=int,
        default=200,
        help="Then measure server CPU per request: rounds of every kind (0: no).",
    )
    parser.add_argument("--record", action="store_true", help="Write docs/benchmarks.md.")
    return parser.parse_args()


def _server_cpu(pid: int, before: tuple[float, float], threads_before: dict) -> dict:
    """The server's own CPU during the load: all of it, its event loop's, its other threads'."""
    own = process_cpu_ms(pid)[0]
    main, rest = split_cpu_ms(pid, threads_before, threads_cpu_ns(pid))
    return {"own_ms": own - before[0], "loop_ms": main, "threads_ms": rest}


def summarise(result: dict, side: dict, mismatches: int, entries: int, args) -> str:
    """The Markdown tables of one run."""
    reads, posts = result["reads"], result["posts"]
    rq, pq = statistics.quantiles(reads, n=100), statistics.quantiles(posts, n=100)
    command = "python bench/load.py " + " ".join(sys.argv[1:])
    loads = result.get("loadavg") or [0.0]
    lines = [
        f"`{command.strip()}`; the machine's 1-minute load average during the load: "
        f"{min(loads):.1f} to {max(loads):.1f} (2 cores).",
        "",
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
        f"| vote POSTs | {len(posts):,}, p50 {pq[49]:.1f} ms, p95 {pq[94]:.1f} ms | |",
        f"| papers whose counter != vote rows | {mismatches} | 0 |",
        f"| upload answered (HTTP {side.get('upload_status')}) | "
        f"{side.get('upload_answered_s', 0):.2f} s; import {side.get('import_status')} after "
        f"{side.get('import_s', 0):.1f} s | |",
        f"| digest send (exit {side.get('digest_rc')}) | {side.get('digest_s', 0):.1f} s, "
        f"{side.get('digest_cpu_s', 0):.1f} s CPU | |",
        *_cpu_rows(result, args),
    ]
    lines += ["", "| request | count | p50 | p95 |", "|---|---|---|---|"]
    for kind, values in sorted(result["by_kind"].items()):
        q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        lines.append(f"| {kind} | {len(values):,} | {q[49]:.1f} ms | {q[94]:.1f} ms |")
    if result.get("costs"):
        lines += [
            "",
            f"Server CPU per request, one request at a time after the load ({args.cost} of each; "
            f"the idle server used {result['idle_cpu']:.1f} ms of CPU a second):",
            "",
            "| request | CPU mean | p50 | p95 |",
            "|---|---|---|---|",
        ]
        for kind, values in result["costs"].items():
            q = statistics.quantiles(values, n=100)
            lines.append(
                f"| {kind} | {statistics.fmean(values):.2f} ms | {q[49]:.2f} ms | {q[94]:.2f} ms |"
            )
    if result["errors"]:
        lines += ["", "First errors: " + "; ".join(sorted(set(result["errors"]))[:5])]
    return "\n".join(lines)


def _cpu_rows(result: dict, args) -> list[str]:
    """Where the CPU went during the load: clients, server (loop / threads), import, digest."""
    served = len(result["reads"]) + len(result["posts"])
    cpu = result["server_cpu"]
    rows = [
        f"| server CPU (own, all threads) | {cpu['own_ms'] / 1000:.1f} s = "
        f"{cpu['own_ms'] / 10 / args.seconds:.0f}% of a core; {cpu['own_ms'] / served:.2f} ms "
        f"per request (event loop {cpu['loop_ms'] / served:.2f}, other threads "
        f"{cpu['threads_ms'] / served:.2f}) | |",
        f"| import child process CPU | {cpu['children_ms'] / 1000:.1f} s | |",
    ]
    if result["client_cpu_s"] is not None:
        rows.append(
            f"| load generator CPU ({args.client_procs} process(es)) | "
            f"{result['client_cpu_s']:.1f} s = "
            f"{result['client_cpu_s'] * 100 / result['client_wall_s']:.0f}% of a core; "
            f"{result['client_cpu_s'] * 1000 / served:.2f} ms per request | |"
        )
    return rows


if __name__ == "__main__":
    main()
