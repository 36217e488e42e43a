"""A NUL anywhere in a request (path, query, form field, JSON body) is refused with a 4xx naming
where it was: PostgreSQL cannot store one (these were 500s there) and page personalisation marks
its slots with NULs. File uploads may carry NULs and still import."""

from __future__ import annotations

import pytest

from webtools import MATH_ID, client_for, make_app, page_csrf, seed, sign_in


@pytest.fixture
def member(settings, engine):
    seed(engine)
    client = client_for(make_app(settings, engine))
    sign_in(client, engine, "nul@example.org")
    return client


@pytest.mark.parametrize(
    ("url", "status", "named"),
    [
        ("/authors/%00", 404, "path"),
        ("/papers/%00", 404, "path"),
        ("/api/papers/%00", 404, "path"),
        ("/categories/cs.LG%00", 404, "path"),
        ("/api/daily_papers?submitter=%00", 422, "submitter"),
        ("/library/export?ids=%00", 422, "ids"),
    ],
)
def test_a_nul_in_the_url_is_refused_by_name(member, url, status, named):
    response = member.get(url)
    assert response.status_code == status
    assert named in response.text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/collections", "name"),
        ("/profile", "display_name"),
        ("/search/save", "name"),
        ("/profile/tokens", "name"),
        ("/signin", "email"),
        ("/subscribe", "email"),
    ],
)
def test_a_nul_in_a_form_field_is_refused_and_nothing_is_stored(member, path, field):
    data = {"name": "ok", "query_string": "q=x", "email": "a@example.org", field: "evil\x00mark"}
    response = member.post(path, data={**data, "csrf_token": page_csrf(member)})
    assert response.status_code == 422
    assert f"{field}: contains a NUL character" in response.text
    assert "evil" not in member.get("/profile").text


def test_a_nul_in_a_json_body_is_refused_but_an_escaped_backslash_is_text(member):
    headers = {"x-csrf-token": page_csrf(member)}
    refused = member.post("/api/collections", json={"name": "a\x00b"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"].startswith("body: ")
    kept = member.post("/api/collections", json={"name": "a\\u0000b"}, headers=headers)
    assert kept.status_code == 201 and kept.json()["name"] == "a\\u0000b"
    added = member.post(
        f"/api/collections/{kept.json()['id']}/papers", json={"paper_id": MATH_ID}, headers=headers
    )
    assert added.json()["added"] is True


def test_an_uploaded_file_may_hold_nuls(member):
    utf16 = "@misc{x, title={A}, eprint={2502.00777}}".encode("utf-16")
    response = member.post(
        "/for-you/import",
        data={"csrf_token": page_csrf(member)},
        files={"library": ("lib.bib", utf16, "application/x-bibtex")},
    )
    assert response.status_code < 500
    assert "contains a NUL character" not in response.text
