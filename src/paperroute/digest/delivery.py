"""Sending due digests: schedule, claim, compose, render, send, record.

For each active subscription whose local send time has come, the digest of the current period is
claimed in the delivery ledger (store/deliveries.py) by one worker, composed, sent over one reused
SMTP connection, and recorded as sent together with its papers in one transaction.

What is guaranteed (SMTP cannot give "exactly once"): no digest is lost, and a crash causes at
most one duplicate, carrying the same Message-ID. A claim is a lease: if a worker dies before the
SMTP server accepts a digest, the lease expires and another run sends it. The first claim stores
the Message-ID in the ledger row, and every send of that row uses it. The one window left is
between the server's `250` after DATA and the commit of the `sent` row, which follows it with
nothing in between (one small local transaction per message, milliseconds): a crash there, or a
connection lost after the server took the data but before its `250` arrived, sends that one
digest again after the lease expires, with the same Message-ID, which mail clients and servers
that de-duplicate by Message-ID show once.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from paperroute.config import Settings
from paperroute.digest.compose import Digest, compose_digest, period_for, period_length
from paperroute.digest.render import digest_message, digest_message_id
from paperroute.digest.signals import ReaderInputs, gather_inputs
from paperroute.mail.smtp import (
    Mailer,
    PermanentMailError,
    TemporaryMailError,
    send_with_retries,
)
from paperroute.ranking.foryou import Recommender
from paperroute.search.service import SearchService
from paperroute.store import deliveries as ledger
from paperroute.store import notifications as notify_ledger
from paperroute.store.subscriptions import (
    Subscription,
    last_sent_at,
    list_subscriptions,
    record_hard_bounce,
)

log = logging.getLogger(__name__)


@dataclass
class DeliveryOptions:
    """Knobs of a sending run (the CLI exposes them; defaults suit production)."""

    lease_seconds: float = 300.0
    attempts: int = 3  # tries per message within one run (temporary SMTP errors)
    backoff: float = 1.0  # seconds before the 2nd try; doubles each time
    retry_after: float = 600.0  # seconds before a later run retries a temporarily failed digest
    max_attempts: int = 6  # runs after which a digest that keeps failing is marked failed
    pause_after: int = 3  # hard bounces in a row before an address is paused
    batch_size: int = 500


@dataclass
class SendReport:
    """What a sending run did."""

    due: int = 0
    sent: int = 0
    skipped_empty: int = 0
    failed: int = 0
    deferred: int = 0
    paused: list[str] = field(default_factory=list)
    busy: int = 0  # claimed by another worker (or already done meanwhile)
    stopped: str | None = None  # why the run stopped early (e.g. SMTP server unreachable)

    def as_dict(self) -> dict:
        """Plain dict for JSON output."""
        return dict(self.__dict__)


def worker_id() -> str:
    """An owner name unique to this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def is_due(subscription: Subscription, moment: datetime) -> bool:
    """True when the reader's local send time of the current period has come."""
    prefs = subscription.prefs
    local = moment.astimezone(ZoneInfo(prefs.timezone))
    if prefs.cadence == "weekly":
        return (local.weekday(), local.hour) >= (prefs.weekday, prefs.send_hour)
    return local.hour >= prefs.send_hour


def due_subscriptions(
    engine: Engine, moment: datetime, only_email: str | None = None
) -> list[tuple[Subscription, str]]:
    """(subscription, period) pairs that are due and not final or held by a live claim."""
    subs = list_subscriptions(engine, "active")
    if only_email:
        subs = [s for s in subs if s.email.lower() == only_email.strip().lower()]
    pairs = [(s, period_for(s, moment)) for s in subs if is_due(s, moment)]
    states = ledger.delivery_states(engine, [(s.id, p) for s, p in pairs])
    out = []
    for sub, period in pairs:
        status, busy_until = states.get((sub.id, period), (None, None))
        if status in ledger.FINAL or (busy_until is not None and busy_until > moment):
            continue
        out.append((sub, period))
    return out


def reader_since(engine: Engine, subs: list[Subscription], moment: datetime) -> dict[int, datetime]:
    """Where each reader's digest starts: their last digest, else one period back."""
    last = last_sent_at(engine, [s.id for s in subs])
    return {s.id: last.get(s.id, moment - period_length(s)) for s in subs}


def compose_for(inputs: ReaderInputs, period: str) -> Digest:
    """The digest of one reader for one period."""
    return compose_digest(inputs.subscription, inputs.papers, inputs.signals, period, inputs.index)


