"""Web benchmark: 32 concurrent clients against `paperroute serve` on the demo corpus.

Runs the server the way users run it (a `paperroute serve` subprocess: uvicorn, SQLite file,
demo corpus, search model), then for each page kind drives `--clients` concurrent keep-alive
clients in a closed loop for `--seconds` and prints requests/s and p50/p95/p99 latency.

    .venv/bin/python bench/web.py                      # anonymous readers (page cache on)
    .venv/bin/python bench/web.py --signed-in          # signed-in readers (no page cache)

Paper pages rotate over every demo paper and searches over a list of real queries, so most
requests are not repeats. Targets on the 2-core dev machine: p95 <= 50 ms for daily, trending
and paper pages, <= 100 ms for search.
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
    """Import the demo corpus and embed it once (kept between runs in data_dir)."""
    env = {**os.environ, "PAPERROUTE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    if not (data_dir / "paperroute.db").exists():
        demo = ROOT / "src" / "paperroute" / "data" / "demo_papers.jsonl.gz"
        subprocess.run([*PAPERROUTE, "import", "-q", str(demo)], env=env, check=True)
    subprocess.run([*PAPERROUTE, "embed"], env=env, check=False)


def start_server(data_dir: Path, port: int, workers: int) -> subprocess.Popen:
    """`paperroute serve` as a user starts it."""
    env = {**os.environ, "PAPERROUTE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    cmd = [*PAPERROUTE, "serve", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def sign_in(base: str, data_dir: Path) -> dict[str, str]:
    """A signed-in session cookie (token issued straight from the store, as the CLI would)."""
    from paperroute.config import load_settings
    from paperroute.store import auth
    from paperroute.store.engine import make_engine

    engine = make_engine(load_settings(data_dir=data_dir).sqlalchemy_url)
    token = auth.create_login_token(engine, "bench@example.org")
    with httpx.Client(base_url=base) as client:
        page = client.get(f"/signin/verify?token={token}").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/signin/verify", data={"token": token, "csrf_token": csrf})
        return dict(client.cookies)


async def drive(base: str, urls, clients: int, seconds: float, cookies) -> list[float]:
    """Closed-loop clients; returns every request's latency in ms (errors abort)."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, cookies=cookies, timeout=30) as c:

        async def client() -> None:
            while time.monotonic() < stop:
                url = next(urls)
                start = time.perf_counter()
                response = await c.get(url)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {response.status_code}")

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


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
    parser.add_argument("--signed-in", action="store_true", help="Drive as a signed-in reader.")
    args = parser.parse_args()
    prepare(args.data_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.data_dir, port, args.workers)
    try:
        cookies = sign_in(base, args.data_dir) if args.signed_in else None
        ids = [
            e["paper"]["id"]
            for p in range(40)
            for e in httpx.get(f"{base}/api/daily_papers", params={"limit": 100, "p": p}).json()
        ]
        random.Random(1).shuffle(ids)
        httpx.get(f"{base}/search", params={"q": "warm up the model"}, timeout=120)
        kinds = {
            "daily": itertools.cycle(["/"]),
            "trending": itertools.cycle(["/trending"]),
            "paper": itertools.cycle([f"/papers/{i}" for i in ids]),
            "search": itertools.cycle([f"/search?q={q}" for q in QUERIES]),
        }
        mode = "signed-in" if args.signed_in else "anonymous"
        print(f"paperroute serve, {args.workers} worker(s), {args.clients} clients, "
              f"{args.seconds:g} s per page, {mode}")  # fmt: skip
        for name, urls in kinds.items():
            latencies = asyncio.run(drive(base, urls, args.clients, args.seconds, cookies))
            print(report(name, latencies, args.seconds), flush=True)
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
