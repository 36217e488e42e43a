"""The shared HTTP client against a real loopback server: politeness delay, retries, Retry-After.

Waiting is the one thing faked: `FakeTime` records the sleeps (and advances its clock) so the
tests check the waits a real run would make without spending them.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from paperroute.config import load_settings
from paperroute.sources.arxiv_api import ArxivAPISource
from paperroute.sources.arxiv_oai import ArxivOAISource
from paperroute.sources.arxiv_rss import ArxivRSSSource
from paperroute.sources.base import SourceError
from paperroute.sources.hf_daily import HfDailySource
from paperroute.sources.http import USER_AGENT, HttpClient, parse_retry_after


class FakeTime:
    """A clock whose sleep records the wait and moves time forward instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds

    def clock(self) -> float:
        return self.now


def fake_client(source: str = "test", **options) -> tuple[HttpClient, FakeTime]:
    """An HttpClient whose waits are recorded instead of slept."""
    fake = FakeTime()
    return HttpClient(source=source, sleep=fake.sleep, clock=fake.clock, **options), fake


def test_requests_identify_paperroute(httpserver):
    httpserver.expect_request("/ua", headers={"User-Agent": USER_AGENT}).respond_with_data("ok")
    client, _ = fake_client()
    assert client.get(httpserver.url_for("/ua")).text == "ok"


def test_waits_the_minimum_interval_between_requests(httpserver):
    httpserver.expect_request("/q").respond_with_data("ok")
    client, fake = fake_client(min_interval=3.0)
    for _ in range(3):
        client.get(httpserver.url_for("/q"))
    assert fake.sleeps == [3.0, 3.0]


def test_503_with_retry_after_seconds_is_retried_after_that_wait(httpserver):
    httpserver.expect_oneshot_request("/busy").respond_with_data(
        "busy", status=503, headers={"Retry-After": "10"}
    )
    httpserver.expect_oneshot_request("/busy").respond_with_data("done")
    client, fake = fake_client()
    assert client.get(httpserver.url_for("/busy")).text == "done"
    assert fake.sleeps == [10.0]


def test_429_with_retry_after_http_date_is_honoured(httpserver):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    httpserver.expect_oneshot_request("/rate").respond_with_data(
        "slow down", status=429, headers={"Retry-After": when}
    )
    httpserver.expect_oneshot_request("/rate").respond_with_data("done")
    client, fake = fake_client()
    assert client.get(httpserver.url_for("/rate")).text == "done"
    assert 25 <= fake.sleeps[0] <= 30


def test_retry_after_wait_is_capped(httpserver):
    httpserver.expect_oneshot_request("/x").respond_with_data(
        "", status=503, headers={"Retry-After": "86400"}
    )
    httpserver.expect_oneshot_request("/x").respond_with_data("done")
    client, fake = fake_client(max_wait=60)
    client.get(httpserver.url_for("/x"))
    assert fake.sleeps == [60]


def test_gives_up_after_the_configured_retries_with_a_clear_error(httpserver):
    httpserver.expect_request("/down").respond_with_data("Service Unavailable", status=503)
    client, fake = fake_client(retries=3)
    with pytest.raises(SourceError, match=r"test: HTTP 503 from .*/down after 4 attempts"):
        client.get(httpserver.url_for("/down"))
    assert fake.sleeps == [1.0, 2.0, 4.0]  # exponential backoff without Retry-After


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client, fake = fake_client(retries=2)
    with pytest.raises(SourceError, match="unreachable after 3 attempts: ConnectError"):
        client.get(f"http://127.0.0.1:{port}/")
    assert fake.sleeps == [1.0, 2.0]


