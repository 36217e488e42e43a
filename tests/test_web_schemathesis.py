"""schemathesis against the app's own OpenAPI document, in-process over ASGI: every operation, with
inputs that fit the schema and inputs that break it, never answers 5xx or shows a traceback
(issue 15). Calls are signed in (a session with its CSRF token for the pages, a bearer token for
the API) so that writes get past the refusals; signed-out GETs are the crawler's.

The example count per operation and mode is bounded for `make test` (about 10 s a backend here);
set PAPERROUTE_SCHEMATHESIS_EXAMPLES for a longer run.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from webtools import page_csrf

# The document lists the JSON API only (the HTML pages are the crawler's), so each of its
# operations gets more examples.
EXAMPLES = int(os.environ.get("PAPERROUTE_SCHEMATHESIS_EXAMPLES", "12"))
# Sent signed out: signed in, they would end the session or revoke the token the others use.
SIGNED_OUT_ONLY = {("POST", "/signout"), ("POST", "/profile/tokens/{token_id}/delete")}


def _fuzz(operation, mode, headers: dict, counts: Counter, problems: list) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same inputs every run: a failure here is reproducible
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        response = case.call(headers=headers, timeout=60)
        counts[f"{response.status_code // 100}xx"] += 1
        if response.status_code >= 500 or "Traceback (most recent call last)" in response.text:
            problems.append(f"{case.as_curl_command()} -> {response.status_code}")

    try:
        run()
    except Unsatisfiable:  # nothing to break: an operation without parameters or a body
        assert mode == GenerationMode.NEGATIVE


def test_no_generated_input_gets_a_server_error(site, surface_counts):
    schema = schemathesis.openapi.from_asgi("/openapi.json", site.app)
    signed_in = {
        "authorization": f"Bearer {site.api_token}",
        "cookie": f"paperroute_session={site.member.cookies['paperroute_session']}",
        "x-csrf-token": page_csrf(site.member),
    }
    counts, problems, started = Counter(), [], time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        signed_out = (operation.method.upper(), operation.path) in SIGNED_OUT_ONLY
        t0 = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, {} if signed_out else signed_in, counts, problems)
        if os.environ.get("ST_PROFILE"):
            with open("/tmp/h5/st.tsv", "a") as fh:
                fh.write(f"{time.monotonic() - t0:.2f}\t{operation.method} {operation.path}\n")
    surface_counts[f"schemathesis ({site.app.state.engine.dialect.name})"] = (
        f"{len(operations)} operations, {sum(counts.values())} generated inputs in "
        f"{time.monotonic() - started:.0f} s, "
        + ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))
    )
    assert not problems, f"{len(problems)} server errors:\n" + "\n".join(problems[:30])
    assert counts["2xx"] > 50  # the generated inputs reached real answers, not only refusals
