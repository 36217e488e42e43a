"""HEAD is answered wherever GET is (uptime monitors send HEAD), on a real uvicorn server."""

from __future__ import annotations

import httpx
import pytest

from webtools import MATH_ID, LiveServer, make_app, seed

URLS = ["/", f"/papers/{MATH_ID}", "/feeds/daily.atom", "/feeds/trending.json", "/api/daily_papers",
        "/static/app.css"]  # fmt: skip


@pytest.fixture
def server(settings, engine):
    seed(engine)
    with LiveServer(make_app(settings, engine)) as live:
        yield live


@pytest.mark.parametrize("path", URLS)
def test_head_answers_like_get_without_a_body(server, path):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        got = http.get(path)
        head = http.head(path)
    assert got.status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers.get("content-length") == got.headers.get("content-length")


def test_head_is_refused_where_get_is(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.head("/papers/9999.99999").status_code == 404
        refused = http.head("/signout")  # POST only
    assert refused.status_code == 405
    assert "POST" in refused.headers["allow"]
