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


def test_a_venue_ranks_its_papers_by_trending_as_the_trending_page_does(settings, engine):
    from paperroute.store.users import add_user
    from paperroute.store.votes import set_vote

    client = _site(settings, engine)
    newest = client.get("/venues/ACL/2024?format=json").json()["papers"]
    picked = newest[-1]["id"]  # the last by votes: nobody has voted yet
    for n in range(3):
        set_vote(engine, add_user(engine, f"reader{n}@example.org").id, picked, True)
    client = client_for(make_app(settings, engine))  # a new app: nothing cached
    ranked = client.get("/venues/ACL/2024?sort=trending&format=json").json()
    assert ranked["total"] == 13
    assert ranked["papers"][0]["id"] == picked
    page = client.get("/venues/ACL/2024?sort=trending")
    assert texts(page, ".sorts a.current") == ["trending"]
    first_link = doc(page).cssselect(".paper-list .paper-title a")[0].get("href")
    assert first_link.endswith(picked.split(":", 1)[-1])  # acl:2024.x -> /papers/acl/2024.x
    journal = client.get("/journals/1687-725X?sort=trending&format=json").json()
    assert journal["total"] == 1


def test_journal_urls_take_union_and_exclusion_like_categories(settings, engine):
    client = _site(settings, engine)
    journals = {i: n for i, n in ((j["issn"], j["papers"]) for j in
                client.get("/venues?format=json").json()["journals"])}  # fmt: skip
    assert len(journals) >= 2, journals
    first, second = sorted(journals)[:2]
    both = client.get(f"/journals/{first}+{second}?format=json").json()
    assert both["total"] == journals[first] + journals[second]
    page = client.get(f"/journals/{first}+{second}")
    assert f"(ISSN {first}) or " in texts(page, "h1")[0]
    assert not texts(page, ".follow code"), "no one digest tag for a union"
    only = client.get(f"/journals/{first}+{second}-{second}?format=json").json()
    assert only["total"] == journals[first]
    feed = client.get(f"/feeds/journals/{first}+{second}.json").json()
    assert len(feed["items"]) == journals[first] + journals[second]
    assert client.get(f"/journals/{first}+0000-0000").status_code == 404


def test_a_member_follows_a_venue_with_one_click_and_the_digest_has_it(settings, engine):
    from paperroute.store.subscriptions import subscription_of_user
    from webtools import sign_in

    client = _site(settings, engine)
    anonymous = client.get("/venues/ACL/2024")
    assert texts(anonymous, ".follow a.follow-signin") == ["Sign in"]
    user = sign_in(client, engine, "reader@example.org")
    page = client.get("/venues/ACL/2024")
    [form] = doc(page).cssselect(".follow form.follow-form")
    fields = {i.get("name"): i.get("value") for i in form.cssselect("input")}
    assert fields["tag"] == "venue:ACL"
    done = client.post(form.get("action"), data=fields)
    assert done.status_code == 303 and done.headers["location"].startswith("/settings/digest")
    sub = subscription_of_user(engine, user.id, user.email)
    assert sub.prefs.follow_categories == ["venue:ACL"]
    settings_page = client.get(done.headers["location"])
    assert "venue:ACL" in doc(settings_page).cssselect("#follow_categories")[0].get("value")
    assert texts(settings_page, ".notice.followed code") == ["venue:ACL"]
    again = client.post("/follow", data=fields)  # twice is still one follow
    assert again.status_code == 303
    assert subscription_of_user(engine, user.id, user.email).prefs.follow_categories == [
        "venue:ACL"
    ]
    bad = client.post("/follow", data={**fields, "tag": "<script>"})
    assert bad.status_code == 422 and "tag" in bad.text
    client.post("/follow", data={**fields, "follow": "0"})
    assert subscription_of_user(engine, user.id, user.email).prefs.follow_categories == []
