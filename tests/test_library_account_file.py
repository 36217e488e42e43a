"""Malformed account files (issue 15 item 13): every one is a clear 422 (web) or exit 2 (CLI)
naming the field, never a 500 or a traceback, and nothing is half-imported; SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import json

import pytest
from typer.testing import CliRunner

from paperroute.cli import app
from paperroute.store import account
from paperroute.store import collections as coll
from paperroute.store.users import add_user
from webtools import client_for, csrf_from, finished_import, make_app, seed, sign_in

ENVELOPE = {"format": "paperroute-account", "version": 1}

# (document or raw bytes, what the error must name)
MALFORMED = {
    "papers not a list": ({"collections": [{"name": "x", "papers": 5}]}, "collections[1].papers"),
    "user a string": ({"user": "bob"}, "'user' must be an object"),
    "user a list": ({"user": [1]}, "'user' must be an object"),
    "onboarding a list": ({"user": {"onboarding": [1]}}, "user.onboarding"),
    "subscription a string": ({"subscription": "x"}, "'subscription' must be an object"),
    "preferences a list": ({"subscription": {"preferences": [1]}}, "subscription.preferences"),
    "NUL in a name": ({"collections": [{"name": "a\x00b"}]}, "collections[1].name"),
    "NUL in a query": ({"saved_searches": [{"query": "a\x00"}]}, "saved_searches[1].query"),
    "not UTF-8": (b'{"format": "\xff"}', "not UTF-8"),
    "nested too deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "not JSON": (b'{"format": ', "not JSON (line 1"),
}

# Preferences that are wrong are reported and the rest of the file is still imported.
BAD_PREFERENCES = {
    "sections a list": ({"sections": [1, 2]}, "sections: must map"),
    "weekday infinite": ({"weekday": 1e400}, "weekday: must be"),
    "weekday huge": ({"weekday": 10**30}, "weekday: must be"),
    "send_hour a list": ({"send_hour": [7]}, "send_hour: must be"),
    "timezone a list": ({"timezone": ["UTC"]}, "timezone:"),
    "section size text": ({"sections": {"topics": "many"}}, "sections.topics: must be"),
}


def body(document) -> bytes:
    return (
        document if isinstance(document, bytes) else json.dumps({**ENVELOPE, **document}).encode()
    )


@pytest.fixture
def client(settings, engine):
    seed(engine)
    return client_for(make_app(settings, engine))


def upload(client, raw: bytes):
    csrf = csrf_from(client.get("/for-you"))
    files = {"account": ("account.json", raw, "application/json")}
    return client.post("/account/import", data={"csrf_token": csrf}, files=files)


@pytest.mark.parametrize(("document", "named"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_account_file_fails_its_import_naming_the_field(
    client, engine, document, named
):
    user = sign_in(client, engine, "reader@example.org")
    # The upload answers at once; the import runs in the background and its page says why not.
    status, page = finished_import(client, upload(client, body(document)))
    assert status == "failed" and page.status_code == 200
    assert named in html.unescape(page.text)
    assert coll.list_collections(engine, user.id) == []  # nothing half-imported


@pytest.mark.parametrize(("prefs", "named"), BAD_PREFERENCES.values(), ids=BAD_PREFERENCES.keys())
def test_bad_digest_preferences_are_reported_and_the_rest_is_imported(engine, prefs, named):
    user = add_user(engine, "reader@example.org")
    document = {
        **ENVELOPE,
        "collections": [{"name": "Kept"}],
        "subscription": {"preferences": prefs},
    }
    result = account.import_account(engine, user.id, document)
    assert result.collections_created == 1 and result.subscription is None
    assert [e for e in result.errors if e.startswith("subscription.preferences: ") and named in e]


@pytest.mark.parametrize("case", ["papers not a list", "not UTF-8", "nested too deep"])
def test_the_cli_reports_a_malformed_account_file_without_a_traceback(
    engine, database_url, tmp_path, case
):
    add_user(engine, "reader@example.org")
    document, named = MALFORMED[case]
    path = tmp_path / "account.json"
    path.write_bytes(body(document))
    base = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    args = [*base, "library", "import", "reader@example.org", str(path), "--account"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output
