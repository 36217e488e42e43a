"""Memory of `paperroute serve` with its background jobs running in the web process.

    python bench/serve_rss.py [--seconds 90] [--baseline-src ../main/src] [--record]

Starts `paperroute serve` as a user does (SQLite, the bundled demo corpus, `run_jobs_in_web` on,
its default), with 300 papers' vectors removed so the embed job has real work, waits for
/readyz, runs 20 searches, then samples the process's RSS every 0.5 s while the periodic jobs
(embed, digests, syncs, notification mail) run. Prints the RSS once ready, the peak (VmHWM) and
the RSS at the end. With `--baseline-src`, the same run is made first with that checkout's
`src/` on PYTHONPATH (e.g. the previous commit), so before and after come from one session.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _record import record_section  # noqa: E402
from web import free_port  # noqa: E402

PAPERROUTE = [sys.executable, "-m", "paperroute.cli"]
QUERIES = ["diffusion transformer", "reward hacking", "state space models", "video generation",
           "retrieval augmented generation"] * 4  # fmt: skip


def status_kb(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in kB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def prepare(template: Path, env: dict) -> None:
    """The demo store (as `make run` loads it), then 300 papers made pending for the embed job."""
    load = (
        "from paperroute.cli import load_demo_if_empty as load; "
        "from paperroute.config import load_settings as s; "
        "from paperroute.store.engine import make_engine, migrate; "
        f"c = s(data_dir={str(template)!r}, load_demo=True); "
        "e = make_engine(c.sqlalchemy_url); migrate(e); load(c, e)"
    )
    subprocess.run([sys.executable, "-c", load], env=env, check=True)
    with sqlite3.connect(template / "paperroute.db") as db:
        db.execute("DELETE FROM embeddings WHERE rowid IN (SELECT rowid FROM embeddings LIMIT 300)")


def one_run(src: Path | None, template: Path, seconds: float) -> dict[str, float]:
    """Serve a copy of the template store with `src` on PYTHONPATH; RSS figures in MB."""
    data = Path(tempfile.mkdtemp(prefix="serve-rss-"))
    shutil.copytree(template, data, dirs_exist_ok=True)
    shutil.rmtree(data / "index", ignore_errors=True)  # each run opens (builds) its own indexes
    env = {**os.environ, "PAPERROUTE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1",
           "PAPERROUTE_RUN_JOBS_IN_WEB": "true", "PAPERROUTE_LOAD_DEMO": "false"}  # fmt: skip
    if src is not None:
        env["PYTHONPATH"] = str(src)
    port = free_port()
    cmd = [*PAPERROUTE, "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit("server did not get ready")
        ready = status_kb(proc.pid, "VmRSS")
        with httpx.Client(base_url=base, timeout=30) as client:
            for q in QUERIES:
                client.get("/search", params={"q": q})
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.5)
        pending = (
            sqlite3.connect(data / "paperroute.db")
            .execute(
                "SELECT COUNT(*) FROM papers WHERE id NOT IN (SELECT paper_id FROM embeddings)"
            )
            .fetchone()[0]
        )
        return {"ready": ready / 1024, "peak": status_kb(proc.pid, "VmHWM") / 1024,
                "end": status_kb(proc.pid, "VmRSS") / 1024, "pending": pending}  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src/ to compare")
    parser.add_argument("--record", action="store_true", help="rewrite docs/benchmarks.md")
    args = parser.parse_args()
    template = Path(tempfile.mkdtemp(prefix="serve-rss-template-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    prepare(template, env)
    runs = []
    if args.baseline_src:
        runs.append(("baseline", one_run(args.baseline_src.resolve(), template, args.seconds)))
    runs.append(("this checkout", one_run(None, template, args.seconds)))
    load = os.getloadavg()[0]
    rows = [f"| {name} | {r['ready']:.0f} MB | {r['peak']:.0f} MB | {r['end']:.0f} MB | "
            f"{r['pending']} |" for name, r in runs]  # fmt: skip
    table = "\n".join(
        [
            "| code | RSS at /readyz | peak RSS (VmHWM) | RSS at the end | still unembedded |",
            "|---|---|---|---|---|",
            *rows,
        ]  # fmt: skip
    )
    body = (
        f"`paperroute serve` (SQLite demo corpus, 300 papers pending embedding, "
        f"`run_jobs_in_web` on), 20 searches, then {args.seconds:.0f} s of background jobs; "
        f"load average {load:.1f}.\n\n{table}\n"
    )
    print(body)
    if args.record:
        record_section("Serving memory", "bench/serve_rss.py", body)


if __name__ == "__main__":
    main()
