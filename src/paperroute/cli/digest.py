"""Digests and the worker: `digest send`, `digest preview`, `subscribe`, `worker`."""

from __future__ import annotations

import sys

import typer

from paperroute.cli.common import (
    app,
    cli_services,
    err,
    fail,
    get_settings,
    open_engine,
    print_json,
)

digest_app = typer.Typer(help="Email digests: send the due ones, preview one.")
app.add_typer(digest_app, name="digest")


@digest_app.command("send")
def digest_send(
    dry_run: bool = typer.Option(False, "--dry-run", help="List due digests; send nothing."),
    to: str | None = typer.Option(None, "--to", help="Only the digest of this address."),
    lease_seconds: float = typer.Option(300.0, help="Seconds a claimed digest stays ours."),
    retries: int = typer.Option(3, help="Tries per message on temporary SMTP errors."),
    backoff: float = typer.Option(1.0, help="Seconds before the second try (doubles)."),
) -> None:
    """Send every digest that is due now (none lost; a crash may repeat one, same Message-ID)."""
    from paperroute.digest.delivery import DeliveryOptions, due_subscriptions, send_due_digests
    from paperroute.jobs import yield_cpu_to_requests

    yield_cpu_to_requests()
    from paperroute.search.service import SearchService

    settings = get_settings()
    engine = open_engine(settings)
    search = SearchService(settings, engine)
    if dry_run:
        from paperroute.digest.delivery import preview_digest

        for sub, period in due_subscriptions(engine, _now(), to):
            digest = preview_digest(settings, engine, sub, search)
            sizes = {s.key: len(s.items) for s in digest.sections}
            print_json({"email": sub.email, "period": period, "papers": len(digest.paper_ids),
                        "sections": sizes})  # fmt: skip
        return
    options = DeliveryOptions(lease_seconds=lease_seconds, attempts=retries, backoff=backoff)
    services = cli_services(settings, search)
    report = send_due_digests(
        settings,
        engine,
        search,
        only_email=to,
        options=options,
        recommender=services.recommender(),
        mailer=services.mailer,
    )
    print_json(report.as_dict())
    if report.stopped:
        raise typer.Exit(1)


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


@digest_app.command("preview")
def digest_preview(
    email: str = typer.Argument(..., help="Subscribed address."),
    html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
) -> None:
    """Print the digest this address would get now (nothing is sent or recorded)."""
    from paperroute.digest.delivery import preview_digest
    from paperroute.digest.render import render_digest
    from paperroute.search.service import SearchService
    from paperroute.store.subscriptions import get_subscription_by_email

    settings = get_settings()
    engine = open_engine(settings)
    sub = get_subscription_by_email(engine, email)
    if sub is None:
        fail(f"no subscription for {email}")
    digest = preview_digest(settings, engine, sub, SearchService(settings, engine))
    html_part, text_part = render_digest(settings, sub, digest)
    sys.stdout.write(html_part if html else text_part)


@app.command()
def subscribe(
    email: str = typer.Argument(..., help="Address to send digests to."),
    cadence: str = typer.Option("daily", help="daily or weekly."),
    weekday: int = typer.Option(0, help="Weekly digests: 0=Monday .. 6=Sunday."),
    hour: int = typer.Option(7, help="Local hour to send at (0-23)."),
    timezone: str = typer.Option("UTC", help="IANA time zone, e.g. Europe/Berlin."),
    topic: list[str] = typer.Option([], help="A topic in plain words (repeatable)."),
    author: list[str] = typer.Option([], help="An author to follow (repeatable)."),
    category: list[str] = typer.Option([], help="An arXiv category to follow (repeatable)."),
    send_empty: bool = typer.Option(False, help="Send a digest even when nothing matched."),
) -> None:
    """Subscribe an address; it gets a confirmation link and nothing else until it is clicked."""
    from paperroute.digest.render import subscription_message
    from paperroute.mail import MailError, send_email
    from paperroute.store.subscriptions import Preferences, SubscriptionError
    from paperroute.store.subscriptions import subscribe as add_subscription

    settings = get_settings()
    engine = open_engine(settings)
    prefs = Preferences(cadence=cadence, weekday=weekday, send_hour=hour, timezone=timezone,
                        topics=topic, follow_authors=author, follow_categories=category,
                        send_empty=send_empty)  # fmt: skip
    try:
        sub = add_subscription(engine, email, prefs)
    except SubscriptionError as exc:
        err.print(f"[red]subscribe:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        send_email(settings, subscription_message(settings, sub))
    except MailError as exc:
        fail(str(exc))
    print_json({"email": sub.email, "status": sub.status, "confirmation_sent": True})


@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Run the due jobs once and exit."),
    tick: float = typer.Option(15.0, help="Seconds between scheduler rounds."),
    status: bool = typer.Option(False, "--status", help="Print each job's last run and exit."),
) -> None:
    """Run the periodic jobs (syncs, embedding, digests); several workers may share a database."""
    import signal
    import threading

    from paperroute.jobs import yield_cpu_to_requests
    from paperroute.jobs.scheduler import job_status
    from paperroute.jobs.worker import run_worker
    from paperroute.logs import configure_logging
    from paperroute.services import Services

    yield_cpu_to_requests()
    settings = get_settings()
    engine = open_engine(settings)
    if status:
        print_json(job_status(engine))
        return
    configure_logging(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # One search service (one model, one set of indexes) for every job this process runs.
    run_worker(Services.for_worker(settings, engine), stop, tick_seconds=tick, once=once)
