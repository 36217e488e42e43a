"""Web benchmark: 32 concurrent clients against `paperroute serve` on the demo corpus.

Runs the server the way users run it (a `paperroute serve` subprocess: uvicorn, SQLite file,
demo corpus, search model), then for each page kind drives `--clients` concurrent keep-alive
clients in a closed loop for `--seconds` and prints requests/s and p50/p95/p99 latency.

    .venv/bin/python bench/web.py                      # anonymous readers (page cache on)
    .venv/bin/python bench/web.py --signed-in          # 32 signed-in readers, one per client
    .venv/bin/python bench/web.py --signed-in --discussion   # also a 200-comment thread, POSTs

Paper pages rotate over every demo paper and searches over a list of real queries, so most
requests are not repeats. Targets on the 2-core dev machine: p95 <= 50 ms for daily, trending
and paper pages, <= 100 ms for search; signed in, /for-you p95 <= 150 ms and the digest preview
<= 300 ms (issue 11), and <= 500 ms for /for-you loaded just after a library change (timed
`--changes` times, one reader). The first search after start-up is timed once (target <= 200 ms):
"started" is when /readyz says ready, as a load balancer or `systemd` health check sees it (the
server warms the model and indexes in the background; /readyz is 503 until that is done).

`--discussion` (issue 12) adds `thread`, a paper page with a 200-comment thread (p95 <= 50 ms),
and `comment`, 32 members posting comments (the form POST: checked, rendered from Markdown and
math, stored, notified; p95 <= 100 ms) closed loop, and `comment-paced`, the same 32 members
posting at most once a second each, as people post; the comment rate limits are lifted for the
run.

A `paper` (or `similar`) run that gets through every paper within its time goes round again,
and those pages are then served from what the first visits left (shared pages live 10 s): its
first pass, every request a first visit (cold), is then also reported on its own, as
`paper-1st`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
PAPERROUTE = [sys.executable, "-m", "paperroute.cli"]
QUERIES = [
    "diffusion models for video generation", "reinforcement learning from human feedback",
    "mixture of experts", "vision language model benchmark", "long context retrieval",
    "speculative decoding", "text to 3d", "multimodal reasoning", "robot manipulation policy",
    "code generation agents", "image editing", "state space models", "hallucination detection",
    "low-rank adaptation", "world model", "speech synthesis", "math reasoning chain of thought",
    "tokenizer", "quantization of large language models", "video understanding",
]  # fmt: skip


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path) -> None:
    """Load the demo corpus with its precomputed vectors, as `make run` does on an empty store
    (kept between runs in data_dir), and embed whatever else is pending."""
    env = {**os.environ, "PAPERROUTE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    if not (data_dir / "paperroute.db").exists():
        load = (
            "from paperroute.cli import load_demo_if_empty as load; "
            "from paperroute.config import load_settings as s; "
            "from paperroute.store.engine import make_engine, migrate; "
            f"c = s(data_dir={str(data_dir)!r}, load_demo=True); "
            "e = make_engine(c.sqlalchemy_url); migrate(e); load(c, e)"
        )
        subprocess.run([sys.executable, "-c", load], env=env, check=True)
    subprocess.run([*PAPERROUTE, "embed"], env=env, check=False)


def start_server(data_dir: Path, port: int, workers: int) -> subprocess.Popen:
    """`paperroute serve` as a user starts it."""
    env = {**os.environ, "PAPERROUTE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    cmd = [*PAPERROUTE, "serve", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 120
    answered = None
    while time.monotonic() < deadline:
        try:
            probe = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            answered = answered or time.perf_counter()
            if probe.status_code == 200:
                print(f"serve: answering after {answered - started:.1f} s, "
                      f"/readyz ready after {time.perf_counter() - started:.1f} s")  # fmt: skip
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not get ready")


def for_you_after_change(base: str, cookie: str, ids: list[str], times: int) -> list[float]:
    """Latency of /for-you loaded right after each of `times` library changes (a paper saved
    into the reader's collection, then its For-you page), one reader, in ms. The process's first
    For-you page (the recommender's vectors loaded) is timed and printed apart."""
    latencies = []
    with httpx.Client(base_url=base, headers={"cookie": cookie}, timeout=60) as client:
        start = time.perf_counter()
        client.get("/for-you")
        print(f"first for-you of the process: {(time.perf_counter() - start) * 1000:.0f} ms")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/profile").text)[1]
        page = client.get("/collections").text
        collection = re.search(r'href="/collections/(\d+)"', page)[1]
        for paper_id in ids[:times]:
            form = {"paper_id": paper_id, "csrf_token": csrf}
            client.post(f"/collections/{collection}/add", data=form)
            start = time.perf_counter()
            assert client.get("/for-you").status_code == 200
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def sign_in(base: str, data_dir: Path, email: str, votes: list[str]) -> str:
    """A signed-in session's Cookie header (token issued straight from the store); the reader
    upvotes `votes` and saves the first of them into a collection, like a real reader."""
    from paperroute.config import load_settings
    from paperroute.store import auth
    from paperroute.store.engine import make_engine

    engine = make_engine(load_settings(data_dir=data_dir).sqlalchemy_url)
    token = auth.create_login_token(engine, email)
    engine.dispose()
    with httpx.Client(base_url=base) as client:
        page = client.get(f"/signin/verify?token={token}").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/signin/verify", data={"token": token, "csrf_token": csrf})
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/profile").text)[1]
        for paper_id in votes:
            client.post(f"/papers/{paper_id}/upvote", data={"csrf_token": csrf})
        if votes:
            form = {"name": "Reading group", "paper_id": votes[0], "csrf_token": csrf}
            client.post("/collections", data=form)
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


THREAD_SIZE = 200
COMMENT = (
    "Does the bound in **Theorem 2** hold for $\\epsilon < 1/n$? See "
    "[the appendix](https://example.org/a), @Discussant1"
)


def seed_thread(data_dir: Path, paper_id: str, size: int = THREAD_SIZE) -> None:
    """A `size`-comment thread on the paper (once per data dir): 20 members, a quarter of the
    comments top-level and the rest replies, each rendered as the site renders comments."""
    from paperroute.config import load_settings
    from paperroute.store.comments import add_comment
    from paperroute.store.engine import make_engine
    from paperroute.store.papers import get_paper
    from paperroute.store.users import add_user, get_user_by_email, update_profile
    from paperroute.web.commentmark import render_comment

    engine = make_engine(load_settings(data_dir=data_dir).sqlalchemy_url)
    have = get_paper(engine, paper_id).num_comments
    members = []
    for i in range(20):
        email = f"discussant{i}@example.org"
        user = get_user_by_email(engine, email) or add_user(engine, email)
        update_profile(engine, user.id, f"Discussant {i}")
        members.append(user.id)
    rng = random.Random(12)
    roots: list[int] = []
    for n in range(have, size):
        body = f"{COMMENT} ({n})"
        html, _ = render_comment(body)
        parent = rng.choice(roots) if roots and n % 4 else None
        made = add_comment(engine, paper_id, members[n % 20], body, html, parent)
        if parent is None:
            roots.append(made.id)
    engine.dispose()


def commenter(base: str, data_dir: Path, email: str) -> tuple[str, str]:
    """A signed-in member's (Cookie header, CSRF token), for the comment POSTs."""
    cookie = sign_in(base, data_dir, email, [])
    page = httpx.get(f"{base}/profile", headers={"Cookie": cookie}).text
    return cookie, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def drive_posts(
    port: int,
    paper_ids: list[str],
    clients: int,
    seconds: float,
    members: list[tuple[str, str]],
    every: float = 0.0,
) -> list[float]:
    """Clients posting comments (client i is members[i]) on rotating papers, as the paper
    page's form does; every POST's latency in ms (each must answer 303 See Other). Closed loop
    (the next post as soon as one is answered), or paced: each client posts at most once per
    `every` seconds, as people do (`comment-paced`: once a second, like bench/load.py's
    voters), starting at random offsets so the posts do not come in waves."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    papers = itertools.cycle(paper_ids)

    async def client(cookie: str, csrf: str, offset: float) -> None:
        conn = Connection(port, cookie)
        n = 0
        try:
            await asyncio.sleep(offset)
            while time.monotonic() < stop:
                due = time.monotonic() + every
                n += 1
                url = f"/papers/{next(papers)}/comments"
                form = urlencode({"csrf_token": csrf, "body": f"{COMMENT} #{n}"})
                start = time.perf_counter()
                status = await conn.post(url, form)
                latencies.append((time.perf_counter() - start) * 1000)
                if status != 303:
                    raise SystemExit(f"POST {url}: HTTP {status}")
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        finally:
            conn.close()

    rng = random.Random(2)
    await asyncio.gather(
        *(client(*members[i % len(members)], rng.uniform(0, every)) for i in range(clients))
    )
    return latencies


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    httpx costs the load generator ~1-2 ms of CPU per request, on the same 2 cores as the
    server; this costs ~0.05 ms, so the numbers measure the server, not the client.
    """

    def __init__(self, port: int, cookie: str) -> None:
        self.port, self.cookie = port, cookie
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, url: str) -> int:
        """GET a path; returns the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        cookie = f"Cookie: {self.cookie}\r\n" if self.cookie else ""
        request = f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n{cookie}\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        await self.reader.readexactly(length)
        return status

    async def post(self, url: str, form: str) -> int:
        """POST a urlencoded form; returns the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        cookie = f"Cookie: {self.cookie}\r\n" if self.cookie else ""
        body = form.encode()
        request = (
            f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n{cookie}"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(request.encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        await self.reader.readexactly(int(length.group(1)) if length else 0)
        return status

    def close(self) -> None:
        """Close the socket."""
        if self.writer is not None:
            self.writer.close()


class FirstPass:
    """The first `size` requests of a run: the first visit of each of its URLs, before anything
    of theirs is cached. A paper run goes round the 3,010 papers again once it is through them,
    and its shared pages (10 s) are then still held, so a server fast enough to finish the pass
    within the run serves the rest from them: its first pass is reported apart."""

    def __init__(self, size: int, server: subprocess.Popen) -> None:
        self.size, self.server = size, server
        self.handed = 0  # requests handed out so far
        self.latencies: list[float] = []
        self.seconds: float | None = None  # how long the pass took, once through
        self.cpu_ms: float | None = None  # server CPU per request during it
        self._began = time.perf_counter()
        self._cpu = server_cpu(server)

    def take(self) -> bool:
        """Whether the request about to be sent belongs to the first pass."""
        self.handed += 1
        return self.handed <= self.size

    def answered(self, latency: float) -> None:
        """A first-pass request's latency (ms); the pass ends with its `size`th answer."""
        self.latencies.append(latency)
        if len(self.latencies) == self.size:
            self.seconds = time.perf_counter() - self._began
            self.cpu_ms = (server_cpu(self.server) - self._cpu) * 1000 / self.size


async def drive(
    port: int,
    urls,
    clients: int,
    seconds: float,
    cookies: list[str],
    first: FirstPass | None = None,
) -> list[float]:
    """Closed-loop clients, one keep-alive connection each (client i sends cookies[i]);
    every request's latency in ms (and the first pass's in `first`)."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def client(cookie: str) -> None:
        conn = Connection(port, cookie)
        try:
            while time.monotonic() < stop:
                url = next(urls)
                in_first = first is not None and first.take()
                start = time.perf_counter()
                status = await conn.get(url)
                latencies.append((time.perf_counter() - start) * 1000)
                if in_first:
                    first.answered(latencies[-1])
                if status != 200:
                    raise SystemExit(f"{url}: HTTP {status}")
        finally:
            conn.close()

    await asyncio.gather(*(client(cookies[i % len(cookies)]) for i in range(clients)))
    return latencies


def server_cpu(proc: subprocess.Popen) -> float:
    """CPU seconds the server and its worker processes have used so far (Linux /proc)."""
    pids = [proc.pid]
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def report(name: str, latencies: list[float], seconds: float) -> str:
    """One result line."""
    q = statistics.quantiles(latencies, n=100)
    return (
        f"{name:<9} {len(latencies) / seconds:8.1f} req/s   p50 {q[49]:6.1f} ms   "
        f"p95 {q[94]:6.1f} ms   p99 {q[98]:6.1f} ms   ({len(latencies)} requests)"
    )


def main() -> None:
    """Prepare, serve, drive each page kind, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/paperroute-bench"))
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--signed-in", action="store_true", help="Drive as signed-in readers (one per client)."
    )
    parser.add_argument("--only", default="", help="Comma-separated page kinds to drive.")
    parser.add_argument(
        "--changes", type=int, default=20, help="Library changes before /for-you (signed in)."
    )
    parser.add_argument(
        "--discussion",
        action="store_true",
        help="Also drive `thread` (a 200-comment paper page) and `comment` (comment POSTs).",
    )
    args = parser.parse_args()
    prepare(args.data_dir)
    discussion = {"thread", "comment", "comment-paced"}
    if args.discussion or discussion & set(args.only.split(",")):
        args.discussion = True
        for name in ("MEMBER", "NEW_MEMBER", "ADDRESS"):  # 32 clients post far faster than people
            os.environ[f"PAPERROUTE_COMMENTS_PER_{name}"] = "100000000"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.data_dir, port, args.workers)
    try:
        start = time.perf_counter()  # the first request of all, once /readyz says ready
        httpx.get(f"{base}/search", params={"q": QUERIES[0]}, timeout=120)
        print(f"first search after /readyz: {(time.perf_counter() - start) * 1000:.0f} ms")
        ids = [
            e["paper"]["id"]
            for p in range(40)
            for e in httpx.get(f"{base}/api/daily_papers", params={"limit": 100, "p": p}).json()
        ]
        today = [e["paper"]["id"] for e in httpx.get(f"{base}/api/daily_papers").json()]
        rng = random.Random(1)
        cookies = [""]
        if args.signed_in:  # distinct readers, each with their own votes and a collection
            cookies = [
                sign_in(base, args.data_dir, f"reader{i}@example.org", rng.sample(today, 5))
                for i in range(args.clients)
            ]
        rng.shuffle(ids)
        if args.signed_in and args.changes:
            after = sorted(for_you_after_change(base, cookies[0], ids, args.changes))
            print(f"for-you after a library change: max {after[-1]:.0f} ms, "
                  f"median {statistics.median(after):.0f} ms ({len(after)} changes)")  # fmt: skip
        discussed = ids[0]
        if args.discussion:
            seed_thread(args.data_dir, discussed)
            members = [
                commenter(base, args.data_dir, f"commenter{i}@example.org")
                for i in range(args.clients)
            ]
            time.sleep(11)  # the server's 10-second data caches forget the paper's old count
        kinds = {
            "daily": itertools.cycle(["/"]),
            "trending": itertools.cycle(["/trending"]),
            "paper": itertools.cycle([f"/papers/{i}" for i in ids]),
            # what the paper page's script then asks for (cold: nothing remembered yet)
            "similar": itertools.cycle([f"/papers/{i}/similar?fragment=1" for i in reversed(ids)]),
            "search": itertools.cycle([f"/search?{urlencode({'q': q})}" for q in QUERIES]),
            "for-you": itertools.cycle(["/for-you"]),  # signed in only
            "preview": itertools.cycle(["/digest/preview"]),  # signed in only
            "thread": itertools.cycle([f"/papers/{discussed}"]),  # --discussion
            "comment": None,  # --discussion: POSTs, driven by drive_posts
            "comment-paced": None,  # the same, each client at most one post a second
        }
        mode = "signed-in" if args.signed_in else "anonymous"
        print(f"paperroute serve, {args.workers} worker(s), {args.clients} clients, "
              f"{args.seconds:g} s per page, {mode}")  # fmt: skip
        personal = {"for-you", "preview"}
        only = [k for k in args.only.split(",") if k] or [
            k
            for k in kinds
            if (args.signed_in or k not in personal) and (args.discussion or k not in discussion)
        ]
        for name in only:
            urls = kinds[name]
            if name in personal:  # "warm": each reader's page once first, timed on its own
                path = next(urls)
                first = []
                for cookie in cookies:
                    start = time.perf_counter()
                    httpx.get(base + path, headers={"cookie": cookie}, timeout=120)
                    first.append((time.perf_counter() - start) * 1000)
                print(f"{name:<9} first load per reader: median {statistics.median(first):.0f} ms, "
                      f"max {max(first):.0f} ms")  # fmt: skip
            cold = None
            if name.startswith("comment"):  # on other papers than the measured thread (200)
                every = 1.0 if name == "comment-paced" else 0.0
                run = drive_posts(port, ids[1:200], args.clients, args.seconds, members, every)
            else:
                if name in ("paper", "similar"):
                    cold = FirstPass(len(ids), server)
                run = drive(port, urls, args.clients, args.seconds, cookies, cold)
            cpu = server_cpu(server)
            latencies = asyncio.run(run)
            cpu = (server_cpu(server) - cpu) * 1000 / len(latencies)
            print(f"{report(name, latencies, args.seconds)}   server CPU {cpu:.1f} ms/request",
                  flush=True)  # fmt: skip
            if cold is not None and cold.seconds is not None:  # it went round: the cold pass
                print(f"{report(name + '-1st', cold.latencies, cold.seconds)}   server CPU "
                      f"{cold.cpu_ms:.1f} ms/request (the first visit of each)")  # fmt: skip
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
