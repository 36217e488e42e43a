"""CPU per page in process: the ASGI app called directly, no server, no client, no network.

    PYTHONPATH=src .venv/bin/python bench/page_cpu.py --data-dir /tmp/paperroute-bench
    PYTHONPATH=src .venv/bin/python bench/page_cpu.py --only paper-signed-in --profile 30

bench/web.py measures what a reader waits for, but on a shared 2-core machine its latencies
move with everything else running; the CPU time one request costs the web process moves far
less, and is what the closed-loop p95 follows. This builds the app as `paperroute serve` does
(without the search model: a paper page shows similar papers only once they are known), signs
`--readers` readers in through the real routes (each upvotes five papers of the latest day and
saves one into a collection, as bench/web.py's readers do), and times `time.process_time()`
over every demo paper's page, each a first visit (cold: nothing cached for that paper), as
anonymous and signed-in readers in turn. The data dir is bench/web.py's (prepared the same way).
`--profile N` prints cProfile's top N functions of one signed-in sweep.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import re
import statistics
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from paperroute import models  # noqa: E402
from paperroute.app import create_app, freeze_startup_heap  # noqa: E402
from paperroute.config import load_settings  # noqa: E402
from paperroute.store import auth  # noqa: E402
from paperroute.store.engine import make_engine  # noqa: E402
from paperroute.store.papers import demo_days  # noqa: E402
from paperroute.web import mathtext, personal, templating  # noqa: E402
from web import prepare  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client: TestClient, engine, email: str, votes: list[str]) -> str:
    """A signed-in reader's Cookie header, through the real routes (bench/web.py's reader)."""
    client.cookies.clear()
    token = auth.create_login_token(engine, email)
    csrf = CSRF.search(client.get(f"/signin/verify?token={token}").text)[1]
    client.post("/signin/verify", data={"token": token, "csrf_token": csrf})
    csrf = CSRF.search(client.get("/profile").text)[1]
    for paper_id in votes:
        client.post(f"/papers/{paper_id}/upvote", data={"csrf_token": csrf})
    form = {"name": "Reading group", "paper_id": votes[0], "csrf_token": csrf}
    client.post("/collections", data=form)
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def scope_for(path: str, cookie: str) -> dict:
    """The ASGI scope uvicorn builds for a browser's GET."""
    headers = [(b"host", b"127.0.0.1"), (b"accept", b"text/html")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def get(app, path: str, cookie: str) -> tuple[int, list, int]:
    """(status, response headers, body length) of one GET through the whole middleware stack."""
    sent: dict = {"status": 0, "headers": [], "length": 0}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            sent["status"], sent["headers"] = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            sent["length"] += len(message.get("body", b""))

    await app(scope_for(path, cookie), receive, send)
    return sent["status"], sent["headers"], sent["length"]


async def sweep(app, paths: list[str], cookies: list[str]) -> float:
    """CPU ms per request over `paths` (request i as reader i mod len(cookies)); every answer
    must be a 200 without a Set-Cookie (nothing in the session changes on a page view)."""
    start = time.process_time()
    for i, path in enumerate(paths):
        status, headers, _ = await get(app, path, cookies[i % len(cookies)])
        if status != 200:
            raise SystemExit(f"{path}: HTTP {status}")
    cpu = (time.process_time() - start) * 1000 / len(paths)
    for i, path in enumerate(paths[:3]):  # checked apart, so the check costs the sweep nothing
        _, headers, _ = await get(app, path, cookies[i % len(cookies)])
        if any(k == b"set-cookie" for k, _ in headers):
            raise SystemExit(f"{path}: a page view re-sent the session cookie")
    return cpu


# What a page view computes once per paper (or author name) and remembers for the process.
PER_PAPER = (
    mathtext.render_text,
    mathtext.excerpt_html,
    mathtext.plain_text,
    mathtext.plain_snippet,
    models.paper_path,
    templating.author_url,
    personal.vote_marker,
    personal._save_forms,
)


def cold(app) -> None:
    """Forget every page and every paper's data, as for a process that has seen none yet
    (bench/web.py's 10-second sweep of the 3,010 demo papers visits each about once); the
    readers' state and live sessions stay (its readers come back every few ms)."""
    for remembered in PER_PAPER:
        remembered.cache_clear()
    caches = app.state.caches
    for cache in (caches.pages, caches.baked, caches.shared_pages, caches.similar):
        cache.clear()
    caches.data.drop(lambda key: not (isinstance(key, tuple) and key[0] in ("reader", "user")))
    caches.votes.forget()


async def profile(run, top: int) -> None:
    """Await `run` under pyinstrument (sampling, so small calls are not inflated) when it is
    installed, else cProfile; print the top `top` lines."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        profiler = cProfile.Profile()
        profiler.enable()
        await run
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
        return
    sampler = Profiler(interval=0.0002, async_mode="disabled")
    sampler.start()
    await run
    sampler.stop()
    print(sampler.output_text(show_all=False, short_mode=False, time="percent_of_total"))
    print(sampler.output_text(show_all=False, time="percent_of_total", flat=True)[: top * 200])


def main() -> None:
    """Build the app, sign readers in, time cold paper pages (and a few others) per request."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/paperroute-bench"))
    parser.add_argument("--readers", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="Sweeps of each kind (median).")
    parser.add_argument("--papers", type=int, default=0, help="Papers per sweep (0: all).")
    parser.add_argument("--only", default="", help="Comma-separated kinds (see KINDS below).")
    parser.add_argument("--profile", type=int, default=0, help="Print the top N of cProfile.")
    args = parser.parse_args()
    if not (args.data_dir / "paperroute.db").exists():
        prepare(args.data_dir)
    settings = load_settings(data_dir=args.data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    app = create_app(settings, engine=engine, enable_search=False)
    with TestClient(app, headers={"accept": "text/html"}, follow_redirects=False) as client:
        ids = [
            e["paper"]["id"]
            for p in range(40)
            for e in client.get("/api/daily_papers", params={"limit": 100, "p": p}).json()
        ]
        today = [e["paper"]["id"] for e in client.get("/api/daily_papers").json()]
        rng = random.Random(1)
        cookies = [
            sign_in(client, engine, f"reader{i}@example.org", rng.sample(today, 5))
            for i in range(args.readers)
        ]
    rng.shuffle(ids)
    ids = ids[: args.papers] if args.papers else ids
    papers = [f"/papers/{i}" for i in ids]
    kinds = {  # name -> (paths, cookies, cold before each sweep)
        "paper-anonymous": (papers, [""], True),
        "paper-signed-in": (papers, cookies, True),
        "daily-signed-in": (["/"] * 2000, cookies, False),
        "trending-signed-in": (["/trending"] * 2000, cookies, False),
    }
    only = [k for k in args.only.split(",") if k] or list(kinds)
    freeze_startup_heap()  # as `paperroute serve` does after start-up
    results: dict[str, list[float]] = {k: [] for k in only}

    async def run() -> None:
        for name in only:  # one warm-up sweep each (code paths, first renders of templates)
            paths, who, _ = kinds[name]
            await sweep(app, paths[:200], who)
        for _ in range(args.rounds):  # interleaved, so load changes hit every kind alike
            for name in only:
                paths, who, fresh = kinds[name]
                if fresh:
                    cold(app)
                results[name].append(await sweep(app, paths, who))
        if args.profile:
            paths, who, _ = kinds["paper-signed-in"]
            cold(app)
            await profile(sweep(app, paths, who), args.profile)

    asyncio.run(run())
    print(f"demo days {demo_days(engine)}; {len(papers)} papers, {args.readers} readers")
    for name, cpu in results.items():
        print(
            f"{name:<20} CPU {statistics.median(cpu):.3f} ms/request (median of {len(cpu)}: "
            + ", ".join(f"{c:.3f}" for c in cpu)
            + ")"
        )


if __name__ == "__main__":
    main()
