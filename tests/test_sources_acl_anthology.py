"""ACL Anthology volume XML: the real 2024.acl.xml (trimmed to 3 long + 2 short papers), the
real TACL 2024 file (first 2 papers), the whole real J89.xml, and the Anthology's own BibTeX
export of P19-1007, read from files and from a loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperroute.sources.acl_anthology import AclAnthologySource, bibtex_entries, parse_collection
from paperroute.sources.base import SourceError
from paperroute.sources.files import detect_format, read_file
from paperroute.sources.ingest import Ingest
from test_sources_http import fake_client

DATA = Path(__file__).parent / "data" / "sources" / "acl"
ACL = DATA / "2024.acl_long3_short2.xml"


def test_volume_papers_carry_anthology_id_venue_year_track_and_links():
    papers = parse_collection(ACL.read_bytes())
    assert [p.id for p in papers] == [
        "acl:2024.acl-long.1",
        "acl:2024.acl-long.2",
        "acl:2024.acl-long.3",
        "acl:2024.acl-short.1",
        "acl:2024.acl-short.2",
    ]
    first = papers[0]
    assert first.title.startswith("Quantized Side Tuning")
    assert (first.venue, first.year, first.track, first.pages) == ("ACL", 2024, "long", "1-17")
    assert first.publication_type == "proceedings"
    assert first.identifiers == {"acl": "2024.acl-long.1"}
    assert first.abs_url == "https://aclanthology.org/2024.acl-long.1"
    assert first.pdf_url == "https://aclanthology.org/2024.acl-long.1.pdf"
    assert first.authors[1].name == "Dan Zhao"
    assert first.authors[1].affiliations == [
        "Peng Cheng Laborotary"
    ]  # sic, as the Anthology has it
    assert first.abstract.endswith("footprint up to 7$\\times$.")  # <tex-math> kept as LaTeX
    assert [p.track for p in papers] == ["long"] * 3 + ["short"] * 2


def test_journal_volume_is_keyed_by_doi_with_volume_number():
    papers = parse_collection((DATA / "2024.tacl_first2.xml").read_bytes())
    assert [p.id for p in papers] == ["doi:10.1162/tacl_a_00629", "doi:10.1162/tacl_a_00631"]
    assert papers[0].title == "AmbiFC: Fact-Checking Ambiguous Claims with Evidence"  # <fixed-case>
    assert (papers[0].venue, papers[0].volume, papers[0].track) == ("TACL", "12", None)
    assert papers[0].publication_type == "journal"
    assert papers[0].identifiers["acl"] == "2024.tacl-1.1"


def test_old_style_collection_uses_its_url_ids():
    papers = list(read_file(DATA / "J89.xml"))
    assert len(papers) == 58
    assert papers[0].id == "acl:J89-1001" and papers[0].year == 1989


def test_bibtex_is_attached_exactly_as_the_anthology_gives_it():
    text = (DATA / "P19-1007.bib").read_text()
    entries = bibtex_entries(text)
    assert list(entries) == ["P19-1007"]
    assert entries["P19-1007"] == text.strip()


def test_saved_volume_is_detected_and_a_second_import_adds_nothing(engine):
    assert detect_format(ACL) == "acl-anthology"
    ingest = Ingest(engine)
    first = ingest.items(read_file(ACL), progress=False)
    again = ingest.items(read_file(ACL), progress=False)
    assert (first.records, first.result.added, first.error_count) == (5, 5, 0)
    assert (again.result.added, again.result.updated, again.result.unchanged) == (0, 0, 5)


def test_live_collection_with_volume_bibtex_and_a_missing_collection(httpserver):
    httpserver.expect_request("/xml/2024.acl.xml").respond_with_data(ACL.read_bytes())
    bib = (DATA / "P19-1007.bib").read_text().replace("P19-1007", "2024.acl-long.1")
    httpserver.expect_request("/volumes/2024.acl-long.bib").respond_with_data(bib)
    httpserver.expect_request("/volumes/2024.acl-short.bib").respond_with_data("", status=404)
    httpserver.expect_request("/xml/1999.nope.xml").respond_with_data("Not Found", status=404)
    client, _ = fake_client("acl-anthology")
    source = AclAnthologySource(
        ["2024.acl"],
        base_url=httpserver.url_for("/xml"),
        site_url=httpserver.url_for(""),
        client=client,
    )
    [page] = list(source.pages())
    assert page.done and len(page.items) == 5
    assert page.items[0].bibtex.startswith("@inproceedings{cao-etal-2019-semantic")
    assert page.items[3].bibtex is None
    missing = AclAnthologySource(["1999.nope"], base_url=httpserver.url_for("/xml"), client=client)
    with pytest.raises(SourceError, match="no collection '1999.nope'"):
        list(missing.pages())


def test_leading_blank_lines_before_the_declaration_are_accepted():
    assert len(parse_collection(b"\n\n  " + ACL.read_bytes())) == 5
