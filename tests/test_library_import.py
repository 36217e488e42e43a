"""Importing a reference-manager library into a reader's collection, and account export/import.

Runs on SQLite and PostgreSQL. Unknown arXiv papers are fetched through the real arXiv API source
from a loopback HTTP server that replays a recorded arXiv response.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from paperroute.config import Settings
from paperroute.models import Author, PaperRecord
from paperroute.references.export import export_papers
from paperroute.references.importer import import_library
from paperroute.sources.ingest import Ingest
from paperroute.store import account, readers, votes
from paperroute.store import collections as coll
from paperroute.store import subscriptions as subs
from paperroute.store.papers import get_papers, upsert_records
from paperroute.store.users import add_user

API = Path(__file__).parent / "data/sources/api/id_0808.05394_1707.08567_s0_m100.xml"


def _seed(engine) -> None:
    def rec(pid, title, **kw):
        return PaperRecord(
            source="arxiv-oai",
            id=pid,
            title=title,
            abstract=f"Abstract of {title}.",
            authors=[Author("Ada Lovelace")],
            categories=["cs.LG"],
            primary_category="cs.LG",
            announced=date(2026, 6, 1),
            published=datetime(2026, 6, 1, tzinfo=UTC),
            **kw,
        )

    upsert_records(
        engine,
        [
            rec("1706.03762", "Attention Is All You Need"),
            rec(
                "1512.03385",
                "Deep Residual Learning for Image Recognition",
                doi="10.1109/CVPR.2016.90",
            ),
            rec(
                "2010.11929",
                "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
            ),
        ],
    )


LIBRARY = """@article{vaswani,
  title = {Attention is all you need},
  eprint = {1706.03762},
  archivePrefix = {arXiv}
}

@inproceedings{he,
  title = {Deep residual learning},
  doi = {10.1109/cvpr.2016.90}
}

