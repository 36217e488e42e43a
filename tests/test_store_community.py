"""Community submissions, authorship claims and organisations in the store, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from factories import paper_record
from paperroute.models import Author
from paperroute.store import claims, listings, orgs
from paperroute.store import submissions as subs
from paperroute.store.account import export_account
from paperroute.store.papers import get_paper, upsert_records
from paperroute.store.readers import load_reader_library
from paperroute.store.subscriptions import follow_author, subscription_of_user
from paperroute.store.users import (
    ProfileError,
    add_user,
    delete_user,
    get_user,
    get_user_by_handle,
    update_profile,
    update_public_profile,
)

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
OLD_ACCOUNT = NOW + timedelta(days=30)  # "now" for members whose account is a month old
LIMITS = subs.Limits(max_age_days=14, daily_quota=2, new_account_days=7, new_account_quota=1)


@pytest.fixture
def stored(engine):
    recent = OLD_ACCOUNT - timedelta(days=2)
    upsert_records(
        engine,
        [
            paper_record("2603.00001", published=recent),
            paper_record("2603.00002", published=recent),
            paper_record("2603.00003", published=recent),
            paper_record("2601.00009", published=OLD_ACCOUNT - timedelta(days=40)),
            paper_record(
                "2603.00004", published=recent, announced=(OLD_ACCOUNT - timedelta(days=1)).date()
            ),
        ],
    )
    return engine


def member(engine, email: str, name: str | None = None):
    user = add_user(engine, email)
    if name:
        update_profile(engine, user.id, name)
    user = get_user(engine, user.id)
    user.created_at = NOW  # both backends: a fixed creation time for the new-account rules
    return user


def test_a_submission_shows_who_submitted_and_the_second_submitter_is_told(stored):
    ada = member(stored, "ada@example.org", "Ada")
    grace = member(stored, "grace@example.org", "Grace")
    subs.record_submission(stored, ada, "2603.00001", LIMITS, now=OLD_ACCOUNT)
    found = get_paper(stored, "2603.00001").submission
    assert (found.name, found.handle, found.at) == ("Ada", f"member-{ada.id}", OLD_ACCOUNT)
    with pytest.raises(subs.SubmissionError, match="already submitted by Ada on 09 Apr 2026"):
        subs.record_submission(stored, grace, "2603.00001", LIMITS, now=OLD_ACCOUNT)
    with pytest.raises(subs.SubmissionError, match="already submitted by Ada"):
        subs.check_submission(stored, grace, "2603.00001", LIMITS, now=OLD_ACCOUNT)


def test_papers_older_than_the_limit_are_refused(stored):
    ada = member(stored, "ada@example.org")
    with pytest.raises(subs.SubmissionError, match="more than 14 days ago"):
        subs.record_submission(stored, ada, "2601.00009", LIMITS, now=OLD_ACCOUNT)
    assert subs.submission_of(stored, "2601.00009") is None
    roomy = subs.Limits(max_age_days=60, daily_quota=2)
    subs.record_submission(stored, ada, "2601.00009", roomy, now=OLD_ACCOUNT)


def test_daily_quota_is_stricter_for_new_accounts(stored):
    ada = member(stored, "ada@example.org")
    subs.record_submission(stored, ada, "2603.00001", LIMITS, now=NOW + timedelta(days=1))
    with pytest.raises(subs.SubmissionError, match="the most a new account may submit a day is 1"):
        subs.record_submission(stored, ada, "2603.00002", LIMITS, now=NOW + timedelta(days=1))
    later = OLD_ACCOUNT
    subs.record_submission(stored, ada, "2603.00002", LIMITS, now=later)
    subs.record_submission(stored, ada, "2603.00003", LIMITS, now=later)
    with pytest.raises(subs.SubmissionError, match="the most a member may submit a day is 2"):
        subs.record_submission(stored, ada, "2603.00004", LIMITS, now=later)
    assert [s["paper_id"] for s in subs.submissions_by(stored, ada.id)] == [
        "2603.00002",
        "2603.00003",
        "2603.00001",
    ]


def test_a_deleted_members_submission_stays_readable(stored):
    ada = member(stored, "ada@example.org", "Ada")
    subs.record_submission(stored, ada, "2603.00001", LIMITS, now=OLD_ACCOUNT)
    assert delete_user(stored, ada.id)
    found = get_paper(stored, "2603.00001").submission
    assert (found.name, found.handle, found.url) == ("deleted member", None, None)


def test_daily_listing_modes_all_and_curated(stored):
    ada = member(stored, "ada@example.org")
    subs.record_submission(stored, ada, "2603.00001", LIMITS, now=OLD_ACCOUNT)
    day = OLD_ACCOUNT.date()
    announced_day = day - timedelta(days=1)

    def ids(start, mode):
        flt = listings.PaperFilter(start=start, end=start, mode=mode)
        return {p.id for p in listings.list_papers(stored, flt)[0]}

    assert ids(day, "announced") == set()
    assert ids(day, "all") == {"2603.00001"}
    assert ids(day, "curated") == {"2603.00001"}
    assert ids(announced_day, "all") == {"2603.00004"}
    assert ids(announced_day, "curated") == set()  # announced but neither submitted nor featured
    listings.set_flags(stored, "2603.00004", featured=True)
    assert ids(announced_day, "curated") == {"2603.00004"}
    assert listings.latest_day(stored) == announced_day
    assert listings.latest_day(stored, "all") == day
    assert listings.adjacent_days(stored, day, "all") == (announced_day, None)
    mine = listings.PaperFilter(submitter=f"member-{ada.id}")
    assert [p.id for p in listings.list_papers(stored, mine)[0]] == ["2603.00001"]


def test_handles_and_orcid_ids_are_checked(engine):
    ada = member(engine, "ada@example.org")
    grace = member(engine, "grace@example.org")
    update_public_profile(engine, ada.id, "Ada-L", "https://orcid.org/0000-0002-1825-0097")
    saved = get_user(engine, ada.id)
    assert (saved.handle, saved.orcid, saved.public_handle) == (
        "ada-l",
        "0000-0002-1825-0097",
        "ada-l",
    )
    assert get_user_by_handle(engine, "ada-l").id == ada.id
    assert get_user_by_handle(engine, f"member-{ada.id}") is None  # a chosen handle replaces it
    assert get_user_by_handle(engine, f"member-{grace.id}").id == grace.id
    with pytest.raises(ProfileError, match="handle: 'ada-l' is taken"):
        update_public_profile(engine, grace.id, "ada-l", None)
    with pytest.raises(ProfileError, match="orcid: '0000-0002-1825-0098' has a wrong check digit"):
        update_public_profile(engine, grace.id, None, "0000-0002-1825-0098")
    with pytest.raises(ProfileError, match="not member-<number>"):
        update_public_profile(engine, grace.id, "member-9", None)


def test_a_claim_waits_for_an_admin_and_then_gives_the_badge(stored):
    ada = member(stored, "ada@unrelated.example")
    made = claims.claim_authorship(stored, ada, "2603.00001", "ada lovelace")
    assert (made.status, made.author_name) == ("pending", "Ada Lovelace")
    assert [c.id for c in claims.pending_claims(stored)] == [made.id]
    assert claims.approved_authors(stored, "2603.00001") == {}
    with pytest.raises(claims.ClaimError, match="already claimed an author of 2603.00001"):
        claims.claim_authorship(stored, ada, "2603.00001", "Grace Hopper")
    with pytest.raises(claims.ClaimError, match="'Nobody' is not an author of 2603.00002"):
        claims.claim_authorship(stored, ada, "2603.00002", "Nobody")
    claims.decide_claim(stored, made.id, approve=True)
    assert (
        claims.approved_authors(stored, "2603.00001")["ada lovelace"].handle == f"member-{ada.id}"
    )
    assert claims.pending_claims(stored) == []
    other = member(stored, "other@unrelated.example")
    with pytest.raises(claims.ClaimError, match="already claimed by"):
        claims.claim_authorship(stored, other, "2603.00001", "Ada Lovelace")


def test_claims_are_approved_at_once_by_email_domain_or_orcid(stored):
    orgs.create_org(stored, "Analytical Engines", ["Analytical Engines Ltd"], ["engines.example"])
    ada = member(stored, "ada@cs.engines.example")
    assert claims.claim_authorship(stored, ada, "2603.00001", "Ada Lovelace").how == "email_domain"
    upsert_records(
        stored,
        [
            paper_record(
                "2603.00005",
                published=OLD_ACCOUNT,
                authors=[Author("Grace Hopper", ["grace@navy.mil.example"])],
            )
        ],
    )
    navy = member(stored, "someone@navy.mil.example")
    assert claims.claim_authorship(stored, navy, "2603.00005", "Grace Hopper").status == "approved"
    upsert_records(
        stored,
        [
            paper_record(
                "2603.00006",
                published=OLD_ACCOUNT,
                comments="ORCID 0000-0002-1825-0097 for the first author",
            )
        ],
    )
    grace = member(stored, "grace@gmail.com")
    update_public_profile(stored, grace.id, None, "0000-0002-1825-0097")
    grace = get_user(stored, grace.id)
    assert claims.claim_authorship(stored, grace, "2603.00006", "Ada Lovelace").how == "orcid"
    # An address at a public mail domain named in an affiliation proves nothing.
    upsert_records(
        stored,
        [
            paper_record(
                "2603.00007", published=OLD_ACCOUNT, authors=[Author("Kim", ["kim@gmail.com"])]
            )
        ],
    )
    assert claims.claim_authorship(stored, grace, "2603.00007", "Kim").status == "pending"


def test_organisations_from_sources_and_admins_with_their_members(stored):
    upsert_records(
        stored,
        [paper_record("2603.00008", published=OLD_ACCOUNT, organization="Université Paris <Lab>")],
    )
    found = orgs.get_org(stored, orgs.slugify("Université Paris <Lab>"))
    assert (found.id, found.name, found.slug) == (
        None,
        "Université Paris <Lab>",
        "université-paris-lab",
    )
    made = orgs.create_org(stored, "Engines", ["Université Paris <Lab>"], ["engines.example"])
    assert orgs.get_org(stored, "engines").names == ("Engines", "Université Paris <Lab>")
    with pytest.raises(orgs.OrgError, match="name: an organisation 'Engines' exists already"):
        orgs.create_org(stored, "Engines")
    with pytest.raises(orgs.OrgError, match="domains: 'not a domain'"):
        orgs.create_org(stored, "Other", domains=["not a domain"])
    ada = member(stored, "ada@elsewhere.example", "Ada")
    claims.decide_claim(
        stored, claims.claim_authorship(stored, ada, "2603.00008", "Ada Lovelace").id, True
    )
    bob = member(stored, "bob@example.org", "Bob")
    assert orgs.assign_member(stored, made.id, bob.id)
    assert not orgs.assign_member(stored, made.id, bob.id)
    assert [m.name for m in orgs.org_members_of(stored, orgs.get_org(stored, "engines"))] == [
        "Ada",
        "Bob",
    ]
    flt = listings.PaperFilter(organizations=orgs.get_org(stored, "engines").names)
    assert [p.id for p in listings.list_papers(stored, flt)[0]] == ["2603.00008"]


def test_following_an_author_feeds_the_digest_list_and_for_you(engine):
    ada = member(engine, "ada@example.org")
    assert follow_author(engine, ada.id, ada.email, "Grace  Hopper") == ["Grace Hopper"]
    found = subscription_of_user(engine, ada.id, ada.email)
    assert found.status == "unsubscribed" and found.prefs.follow_authors == ["Grace Hopper"]
    assert load_reader_library(engine, ada.id).followed_authors == ["grace hopper"]
    assert follow_author(engine, ada.id, ada.email, "grace hopper", follow=False) == []


def test_the_account_export_holds_submissions_and_claims(stored):
    ada = member(stored, "ada@example.org")
    update_public_profile(stored, ada.id, "ada", None)
    ada = get_user(stored, ada.id)
    subs.record_submission(stored, ada, "2603.00001", LIMITS, now=OLD_ACCOUNT)
    claims.claim_authorship(stored, ada, "2603.00002", "Grace Hopper")
    data = export_account(stored, ada.id)
    assert data["user"]["handle"] == "ada"
    assert data["submissions"] == [{"id": "2603.00001", "at": OLD_ACCOUNT.isoformat()}]
    [claim] = data["author_claims"]
    assert (claim["id"], claim["author"], claim["status"]) == (
        "2603.00002",
        "Grace Hopper",
        "pending",
    )
