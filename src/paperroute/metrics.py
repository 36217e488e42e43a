"""Prometheus metrics of this process (official `prometheus-client`), served at /metrics.

The counters are module-level on purpose, unlike every other piece of state: they describe the
process, as its log does, and any layer (mail, jobs, web) counts into them with one line, e.g.
`MAILS.labels("sent").inc()`. Prometheus' own model is one registry per process; several apps
in one test process simply add up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

F = TypeVar("F", bound=Callable)

REQUESTS = Counter(
    "paperroute_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "paperroute_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
JOB_RUNS = Counter(
    "paperroute_job_runs_total",
    "Background job runs (periodic jobs and web imports), by job and outcome.",
    ["job", "status"],
)
MAILS = Counter(
    "paperroute_mails_total",
    "Mails handed to SMTP, by outcome: sent, retried (temporary failure) or bounced (refused).",
    ["outcome"],
)
INDEX_SIZE = Gauge(
    "paperroute_index_documents",
    "Documents in each store or search index: papers (database), lexical, vectors.",
    ["index"],
)

for _outcome in ("sent", "retried", "bounced"):  # present from the start, so rate() works
    MAILS.labels(_outcome)


def counted_mail(retried: type[Exception], bounced: type[Exception]) -> Callable[[F], F]:
    """Decorate the function that hands one message to SMTP, so MAILS counts each outcome:
    returned (sent), raised `retried` (a temporary failure) or raised `bounced` (refused)."""

    def wrap(send: F) -> F:
        @functools.wraps(send)
        def counted(*args, **kwargs):
            try:
                result = send(*args, **kwargs)
            except retried:
                MAILS.labels("retried").inc()
                raise
            except bounced:
                MAILS.labels("bounced").inc()
                raise
            MAILS.labels("sent").inc()
            return result

        return counted  # type: ignore[return-value]

    return wrap


def exposition() -> tuple[bytes, str]:
    """The text exposition format and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
