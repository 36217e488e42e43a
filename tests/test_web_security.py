"""Attacks that once got through (issue 15): forged page markers, a session that outlived
sign-out, stale caches after a write, and BibTeX/RIS injection through a paper's title.

Each runs against the real app on both backends, with the page cache on (as `paperroute serve`
runs) wherever a cache could hide the bug.
"""

from __future__ import annotations

import logging

import bibtexparser
import itsdangerous
import pytest
import rispy
from sqlalchemy import update

from factories import record
from paperroute.models import Author, Paper
from paperroute.references.export import to_ris
from paperroute.store.papers import get_paper, upsert_records
from paperroute.store.schema import papers
from paperroute.web.security import RememberingSigner
from webtools import DAY3, client_for, csrf_from, doc, make_app, page_csrf, seed, sign_in

EVIL = "2502.00999"
DAY3_PAPER = "2502.00005"
OLD_MARKS = "?u=\x00label\x00&t=\x00csrf\x00&s=\x00save:x\x00"


def _hrefs(response) -> list[str]:
    return [a.get("href") or "" for a in doc(response).cssselect("a")]


def _leaks(response, email: str, token: str) -> list[str]:
    """Links on the page that carry the reader's email or CSRF token."""
    return [h for h in _hrefs(response) if email in h or token in h]


@pytest.fixture
def reader(settings, engine):
    """A seeded app with the caches on and Ada signed in: (app, client, email, csrf token)."""
    seed(engine)
    app = make_app(settings, engine, page_cache_ttl=60)
    client = client_for(app)
    sign_in(client, engine, "ada@example.org")
    return app, client, "ada@example.org", page_csrf(client)


