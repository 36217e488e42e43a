"""Start-up as an operator sees it (issue 11): `paperroute serve` warms search in the background
and /readyz says ready only once a search has run through every index, the page templates are
compiled and For-you's model library is loaded, so the first reader's search (or For-you page)
after that does no start-up work; what start-up loaded is then left out of full garbage
collections (gc.freeze)."""

from __future__ import annotations

import gc
import sys
import time

import fastapi.routing

from paperroute.app import FULL_COLLECTION_EVERY, create_app
from search_support import load_fixture
from webtools import client_for


def test_readyz_waits_for_the_warm_up_and_the_first_search_then_compiles_nothing(
    settings, engine, monkeypatch
):
    load_fixture(engine)
    app = create_app(settings, engine=engine, warm_search=True, page_cache_ttl=0)
    client = client_for(app)
    answers = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        answers.append(client.get("/readyz").status_code)
        if answers[-1] == 200:
            break
        time.sleep(0.05)
    assert answers[0] == 503 and answers[-1] == 200, answers  # not ready while warming
    templates = app.state.templates
    compiled = len(templates.cache)
    assert compiled >= 40  # every page template, not only those the warm-up search touched
    service = app.state.search_if_ready()
    assert service is not None  # built, its model loaded and one search run
    assert "sklearn.linear_model" in sys.modules  # For-you's model library, 1.5 s to import
    assert gc.get_freeze_count() > 0  # the loaded model and indexes: no full collection walks them
    assert gc.get_threshold()[2] == FULL_COLLECTION_EVERY  # and full collections come seldom
    prepared = []  # FastAPI prepares a route's handling when first matched: 115 ms for all
    real = fastapi.routing._EffectiveRouteContext.from_api_route
    monkeypatch.setattr(
        fastapi.routing._EffectiveRouteContext,
        "from_api_route",
        lambda **kw: prepared.append(kw["original_route"].path) or real(**kw),
    )
    found = client.get("/search?q=diffusion transformer")
    assert found.status_code == 200 and "paper-card" in found.text
    assert len(templates.cache) == compiled  # the first search compiled no template
    assert prepared == []  # nor prepared a route