def test_a_host_name_that_does_not_resolve_fails_at_once_with_a_one_line_reason():
    """Offline (or a mistyped host in a setting): no DNS answer will come within the run, so
    the worker does not spend half a minute of backoff per source before saying so."""
    client, fake = fake_client(source="semantic_scholar", retries=5)
    with pytest.raises(SourceError) as caught:
        client.get("http://api.paperroute-test.invalid/graph")  # .invalid never resolves
    message = str(caught.value)
    assert message.startswith("semantic_scholar: cannot resolve api.paperroute-test.invalid")
    assert "offline" in message and "\n" not in message
    assert fake.sleeps == [] and client.requests == 1


@pytest.fixture
def threaded_server():
    """A loopback server that answers a retry while a slow first request is still running."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_timeout_is_retried(threaded_server):
    def slow(_request):
        time.sleep(0.5)
        return Response("late")

    threaded_server.expect_oneshot_request("/slow").respond_with_handler(slow)
    threaded_server.expect_oneshot_request("/slow").respond_with_data("fast")
    client, fake = fake_client(timeout=0.2)
    assert client.get(threaded_server.url_for("/slow")).text == "fast"
    assert fake.sleeps == [1.0]


def test_other_client_errors_raise_immediately_naming_status_and_body(httpserver):
    httpserver.expect_request("/missing").respond_with_data("no such page", status=404)
    client, fake = fake_client()
    with pytest.raises(SourceError, match="test: HTTP 404 from .*/missing: no such page"):
        client.get(httpserver.url_for("/missing"))
    assert fake.sleeps == []


def test_accepted_error_statuses_are_returned_for_the_caller_to_read(httpserver):
    httpserver.expect_request("/feed").respond_with_data("<feed/>", status=400)
    client, _ = fake_client()
    assert client.get(httpserver.url_for("/feed"), accept=(400,)).status_code == 400


@pytest.mark.parametrize(
    ("header", "expected"),
    [("10", 10.0), ("0", 0.0), ("", None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_parse_retry_after(header, expected):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(header, now) == expected


def test_sources_take_endpoints_timeout_retries_and_delay_from_settings(tmp_path):
    settings = load_settings(
        data_dir=tmp_path,
        http_timeout=7.5,
        http_retries=2,
        arxiv_api_delay=4.0,
        arxiv_oai_url="http://127.0.0.1:1/oai",
        arxiv_api_url="http://127.0.0.1:1/api/query",
        arxiv_rss_url="http://127.0.0.1:1",
        hf_api_url="http://127.0.0.1:1/",
    )
    oai = ArxivOAISource.from_settings(settings, set_spec="cs", from_date=date(2026, 1, 2))
    assert oai.base_url == "http://127.0.0.1:1/oai"
    assert oai.params == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "set": "cs",
        "from": "2026-01-02",
    }
    assert oai.client.retries == 2 and oai.client._client.timeout.read == 7.5
    api = ArxivAPISource.from_settings(settings, query="ti:llm")
    assert api.base_url == "http://127.0.0.1:1/api/query" and api.client.min_interval == 4.0
    rss = ArxivRSSSource.from_settings(settings, ["cs.CL", "cs.LG"])
    assert rss.url == "http://127.0.0.1:1/rss/cs.CL+cs.LG"
    hf = HfDailySource.from_settings(settings, [date(2026, 8, 21)])
    assert hf.url == "http://127.0.0.1:1/api/daily_papers"


def test_a_shared_host_pacer_spaces_requests_to_one_host_across_clients(httpserver):
    from paperroute.sources.http import HostPacer

    httpserver.expect_request("/a").respond_with_data("a")
    fake = FakeTime()
    pacer = HostPacer(sleep=fake.sleep, clock=fake.clock, floor=2.0)
    first, _ = fake_client("crossref")
    second, _ = fake_client("crossref-published")
    first.pacer = second.pacer = pacer
    first.get(httpserver.url_for("/a"))
    second.get(httpserver.url_for("/a"))  # another client, the same host: waits
    assert fake.sleeps == [2.0]
    # the same loopback server by another host name counts as another host: no wait
    second.get(f"http://127.0.0.1:{httpserver.port}/a")
    assert fake.sleeps == [2.0]
