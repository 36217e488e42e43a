"""Write a benchmark's numbers into its own section of docs/benchmarks.md."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\nNumbers measured on the project's 2-core, 24 GB machine; each section is\n"
)
HEADER += "rewritten by the benchmark named in it (`--record`).\n"


def record_section(name: str, script: str, body: str) -> None:
    """Replace (or append) the section `## name` of docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"## {name}\n\nMeasured {stamp} by `{script}` on {platform.machine()}, "
        f"Python {platform.python_version()}.\n\n{body.strip()}\n"
    )
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text.rstrip() + "\n")