def test_no_stored_field_can_pull_a_readers_email_or_token_into_a_link(reader, engine):
    app, client, email, token = reader
    upsert_records(
        engine,
        [
            record(
                EVIL,
                DAY3,
                500,  # top of the day: its card is on /
                title="Marked \x00label\x00 title",
                authors=[Author("Eve \x00label\x00 Mallory", ["Lab \x00csrf\x00"])],
                project_url="https://evil.example/who" + OLD_MARKS,
                code_url="https://evil.example/code" + OLD_MARKS,
                doi="10.1/\x00csrf\x00",
                categories=["cs.LG", "cs.\x00AI"],
                keywords=["k\x00ey"],
            )
        ],
    )
    stored = get_paper(engine, EVIL)
    texts = [stored.title, stored.project_url, stored.code_url, stored.doi, *stored.categories]
    texts += [a.name for a in stored.authors] + stored.authors[0].affiliations + stored.keywords
    assert not [t for t in texts if "\x00" in t]  # stripped at ingest, every field
    for path in (f"/papers/{EVIL}", "/", "/categories/cs.LG"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "\x00" not in response.text, path
        assert not _leaks(response, email, token), path
    assert any(
        h.startswith("https://evil.example/who?u=label")
        for h in _hrefs(client.get(f"/papers/{EVIL}"))
    )


def test_a_stored_row_written_before_the_fix_still_cannot_forge_a_marker(reader, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses NUL in text: such a row cannot exist there")
    _, client, email, token = reader
    guessed = "?u=\x00" + "0" * 32 + ":label\x00&t=\x00" + "0" * 32 + ":csrf\x00"
    with engine.begin() as conn:
        conn.execute(
            update(papers)
            .where(papers.c.id == "2502.00005")
            .values(project_url="https://evil.example/who" + OLD_MARKS + guessed)
        )
    response = client.get("/papers/2502.00005")
    assert response.status_code == 200
    assert not _leaks(response, email, token)
    assert texts_of_who(response) == [email]  # the real slot still personalised


def texts_of_who(response) -> list[str]:
    return [" ".join(e.text_content().split()) for e in doc(response).cssselect(".account .who")]


def _copy_cookie(app, client):
    thief = client_for(app)
    thief.cookies.set("paperroute_session", client.cookies.get("paperroute_session"))
    return thief


def _signed_in(client) -> bool:
    return client.get("/profile").status_code == 200


def test_a_copied_session_cookie_stops_working_after_sign_out(reader, engine):
    app, client, _, token = reader
    thief = _copy_cookie(app, client)
    assert _signed_in(thief) and texts_of_who(thief.get("/")) == ["ada@example.org"]
    client.post("/signout", data={"csrf_token": token})
    assert not _signed_in(client)
    assert thief.get("/profile").headers["location"] == "/signin?next=/profile"
    assert texts_of_who(thief.get("/")) == []  # the shared-page layer sees no reader either
    from paperroute.store.schema import sessions  # new in migration 0002

    with engine.connect() as conn:
        assert conn.execute(sessions.select()).all() == []


def test_a_page_view_leaves_the_session_cookie_alone_and_a_change_resends_it(reader):
    _, client, _, _ = reader
    for path in ("/", f"/papers/{DAY3_PAPER}", "/trending", "/profile"):
        assert "set-cookie" not in client.get(path).headers, path  # nothing in it changed
    before = client.cookies.get("paperroute_session")
    changed = client.post("/demo/dismiss", data={"next": "/"})
    assert "paperroute_session=" in changed.headers["set-cookie"]
    assert client.cookies.get("paperroute_session") != before
    assert _signed_in(client)  # the new cookie is taken, the session still the same


class _Clock(RememberingSigner):
    """The signer with its clock moved on by `later` seconds."""

    later = 0

    def get_timestamp(self) -> int:
        return super().get_timestamp() + self.later


def test_a_remembered_session_cookie_still_expires_and_a_tampered_one_is_refused():
    signer = _Clock("the secret key")
    cookie = signer.sign(b"payload")
    assert signer.unsign(cookie, max_age=60) == b"payload"  # verified, and remembered
    assert signer.unsign(cookie, max_age=60) == b"payload"
    signer.later = 61
    with pytest.raises(itsdangerous.SignatureExpired):
        signer.unsign(cookie, max_age=60)
    signer.later = -5  # dated in the future
    with pytest.raises(itsdangerous.SignatureExpired):
        signer.unsign(cookie, max_age=60)
    signer.later = 0
    with pytest.raises(itsdangerous.BadSignature):
        signer.unsign(b"X" + cookie[1:], max_age=60)
    with pytest.raises(itsdangerous.BadSignature):  # another site's key
        RememberingSigner("another key").unsign(cookie, max_age=60)


def test_an_admin_signs_a_member_out_of_every_browser(reader, engine):
    app, laptop, _, _ = reader
    phone = client_for(app)
    sign_in(phone, engine, "ada@example.org")
    admin = client_for(app)
    sign_in(admin, engine, "root@example.org", admin=True)
    page = admin.get("/admin")
    [form] = [
        f
        for f in doc(page).cssselect("form.revoke-sessions")
        if "ada@example.org" in f.getparent().getparent().text_content()
    ]
    assert admin.post(form.get("action")).status_code == 403  # CSRF needed
    done = admin.post(form.get("action"), data={"csrf_token": csrf_from(page)})
    assert done.status_code == 200 and "2 session(s) ended" in done.text
    assert not _signed_in(laptop) and not _signed_in(phone)
    assert _signed_in(admin)
    assert laptop.get("/admin").status_code == 403


def test_a_collection_made_private_leaves_anonymous_readers_at_once(reader):
    app, owner, _, token = reader
    made = owner.post(
        "/collections", data={"name": "Shared list", "is_public": "true", "csrf_token": token}
    )
    url = made.headers["location"]
    anon = client_for(app)
    assert anon.get(url).status_code == 200  # now in the anonymous page cache
    owner.post(f"{url}/visibility", data={"is_public": "false", "csrf_token": token})
    assert anon.get(url).status_code == 404
    assert "Shared list" not in anon.get("/collections").text


def test_a_public_collection_made_through_the_api_is_listed_at_once(reader, engine):
    from paperroute.store.auth import create_api_token
    from paperroute.store.users import get_user_by_email

    app, _, email, _ = reader
    anon = client_for(app)
    assert "Made by script" not in anon.get("/collections").text  # now cached
    raw = create_api_token(engine, get_user_by_email(engine, email).id, "bot")
    bearer = {"authorization": f"Bearer {raw}"}
    made = anon.post(
        "/api/collections", json={"name": "Made by script", "public": True}, headers=bearer
    )
    assert made.status_code == 201
    assert "Made by script" in anon.get("/collections").text


INJECTIONS = ["X}} @misc{injected, title={y", "X}, note = {z}, x = {", "X\\}, note = {z", "X\\"]
BIB_FIELDS = {"title", "author", "year", "eprint", "archivePrefix", "primaryClass", "url"}


def _parse_bibtex(text: str):
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    return bibtexparser.parse_string(text)


@pytest.mark.parametrize("title", INJECTIONS)
def test_a_title_cannot_add_bibtex_entries_or_fields_on_the_paper_page(reader, engine, title):
    _, client, _, _ = reader
    upsert_records(engine, [record(EVIL, DAY3, 1, title=title, abstract="Plain abstract.")])
    [shown] = [e.text_content() for e in doc(client.get(f"/papers/{EVIL}")).cssselect("pre.bibtex")]
    library = _parse_bibtex(shown)
    assert not library.failed_blocks
    [entry] = library.entries
    assert set(entry.fields_dict) == BIB_FIELDS | {"abstract"}
    assert entry.fields_dict["title"].value.startswith("X")
    assert entry.fields_dict["eprint"].value == EVIL


def test_the_paper_page_bibtex_is_the_exports_entry(reader):
    _, client, _, token = reader
    paper_id = "2502.00777"  # LaTeX title, a DOI and two authors
    client.post("/collections", data={"name": "Cite", "paper_id": paper_id, "csrf_token": token})
    [coll] = client.get("/collections?format=json").json()["mine"]
    exported = client.get(f"/library/export?collection={coll['id']}&format=bibtex")
    assert exported.status_code == 200
    [shown] = [
        e.text_content() for e in doc(client.get(f"/papers/{paper_id}")).cssselect("pre.bibtex")
    ]
    assert shown.strip() == exported.text.strip()
    as_json = client.get(f"/papers/{paper_id}?format=json").json()
    assert as_json["bibtex"] == shown.strip()
    [entry] = _parse_bibtex(shown).entries
    assert entry.fields_dict["doi"].value == "10.1000/xyz123"


def test_no_value_can_start_a_forged_ris_tag_or_record():
    paper = Paper(
        id="2502.00001",
        title="Title\nER  - \n\nTY  - JOUR\nTI  - forged",
        abstract="A\r\nKW  - injected",
        authors=[Author("Ada Lovelace")],
        categories=["cs.LG\nUR  - https://evil.example"],
        doi="10.1/x\nTY  - BOOK",
    )
    [entry] = rispy.loads(to_ris([paper]))
    assert entry["type_of_reference"] == "JOUR"
    assert entry["title"].startswith("Title ER - TY - JOUR")
    assert entry["urls"] == ["https://arxiv.org/abs/2502.00001"]
    assert entry["keywords"] == ["cs.LG UR - https://evil.example"]
