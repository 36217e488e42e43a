"""rss.arxiv.org feeds (RSS 2.0 and Atom) served on loopback from tests/data/sources/rss.

The feeds were produced by arXiv's own feed code (see tests/data/sources/README.md).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from paperroute.sources.arxiv_rss import ArxivRSSSource
from paperroute.sources.base import SourceError
from test_sources_http import fake_client

DATA = Path(__file__).parent / "data" / "sources" / "rss"


def serve(httpserver, path: str, name: str, status: int = 200) -> None:
    httpserver.expect_request(path).respond_with_data(
        (DATA / name).read_bytes(), status=status, content_type="application/xml"
    )


def read(httpserver, categories, feed: str = "rss"):
    client, _ = fake_client("arxiv-rss")
    source = ArxivRSSSource(categories, base_url=httpserver.url_for("/"), feed=feed, client=client)
    pages = list(source.pages())
    return source, pages


def test_announce_types_new_cross_replace_and_replace_cross(httpserver):
    serve(httpserver, "/rss/math", "rss_math_2011-02-03.xml")
    source, [page] = read(httpserver, ["math"])
    by_type: dict[str, list] = {}
    for record in page.items:
        by_type.setdefault(record.announce_type, []).append(record)
    assert sorted(by_type) == ["cross", "new", "replace", "replace-cross"]
    assert all(r.announced == date(2011, 2, 3) for r in page.items)
    assert source.announced == date(2011, 2, 3) and page.done
    replaced = next(r for r in by_type["replace"] if r.id == "0806.4129")
    assert replaced.version == 6
    assert [a.name for a in replaced.authors] == ["Roldao da Rocha", "Waldyr A. Rodrigues Jr"]
    assert replaced.doi == "10.1063/1.3536454"
    assert replaced.journal_ref == "AIP Conf.Proc.1316:466-477,2010"
    assert replaced.categories == ["math-ph", "math.MP"]
    assert replaced.abstract.startswith("In a previous paper we investigate a Lagrangian")


def test_atom_feed_gives_the_same_records_as_rss(httpserver):
    serve(httpserver, "/rss/math", "rss_math_2011-02-03.xml")
    serve(httpserver, "/atom/math", "atom_math_2011-02-03.xml")
    _, [rss] = read(httpserver, ["math"])
    _, [atom] = read(httpserver, ["math"], feed="atom")

    def key(r):
        return (r.id, r.version, r.announce_type, r.announced, r.title, r.categories)

    assert [key(r) for r in atom.items] == [key(r) for r in rss.items]


@pytest.mark.parametrize("categories", [["cs", "math"], ["cs+math"]])
def test_several_categories_are_one_feed(httpserver, categories):
    serve(httpserver, "/rss/cs+math", "rss_cs_plus_math_2023-10-26.xml")
    _, [page] = read(httpserver, categories)
    assert [r.announce_type for r in page.items] == ["new", "cross", "cross", "replace-cross"]
    assert page.items[0].id == "2310.16106"
    assert page.items[0].announced == date(2023, 10, 26)


@pytest.mark.parametrize(
    ("feed", "name"),
    [
        ("rss", "EMPTY_rss_cs_2023-10-26_no-announcements.xml"),
        ("atom", "EMPTY_atom_cs_2023-10-26_no-announcements.xml"),
    ],
)
def test_a_day_without_announcements_is_empty_not_an_error(httpserver, feed, name):
    serve(httpserver, f"/{feed}/cs", name)
    _, pages = read(httpserver, ["cs"], feed=feed)
    assert len(pages) == 1 and pages[0].items == [] and pages[0].done


@pytest.mark.parametrize("status", [400, 200])
def test_error_feed_raises_with_arxivs_message(httpserver, status):
    serve(httpserver, "/rss/notanarchive", "ERROR_rss_bad-archive.xml", status=status)
    with pytest.raises(
        SourceError, match="arxiv-rss: arXiv feed error: Bad archive 'notanarchive'"
    ):
        read(httpserver, ["notanarchive"])


def test_no_category_is_refused():
    with pytest.raises(SourceError, match="at least one category"):
        ArxivRSSSource([])
