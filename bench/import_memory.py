"""Import memory benchmark: hostile files of 1 GiB must be rejected in bounded memory (< 300 MB).

Generates, in a temporary directory, one JSON-lines file whose middle line is 1 GiB, one whose
last line is 1 GiB and never ends, and two 1 GiB XML gzip bombs (a record with a 1 GiB text, a
record with 1 GiB of elements), each between good records. Each is imported by a fresh
`paperroute import` under `/usr/bin/time -v` (Debian package `time`); the table gives the maximum
RSS, the exit code and the line that reports the bad record. With --record the table goes into
docs/benchmarks.md.

    .venv/bin/python bench/import_memory.py [--size-mb 1024] [--record]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _record import record_section  # noqa: E402

TIME = Path("/usr/bin/time")
LIMIT_MB = 300
CHUNK = 1 << 20


def _good(pid: str) -> str:
    return json.dumps({"id": pid, "title": f"Good paper {pid}", "hf_upvotes": 1})


def _fill(fh, size: int, piece: bytes) -> None:
    block = piece * (CHUNK // len(piece))
    for _ in range(size // len(block)):
        fh.write(block)


def make_long_line(path: Path, size: int, terminated: bool) -> None:
    """Good line, then a line with a `size`-byte abstract (unterminated: the file ends in it)."""
    with path.open("wb") as fh:
        fh.write(_good("2401.00001").encode() + b"\n")
        fh.write(b'{"id": "2401.00002", "title": "Huge", "latest_version": 1, "abstract": "')
        _fill(fh, size, b"x")
        if terminated:
            fh.write(b'"}\n' + _good("2401.00003").encode() + b"\n")


def _oai_record(pid: str, inner: str = "") -> bytes:
    return (
        f"<record><header><identifier>oai:arXiv.org:{pid}</identifier></header><metadata>"
        f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{pid}</id><title>Paper {pid}</title>'
        f"{inner}"
    ).encode()


def make_xml_bomb(path: Path, size: int, piece: bytes, close: bytes) -> None:
    """An OAI-PMH gzip: a good record, a record holding `size` bytes of `piece`, a good record."""
    with gzip.open(path, "wb", compresslevel=6) as fh:
        fh.write(
            b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            b"<responseDate>2024-01-02T00:00:00Z</responseDate><ListRecords>"
        )
        fh.write(_oai_record("2401.00001") + b"</arXiv></metadata></record>")
        fh.write(_oai_record("2401.00002", "<abstract>") if close else _oai_record("2401.00002"))
        _fill(fh, size, piece)
        fh.write(close + b"</arXiv></metadata></record>")
        fh.write(_oai_record("2401.00003") + b"</arXiv></metadata></record>")
        fh.write(b"</ListRecords></OAI-PMH>")


def run_import(path: Path, data_dir: Path) -> dict:
    """`paperroute import` of one file under /usr/bin/time -v: RSS, exit code, what it said."""
    command = [str(TIME), "-v", sys.executable, "-m", "paperroute.cli", "--data-dir",
               str(data_dir), "import", "-q", str(path)]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    said = [  # the rejection, the file's summary and any error: the lines naming records
        line.strip()
        for line in done.stderr.splitlines()
        if "record" in line and "Command being timed" not in line
    ]
    return {
        "rss_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
        "exit": done.returncode,
        "seconds": seconds,
        "said": " / ".join(said)[:400],
    }


CASES = {
    "baseline: one good line": lambda p, n: p.write_text(_good("2401.00001") + "\n"),
    "JSON line of 1 GiB": lambda p, n: make_long_line(p, n, terminated=True),
    "unterminated JSON line of 1 GiB": lambda p, n: make_long_line(p, n, terminated=False),
    "XML gzip bomb: 1 GiB text": lambda p, n: make_xml_bomb(p, n, b"x", b"</abstract>"),
    "XML gzip bomb: 1 GiB of elements": lambda p, n: make_xml_bomb(p, n, b"<b/>", b""),
}


def main() -> None:
    """Generate each hostile file, import it, print the table (and record it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the hostile part")
    parser.add_argument("--record", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    if not TIME.exists():
        sys.exit("needs /usr/bin/time: apt-get install time")
    size = args.size_mb << 20
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n, (name, make) in enumerate(CASES.items()):
            path = Path(folder) / (f"case{n}.xml.gz" if "XML" in name else f"case{n}.jsonl")
            make(path, size)
            result = run_import(path, Path(folder) / f"data{n}")
            path.unlink()
            rows.append((name, result))
            print(f"{name}: {result['rss_mb']:.0f} MB max RSS, exit {result['exit']}, "
                  f"{result['seconds']:.1f} s: {result['said']}", flush=True)  # fmt: skip
    table = "| input | max RSS | exit | time | what the import said |\n|---|---|---|---|---|\n"
    for name, r in rows:
        table += (
            f"| {name} | {r['rss_mb']:.0f} MB | {r['exit']} | {r['seconds']:.1f} s "
            f"| {r['said'].replace('|', '/')} |\n"
        )
    worst = max(r["rss_mb"] for _, r in rows)
    print(f"\nworst max RSS {worst:.0f} MB (limit {LIMIT_MB} MB)")
    if args.record:
        body = (
            f"Hostile part {args.size_mb} MiB; every case must stay under {LIMIT_MB} MB RSS "
            f"(`/usr/bin/time -v paperroute import`).\n\n{table}"
        )
        record_section("Import memory (hostile files)", "bench/import_memory.py", body)
    if worst >= LIMIT_MB:
        sys.exit(1)


if __name__ == "__main__":
    main()
