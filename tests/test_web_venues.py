"""Venues and journals as views, like categories: `/venues/<venue>/<year>` with its tracks,
`/journals/<ISSN>`, the `/venues` index, and their Atom/JSON feeds, on real imported records
(the ACL 2024 volume excerpts, the AJPH journal feed and a Crossref works page)."""

from __future__ import annotations

from pathlib import Path

from paperroute.digest.compose import PaperIndex
from paperroute.sources.files import read_file
from paperroute.sources.ingest import Ingest
from paperroute.store.listings import PaperFilter, list_papers
from paperroute.store.subscriptions import Preferences
from webtools import client_for, doc, make_app, texts

DATA = Path(__file__).parent / "data" / "sources"
FILES = [
    DATA / "acl" / "2024.acl_long3_short2.xml",  # ACL 2024: 3 long, 2 short
    DATA / "merge" / "2024.acl_overlap.xml",  # ACL 2024: 3 long, 2 short, 1 demo, 2 srw
    DATA / "acl" / "2024.tacl_first2.xml",  # TACL 2024: 2
    DATA / "journal" / "ajph_atypon_2015.xml",  # American Journal of Public Health, 20
    DATA / "crossref" / "members98_cursor_page0.json",  # 4 journal articles with ISSNs
]


def _site(settings, engine):
    ingest = Ingest(engine)
    for path in FILES:
        ingest.items(read_file(path), progress=False)
    return client_for(make_app(settings, engine))


def test_a_venue_year_lists_its_papers_by_track_with_feeds(settings, engine):
    client = _site(settings, engine)
    page = client.get("/venues/ACL/2024")
    assert page.status_code == 200
    assert texts(page, "h1")[0] == "ACL 2024"
    assert len(doc(page).cssselect(".paper-list article, .paper-list .paper-card")) == 13
    tracks = [" ".join(t.split()) for t in texts(page, ".tracks a.track")]
    assert tracks == ["demos 1", "long 6", "short 4", "srw 2"]
    assert "venue:ACL" in texts(page, ".follow code")

    short = client.get("/venues/ACL/2024?track=short")
    assert texts(short, "h1")[0] == "ACL 2024 (short)"
    assert client.get("/venues/ACL/2024?track=short&format=json").json()["total"] == 4
    assert client.get("/venues/ACL?format=json").json()["total"] == 13
    assert client.get("/venues/ACL/2023?format=json").json()["total"] == 0

    atom = client.get("/feeds/venues/ACL/2024.atom")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    assert atom.text.count("<entry>") == 13
    feed = client.get("/feeds/venues/ACL/2024.json").json()
    assert len(feed["items"]) == 13 and feed["title"].endswith("papers in ACL 2024")
    bad_year = client.get("/venues/ACL/notayear")
    assert bad_year.status_code in (404, 422) and "year" in bad_year.text.lower()


def test_the_venues_index_and_a_journal_by_issn(settings, engine):
    client = _site(settings, engine)
    index = client.get("/venues")
    venues = texts(index, ".venue-list a")
    assert "American Journal of Public Health 2015" in venues and "ACL 2024" in venues
    assert "Journal of Sensors" in texts(index, ".journal-list a")
    assert client.get(doc(index).cssselect(".venue-list a")[0].get("href")).status_code == 200

    page = client.get("/journals/1687-725X")
    assert page.status_code == 200
    assert texts(page, "h1")[0] == "Journal of Sensors (ISSN 1687-725X)"
    assert client.get("/journals/1687-725x?format=json").json()["total"] == 1
    feed = client.get("/feeds/journals/1687-725X.json").json()
    assert [i["title"] for i in feed["items"]] == texts(page, ".paper-list .paper-title a")
    assert [a.get("href") for a in doc(page).cssselect(".paper-list a.venue")] == [
        "/journals/1687-725X"
    ]
    missing = client.get("/journals/0000-0000")
    assert missing.status_code == 404 and "0000-0000" in missing.text


def test_hostile_venue_and_issn_values_get_clear_answers(settings, engine):
    client = _site(settings, engine)
    for url in [
        "/venues/%00/2024",
        "/venues/" + "x-" * 2000,
        "/journals/%00",
        "/journals/" + "x" * 5000,
        "/feeds/venues/%00/2024.atom",
        "/feeds/journals/%00.json",
        "/venues/ACL/2024?track=%00",
    ]:
        assert client.get(url).status_code < 500, url


def test_venue_urls_take_union_and_exclusion_like_categories(settings, engine):
    client = _site(settings, engine)
    both = client.get("/venues/ACL+TACL/2024")
    assert texts(both, "h1")[0] == "ACL or TACL 2024"
    assert client.get("/venues/ACL+TACL/2024?format=json").json()["total"] == 15
    assert client.get("/venues/ACL+TACL-ACL?format=json").json()["total"] == 2
    assert len(client.get("/feeds/venues/ACL+TACL/2024.json").json()["items"]) == 15


def test_a_venue_page_s_follow_tag_is_one_a_digest_accepts_and_follows(settings, engine):
    client = _site(settings, engine)
    page = client.get("/venues/American Journal of Public Health/2015")
    tag = texts(page, ".follow code")[0]
    assert tag == "venue:American Journal of Public Health"  # a journal feed without ISSNs
    prefs = Preferences(follow_categories=[tag]).validated()  # was: longer than 32 characters
    assert prefs.follow_categories == [tag]
    found, _ = list_papers(engine, PaperFilter(venues=("American Journal of Public Health",)))
    assert len(PaperIndex.build(found).by_category[tag.lower()]) == 20
    assert texts(client.get("/journals/1687-725X"), ".follow code")[0] == "journal:1687-725X"
    assert not texts(client.get("/venues/ACL+TACL/2024"), ".follow code")  # no one tag for a union
