"""Search, the paper page and similar papers for papers that have no arXiv id (DOI-keyed: the
recorded AJPH journal feed and a Crossref work), beside the 300 arXiv fixture papers, with the
real search service and model."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from paperroute.sources.files import read_file
from paperroute.sources.ingest import Ingest
from search_support import load_fixture, make_service
from webtools import client_for, doc, make_app, texts

DATA = Path(__file__).parent / "data" / "sources"
TITLE = (
    "Effect of Systems Change and Use of Electronic Health Records on Quit Rates Among Tobacco "
    "Users in a Public Hospital System"
)


def _search_ids(client, q: str) -> list[str]:
    """The ids of the result cards /search shows for `q`."""
    found = client.get("/search", params={"q": q})
    assert found.status_code == 200
    return [e.get("data-paper-id") for e in doc(found).cssselect(".search-results .paper-card")]


def test_a_journal_article_is_found_shown_and_has_similar_papers(settings, engine):
    load_fixture(engine)
    ingest = Ingest(engine)
    added = set()
    for path in [
        DATA / "journal" / "ajph_atypon_2015.xml",
        DATA / "crossref" / "work_10.1109_icdcsw.2003.1203662.json",
    ]:
        added |= ingest.items(read_file(path), progress=False).result.added_ids
    assert len(added) == 21 and all(pid.startswith("doi:") for pid in added)
    service = make_service(settings, engine)
    service.papers_stored(sorted(added))
    client = client_for(make_app(settings, engine, search=service))

    found = client.get("/search", params={"q": TITLE})
    cards = doc(found).cssselect(".search-results .paper-card")
    first = cards[0]
    assert first.get("data-paper-id").startswith("doi:10.2105/ajph.")
    href = first.cssselect(".paper-title a")[0].get("href")
    assert href.startswith("/papers/doi/10.2105/ajph.")

    page = client.get(href)
    assert page.status_code == 200 and texts(page, "h1")[0] == TITLE
    assert "American Journal of Public Health" in texts(page, ".published-in")[0]
    doi = href.removeprefix("/papers/doi/")
    assert doc(page).cssselect("a.doi-link")[0].get("href") == f"https://doi.org/{doi}"

    listed = client.get(href + "/similar?format=json").json()
    ids = [p["id"] for p in listed["similar"]]
    assert listed["paper_id"] == first.get("data-paper-id") not in ids
    # the nearest papers to a public-health article are the other public-health articles
    assert len(ids) == 5 and all(pid.startswith("doi:10.2105/ajph.") for pid in ids)
    similar = client.get(href + "/similar")
    links = [a.get("href") for a in doc(similar).cssselect("a") if "/papers/doi/" in a.get("href")]
    assert f"/papers/{ids[0].replace(':', '/', 1)}" in links


def test_the_venue_filter_keeps_a_venue_or_journal_s_papers(settings, engine):
    load_fixture(engine)
    ingest = Ingest(engine)
    for path in [
        DATA / "journal" / "ajph_atypon_2015.xml",
        DATA / "acl" / "2024.acl_long3_short2.xml",
    ]:
        ingest.items(read_file(path), progress=False)
    service = make_service(settings, engine)
    client = client_for(make_app(settings, engine, search=service))

    ids = partial(_search_ids, client)

    everything = ids("public health systems")
    assert any(pid.startswith("doi:10.2105/") for pid in everything)
    assert any(not pid.startswith("doi:") for pid in everything)  # arXiv papers match too
    ajph = ids('public health systems venue:"American Journal of Public Health"')
    assert ajph and all(pid.startswith("doi:10.2105/") for pid in ajph)
    assert all(pid.startswith("acl:2024.") for pid in ids("public health systems venue:ACL"))
    acl = ids("language models venue:acl")
    assert acl and all(pid.startswith("acl:2024.acl-") for pid in acl)


def test_for_you_recommends_journal_and_conference_papers_from_a_library_of_them(settings, engine):
    """A reader who saved public-health journal articles is recommended the other articles of
    that journal before ACL papers or the 300 arXiv papers, by the recommender behind /for-you,
    its API and the digest, with reasons that name the saved articles."""
    from paperroute.ranking.foryou import Recommender
    from paperroute.store.collections import save_into_collection
    from paperroute.store.users import add_user

    load_fixture(engine)
    ingest = Ingest(engine)
    journal = sorted(
        ingest.items(
            read_file(DATA / "journal" / "ajph_atypon_2015.xml"), progress=False
        ).result.added_ids
    )
    acl = sorted(
        ingest.items(
            read_file(DATA / "acl" / "2024.acl_long3_short2.xml"), progress=False
        ).result.added_ids
    )
    service = make_service(settings, engine)
    service.papers_stored([*journal, *acl])
    reader = add_user(engine, "epidemiologist@example.org")
    saved = journal[:4]
    save_into_collection(engine, reader.id, "Tobacco and health", saved)

    arxiv = [h.id for h in service.search("language models").hits][:20]
    candidates = [*journal, *acl, *arxiv]
    recommender = Recommender.from_search(engine, service)
    [found] = recommender.for_readers([reader.id], "month", candidates=candidates).values()
    top = [item.paper_id for item in found.items[:8]]
    assert not set(top) & set(saved), "saved papers are never recommended back"
    assert all(pid in journal for pid in top), top
    assert all(pid in saved for pid, _ in found.items[0].reason.closest)


def test_a_venue_or_journal_filter_alone_lists_its_papers(settings, engine):
    """`venue:ACL` or `journal:<ISSN>` with no words is a filter-only query, like `cat:cs.CL`
    alone: it lists that venue's papers on the search page and the JSON API."""
    load_fixture(engine)
    ingest = Ingest(engine)
    acl_ids: set[str] = set()
    for path in [
        DATA / "journal" / "ajph_atypon_2015.xml",
        DATA / "acl" / "2024.acl_long3_short2.xml",
        DATA / "crossref" / "members98_cursor_page0.json",  # Journal of Sensors: 1687-725X
    ]:
        added = ingest.items(read_file(path), progress=False).result.added_ids
        if "acl" in path.name:
            acl_ids = set(added)
    service = make_service(settings, engine)
    client = client_for(make_app(settings, engine, search=service))

    ids = partial(_search_ids, client)

    assert len(acl_ids) == 5 and set(ids("venue:ACL")) == acl_ids
    assert set(ids("venue:acl")) == acl_ids
    ajph = ids('venue:"American Journal of Public Health"')
    assert len(ajph) == 20 and all(pid.startswith("doi:10.2105/") for pid in ajph)
    [sensors] = ids("journal:1687-725X")
    assert sensors.startswith("doi:")
    assert ids("journal:1687-725x") == [sensors]
    api = client.get("/api/papers/search", params={"q": "venue:ACL"}).json()
    assert {e["paper"]["id"] for e in api} == acl_ids
    assert len(ids("cat:cs.CL")) > 0  # the filter-only path both go through
    assert ids("venue:NoSuchVenue") == []
