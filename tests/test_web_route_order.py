"""The order routes are tried in: the most visited pages before the JSON API (app.HOT_ROUTERS).

Moving them ahead is safe only while no API path can match one of them; this holds that."""

from __future__ import annotations

from paperroute.app import API_ROUTERS, HOT_ROUTERS, ROUTERS


def test_no_api_path_can_reach_a_page_tried_before_the_api():
    api_paths = [route.path for router in API_ROUTERS for route in router.routes]
    hot_paths = [route.path for router in HOT_ROUTERS for route in router.routes]
    assert api_paths and all(path.startswith("/api/") for path in api_paths)
    # a page path starting with a parameter ("/{slug}") or "/api" could take an API path
    assert hot_paths and not [p for p in hot_paths if p.startswith(("/{", "/api"))]
    assert ROUTERS[: len(HOT_ROUTERS)] == HOT_ROUTERS
