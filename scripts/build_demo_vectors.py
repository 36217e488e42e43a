"""Precompute embeddings for a corpus file so that `make run` needs no embedding pass.

    python scripts/build_demo_vectors.py                       # the bundled demo corpus
    python scripts/build_demo_vectors.py --out tests/data/search/vectors.npz \
        tests/data/search/arxiv_listing.jsonl.gz tests/data/search/hf_daily.jsonl.gz

Imports the files into a throw-away SQLite store (the same merge as `paperroute import`, so
content hashes match), embeds every paper with the configured model and writes ids, float16
vectors, content hashes and the model name to a .npz that `load_precomputed` reads.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from paperroute.config import load_settings
from paperroute.models import PaperRecord
from paperroute.search.embedding import embed_pending
from paperroute.search.service import SearchService
from paperroute.sources.files import read_file
from paperroute.store.embeddings import export_vectors
from paperroute.store.engine import make_engine, migrate
from paperroute.store.papers import upsert_records

DATA = Path(__file__).resolve().parents[1] / "src" / "paperroute" / "data"


def main() -> None:
    """Build the vectors file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", type=Path, default=[DATA / "demo_papers.jsonl.gz"])
    parser.add_argument("--out", type=Path, default=DATA / "demo_vectors.npz")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), database_url=None, load_demo=False)
        engine = make_engine(settings.sqlalchemy_url)
        migrate(engine)
        for path in args.inputs:
            records = [r for r in read_file(path) if isinstance(r, PaperRecord)]
            for start in range(0, len(records), 1000):
                upsert_records(engine, records[start : start + 1000])
        service = SearchService(settings, engine)
        started = time.perf_counter()
        n = embed_pending(service, progress=True)
        took = time.perf_counter() - started
        written = export_vectors(engine, service.model, args.out)
        print(
            f"embedded {n} papers in {took:.0f} s ({n / max(took, 1e-9):.1f}/s); "
            f"wrote {written} vectors to {args.out}"
        )


if __name__ == "__main__":
    main()
