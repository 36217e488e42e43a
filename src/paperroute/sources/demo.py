"""The demo corpus shipped inside the package (built by scripts/build_demo_corpus.py)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sqlalchemy import Engine

from paperroute.sources.ingest import IngestReport, ingest_items
from paperroute.store.papers import count_papers

DEMO_FORMAT = "hf-daily"


def demo_corpus_path() -> Path:
    """Path of the bundled demo corpus (real Hugging Face daily papers, paper fields only)."""
    return Path(str(resources.files("paperroute") / "data" / "demo_papers.jsonl.gz"))


def load_demo_if_empty(engine: Engine, progress: bool = True) -> IngestReport | None:
    """Import the demo corpus when the store has no papers; returns None when it had some."""
    from paperroute.sources.files import read_file

    if count_papers(engine):
        return None
    return ingest_items(
        engine, read_file(demo_corpus_path(), DEMO_FORMAT), progress=progress, desc="demo corpus"
    )