def send_due_digests(
    settings: Settings,
    engine: Engine,
    search: SearchService | None,
    moment: datetime | None = None,
    only_email: str | None = None,
    options: DeliveryOptions | None = None,
    owner: str | None = None,
    recommender: Recommender | None = None,
    mailer: Callable[[], Mailer] | None = None,
) -> SendReport:
    """Send every due digest (none lost, at most one duplicate per crash); safe to run in several
    processes at the same time.

    A process passes its one `recommender` and `mailer` (services.Services); without them the run
    builds its own (commands and tests that run one send).
    """
    moment = moment or datetime.now(UTC)
    options = options or DeliveryOptions()
    owner = owner or worker_id()
    due = due_subscriptions(engine, moment, only_email)
    report = SendReport(due=len(due))
    if due and not settings.smtp_configured:  # claiming would only burn retry attempts
        report.stopped = "SMTP is not configured: set PAPERROUTE_SMTP_HOST"
        return report
    if recommender is None and search is not None:  # one for the run: its cache serves each batch
        recommender = Recommender.from_search(engine, search)
    with (mailer or partial(Mailer, settings))() as connection:
        for start in range(0, len(due), options.batch_size):
            batch = due[start : start + options.batch_size]
            subs = [s for s, _ in batch]
            since = reader_since(engine, subs, moment)
            inputs = gather_inputs(
                engine, settings, subs, since, search, moment, recommender=recommender
            )
            for (_, period), reader in zip(batch, inputs, strict=True):
                if not _deliver_one(
                    settings, engine, connection, reader, period, owner, options, report
                ):
                    return report
    return report


def _deliver_one(
    settings: Settings,
    engine: Engine,
    mailer: Mailer,
    reader: ReaderInputs,
    period: str,
    owner: str,
    options: DeliveryOptions,
    report: SendReport,
) -> bool:
    """Claim, compose, send and record one digest; False when the run should stop."""
    sub = reader.subscription
    message_id = digest_message_id(settings, sub.id, period)
    claim = ledger.claim_delivery(
        engine, sub.id, period, owner, options.lease_seconds, message_id=message_id
    )
    if claim is None:
        report.busy += 1
        return True
    digest = compose_for(reader, period)
    # Notifications the member chose to have "gathered into the digest" ride along.
    token, digest.notifications = (
        notify_ledger.claim_gathered(engine, sub.user_id, options.lease_seconds)
        if sub.user_id is not None
        else ("", [])
    )
    notes = [n.id for n in digest.notifications]
    if digest.is_empty and not notes and not sub.prefs.send_empty:
        ledger.mark_final(engine, claim, "skipped", "no new papers matched")
        report.skipped_empty += 1
        return True
    msg = digest_message(settings, sub, digest, claim.message_id)
    try:
        send_with_retries(mailer, msg, options.attempts, options.backoff)
    except PermanentMailError as exc:
        _settle_notes(engine, token, notes, "failed", error=str(exc))
        ledger.mark_final(engine, claim, "failed", str(exc))
        report.failed += 1
        if record_hard_bounce(engine, sub.id, options.pause_after):
            report.paused.append(sub.email)
        return True
    except TemporaryMailError as exc:
        _settle_notes(engine, token, notes, "retry", error=str(exc), retry_at=datetime.now(UTC))
        if claim.attempts >= options.max_attempts:
            ledger.mark_final(
                engine, claim, "failed", f"gave up after {claim.attempts} runs: {exc}"
            )
            report.failed += 1
        else:
            retry_at = datetime.now(UTC) + timedelta(seconds=options.retry_after * claim.attempts)
            ledger.mark_retry(engine, claim, str(exc), retry_at)
            report.deferred += 1
        report.stopped = f"SMTP unavailable: {exc}"
        return False
    ledger.mark_sent(engine, claim, digest.paper_ids)  # at once: the duplicate window ends here
    _settle_notes(engine, token, notes, "sent", message_id=claim.message_id)
    report.sent += 1
    return True


def _settle_notes(engine: Engine, token: str, ids: list[int], status: str, **details) -> None:
    """Close (or release) the gathered notifications a digest carried, as it went."""
    if ids:
        notify_ledger.mark_mail(engine, token, ids, status, **details)


def preview_digest(
    settings: Settings,
    engine: Engine,
    subscription: Subscription,
    search: SearchService | None,
    moment: datetime | None = None,
) -> Digest:
    """The digest this reader would get now, without claiming or sending anything."""
    moment = moment or datetime.now(UTC)
    since = reader_since(engine, [subscription], moment)
    [inputs] = gather_inputs(engine, settings, [subscription], since, search, moment)
    return compose_for(inputs, period_for(subscription, moment))
