"""Store: idempotent, versioned, merged upserts on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime

from paperroute.models import Author, PaperRecord, Version
from paperroute.store import papers as store_papers


def _hf(upvotes=5, observed=datetime(2024, 1, 2, tzinfo=UTC)):
    return PaperRecord(
        source="hf_daily",
        id="2403.17377",
        title="Self-Correcting\n  Chatbots",
        abstract="We teach chatbots\nto fix mistakes.",
        authors=[Author("Ada Lovelace")],
        upvotes=upvotes,
        code_url="https://github.com/ada/fix",
        announced=date(2024, 1, 2),
        observed_at=observed,
    )


def _arxiv(version, title):
    return PaperRecord(
        source="arxiv_api",
        id="2403.17377",
        version=version,
        title=title,
        abstract=f"Abstract v{version}",
        authors=[Author("Ada Lovelace", ["Analytical Engines Ltd"]), Author("Charles Babbage")],
        primary_category="cs.CL",
        categories=["cs.CL", "cs.LG"],
        versions=[Version(v, datetime(2024, 1, v, tzinfo=UTC)) for v in range(1, version + 1)],
    )


def test_importing_the_same_record_twice_changes_nothing(engine):
    first = store_papers.upsert_records(engine, [_hf()])
    second = store_papers.upsert_records(engine, [_hf()])
    assert (first.added, second.added, second.updated, second.unchanged) == (1, 0, 0, 1)
    assert store_papers.count_papers(engine) == 1


def test_newer_version_updates_the_paper_and_keeps_history(engine):
    store_papers.upsert_records(engine, [_arxiv(1, "Old title")])
    result = store_papers.upsert_records(engine, [_arxiv(2, "New title")])
    paper = store_papers.get_paper(engine, "2403.17377")
    assert result.updated == 1
    assert paper.title == "New title"
    assert paper.latest_version == 2
    assert [v.version for v in paper.versions] == [1, 2]
    assert paper.versions[0].title == "Old title"


def test_older_version_does_not_overwrite_newer_metadata(engine):
    store_papers.upsert_records(engine, [_arxiv(2, "New title")])
    store_papers.upsert_records(engine, [_arxiv(1, "Old title")])
    assert store_papers.get_paper(engine, "2403.17377").title == "New title"


def test_records_from_different_sources_merge_into_one_paper(engine):
    store_papers.upsert_records(engine, [_hf()])
    store_papers.upsert_records(engine, [_arxiv(1, "Self-Correcting Chatbots")])
    paper = store_papers.get_paper(engine, "2403.17377")
    assert store_papers.count_papers(engine) == 1
    assert paper.hf_upvotes == 5 and paper.code_url == "https://github.com/ada/fix"
    assert paper.authors[0].affiliations == ["Analytical Engines Ltd"]
    assert paper.categories == ["cs.CL", "cs.LG"]
    assert store_papers.store_stats(engine)["papers_by_source"] == {"arxiv_api": 1, "hf_daily": 1}


def test_newest_upvote_snapshot_wins_whatever_the_import_order(engine):
    later = _hf(upvotes=40, observed=datetime(2024, 1, 9, tzinfo=UTC))
    store_papers.upsert_records(engine, [later])
    store_papers.upsert_records(engine, [_hf(upvotes=5)])
    assert store_papers.get_paper(engine, "2403.17377").hf_upvotes == 40


def test_titles_and_abstracts_lose_arxiv_hard_line_breaks(engine):
    store_papers.upsert_records(engine, [_hf()])
    paper = store_papers.get_paper(engine, "2403.17377")
    assert paper.title == "Self-Correcting Chatbots"
    assert paper.abstract == "We teach chatbots to fix mistakes."


def test_old_style_ids_are_stored_as_is(engine):
    record = PaperRecord(source="arxiv_api", id="hep-th/9901001", title="T", abstract="A")
    store_papers.upsert_records(engine, [record])
    assert store_papers.get_paper(engine, "hep-th/9901001").title == "T"


def test_nul_characters_in_text_are_dropped_on_both_backends(engine):
    record = _arxiv(1, "Null\x00 bytes in a title")
    record.abstract = "An abstract with a \x00 NUL."
    store_papers.upsert_records(engine, [record])
    paper = store_papers.get_paper(engine, "2403.17377")
    assert paper.title == "Null bytes in a title"
    assert paper.abstract == "An abstract with a NUL."
    assert "\x00" not in (paper.versions[0].title or "")


def test_links_that_are_not_web_urls_are_dropped_at_ingest(engine):
    record = PaperRecord(
        source="test",
        id="2502.07777",
        title="Links",
        code_url="javascript:alert(1)",
        project_url=" data:text/html,<script>alert(1)</script>",
        pdf_url="https://arxiv.org/pdf/2502.07777",
    )
    store_papers.upsert_records(engine, [record])
    [paper] = store_papers.get_papers(engine, ["2502.07777"])
    assert (paper.code_url, paper.project_url) == (None, None)
    assert paper.pdf_url == "https://arxiv.org/pdf/2502.07777"


def test_a_paper_read_alone_equals_the_same_paper_read_in_a_batch(engine):
    # One id is read straight through the driver (store.engine.ByIds.dicts), a batch through
    # SQLAlchemy: every field, version and identifier must come back the same, types included.
    other = PaperRecord(
        source="crossref", id="doi:10.1/x", doi="10.1/X", title="Other", authors=[Author("B")]
    )
    store_papers.upsert_records(engine, [_arxiv(2, "New title"), _hf(), other])
    alone = store_papers.get_paper(engine, "2403.17377")
    batch = {p.id: p for p in store_papers.get_papers(engine, ["2403.17377", "doi:10.1/x"])}
    assert alone == batch["2403.17377"]
    assert [type(v.submitted) for v in alone.versions] == [datetime, datetime]
    assert alone.versions[0].submitted.tzinfo is not None and alone.hf_upvotes == 5
    assert store_papers.get_paper(engine, "doi:10.1/x") == batch["doi:10.1/x"]


def test_a_paper_read_alone_shows_its_statements_to_the_engines_cursor_events(engine):
    # The tests that count a page's queries listen to these; the driver-level read fires them.
    from sqlalchemy import event

    store_papers.upsert_records(engine, [_arxiv(2, "New title")])
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        store_papers.get_paper(engine, "2403.17377")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(seen) == 4  # the paper, its versions, identifiers and submission
