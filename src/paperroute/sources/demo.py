"""The demo corpus shipped inside the package (scripts/build_demo_corpus.py builds it)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_corpus_path() -> Path:
    """Real Hugging Face daily papers (paper fields only), in the `hf-daily` format."""
    return Path(str(resources.files("paperroute") / "data" / "demo_papers.jsonl.gz"))


def demo_vectors_path() -> Path:
    """Precomputed embeddings of the demo corpus (scripts/build_demo_vectors.py builds them)."""
    return demo_corpus_path().with_name("demo_vectors.npz")