@article{broken,
  title = {Unclosed {brace,

@article{vit,
  title = {An image is worth 16x16 words: Transformers for image recognition at scale},
  journal = {ICLR}
}

@misc{aew10,
  title = {Proceedings of Workshop AEW10},
  note = {arXiv:1707.08567}
}

@misc{missing,
  title = {A paper nobody has},
  eprint = {0808.05394}
}
"""


@pytest.fixture
def fetch(httpserver, engine):
    """The arXiv API source pointed at a loopback server replaying a recorded response."""
    httpserver.expect_request("/api/query").respond_with_data(
        API.read_bytes(), content_type="application/atom+xml"
    )

    settings = Settings(
        arxiv_api_url=httpserver.url_for("/api/query"), arxiv_api_delay=0, _env_file=None
    )
    return Ingest(engine, settings).arxiv


def test_import_matches_by_arxiv_id_doi_and_title_fetches_unknown_and_reports_bad_entries(
    engine, fetch
):
    _seed(engine)
    user = add_user(engine, "reader@example.org")
    report = import_library(engine, user.id, LIBRARY, filename="zotero.bib", fetch=fetch)
    assert report.matched == ["1706.03762", "1512.03385", "2010.11929", "1707.08567"]
    assert report.fetched == 1
    assert get_papers(engine, ["1707.08567"])[0].title.startswith("Proceedings of Workshop AEW10")
    assert report.unmatched == ["line 25 (missing): A paper nobody has"]
    assert [str(e) for e in report.errors] == [
        "line 12: unbalanced braces: an entry or field is not closed"
    ]
    assert report.added == 4
    saved = coll.collection_paper_ids(engine, report.collection_id)
    assert sorted(saved) == sorted(report.matched)
    assert "4 matched (4 newly saved, 1 fetched from arXiv), 1 not found, 1 malformed" in (
        report.summary()
    )


def test_importing_the_same_file_twice_adds_nothing(engine, fetch):
    _seed(engine)
    user = add_user(engine, "reader@example.org")
    first = import_library(engine, user.id, LIBRARY, filename="zotero.bib", fetch=fetch)
    again = import_library(engine, user.id, LIBRARY, filename="zotero.bib", fetch=fetch)
    assert again.added == 0 and again.fetched == 0
    assert again.collection_id == first.collection_id
    assert len(coll.collection_paper_ids(engine, first.collection_id)) == 4
    assert len(coll.list_collections(engine, user.id)) == 1
    assert [p.saves for p in get_papers(engine, first.matched)] == [1, 1, 1, 1]  # counted once


def test_an_import_that_dies_while_filling_leaves_no_empty_collection(engine):
    _seed(engine)
    user = add_user(engine, "reader@example.org")

    def die_on_filling(conn, cursor, statement, *args):
        # Stands in for SIGKILL between "collection created" and "papers saved".
        if statement.lstrip().upper().startswith("INSERT INTO COLLECTION_ITEMS"):
            raise KeyboardInterrupt("killed")

    event.listen(engine, "before_cursor_execute", die_on_filling)
    try:
        with pytest.raises(KeyboardInterrupt):
            import_library(engine, user.id, LIBRARY, collection="Zotero", filename="z.bib")
    finally:
        event.remove(engine, "before_cursor_execute", die_on_filling)
    assert coll.list_collections(engine, user.id) == []
    done = import_library(engine, user.id, LIBRARY, collection="Zotero", filename="z.bib")
    assert [(c.name, c.size) for c in coll.list_collections(engine, user.id)] == [("Zotero", 3)]
    assert done.added == 3


@pytest.mark.parametrize("fmt", ["bibtex", "ris", "csl-json"])
def test_exported_collection_imports_back_into_another_account(engine, fmt):
    _seed(engine)
    papers = get_papers(engine, ["1706.03762", "2010.11929"])
    text = export_papers(papers, fmt)
    other = add_user(engine, "other@example.org")
    report = import_library(engine, other.id, text, fmt=fmt, collection="From export")
    assert report.matched == ["1706.03762", "2010.11929"]
    assert report.errors == [] and report.unmatched == []


def test_account_export_then_import_restores_everything_and_twice_adds_nothing(engine):
    _seed(engine)
    user = add_user(engine, "reader@example.org")
    shelf = coll.create_collection(engine, user.id, "Vision", is_public=True)
    coll.add_paper(engine, user.id, shelf.id, "1512.03385")
    coll.add_paper(engine, user.id, shelf.id, "2010.11929")
    votes.set_vote(engine, user.id, "1706.03762", True)
    readers.mark_not_interested(engine, user.id, "1706.03762")
    coll.save_search(engine, user.id, "vit", "vision transformer")
    readers.set_onboarding(
        engine, user.id, {"topics": ["image recognition"], "categories": ["cs.CV"]}
    )
    subs.subscribe(engine, "reader@example.org", subs.Preferences(cadence="weekly"), user.id)
    data = json.loads(json.dumps(account.export_account(engine, user.id)))

    twin = add_user(engine, "twin@example.org")
    result = account.import_account(engine, twin.id, data)
    assert (result.collections_created, result.papers_saved, result.votes_added) == (1, 2, 1)
    assert (result.not_interested_added, result.searches_added) == (1, 1)
    assert result.subscription == "pending"  # a restored subscription waits for confirmation
    restored = account.export_account(engine, twin.id)
    for key in ("collections", "saved_searches"):
        assert restored[key] == data[key]
    assert [v["id"] for v in restored["votes"]] == ["1706.03762"]
    assert [v["id"] for v in restored["not_interested"]] == ["1706.03762"]
    assert restored["user"]["onboarding"]["topics"] == ["image recognition"]
    assert restored["subscription"]["preferences"]["cadence"] == "weekly"

    again = account.import_account(engine, twin.id, data)
    assert (again.collections_created, again.papers_saved, again.votes_added) == (0, 0, 0)
    assert (again.not_interested_added, again.searches_added) == (0, 0)


def test_account_import_names_bad_fields_and_unknown_papers(engine):
    user = add_user(engine, "reader@example.org")
    with pytest.raises(account.AccountFileError, match="'format'"):
        account.import_account(engine, user.id, {"collections": []})
    data = {
        "format": "paperroute-account",
        "version": 1,
        "collections": [{"name": "Mine", "papers": [{"id": "9999.99999"}, {}]}, {"papers": []}],
        "votes": [{"id": "9999.99998"}],
    }
    result = account.import_account(engine, user.id, data)
    assert result.missing == ["9999.99998", "9999.99999"]
    assert result.errors == [
        "collections[1].papers[2]: missing paper 'id'",
        "collections[2]: missing 'name'",
    ]


def test_sigkill_at_random_points_of_a_library_import_never_leaves_a_partial_collection(
    engine, tmp_path, database_url
):
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    ids = [f"2607.{n:05d}" for n in range(1, 3001)]
    upsert_records(
        engine,
        [
            PaperRecord(source="arxiv-oai", id=pid, title=f"Paper {pid}", abstract="A study.",
                        authors=[Author("Ada Lovelace")], categories=["cs.LG"],
                        announced=date(2026, 7, 1))
            for pid in ids
        ],
    )  # fmt: skip
    user = add_user(engine, "reader@example.org")
    bib = tmp_path / "big.bib"
    bib.write_text("".join(f"@misc{{k{n}, eprint = {{{pid}}}}}\n" for n, pid in enumerate(ids)))
    env = {**os.environ, "PAPERROUTE_DATABASE_URL": database_url,
           "PAPERROUTE_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    cmd = [sys.executable, "-m", "paperroute.cli", "library", "import", user.email, str(bib),
           "--collection", "Zotero", "--offline"]  # fmt: skip
    rng = random.Random(17)
    for _ in range(6):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        sizes = [(c.name, c.size) for c in coll.list_collections(engine, user.id)]
        assert sizes in ([], [("Zotero", 3000)]), "all of the import or none of it"
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    assert [(c.name, c.size) for c in coll.list_collections(engine, user.id)] == [("Zotero", 3000)]
    assert {p.saves for p in get_papers(engine, ids[:50])} == {1}, "each save counted once"
