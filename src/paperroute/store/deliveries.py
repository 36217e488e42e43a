"""The delivery ledger: one row per (subscription, period), claimed atomically before sending.

States: `claimed` (a worker holds a lease until `claimed_until`), `retry` (a temporary failure;
due again at `next_attempt_at`), `sent`, `failed` (permanent SMTP refusal), `skipped` (empty
digest). `sent`, `failed` and `skipped` are final: the period is never sent again.

Claiming is one atomic statement on both backends: an `INSERT .. ON CONFLICT DO NOTHING` for a new
period, or a conditional `UPDATE` that takes a row only when its lease has expired or its retry is
due. Two workers can never both hold a live claim, because the database serialises the writes and
the second writer's condition no longer matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, func, or_, select, tuple_, update

from paperroute.store.engine import dialect_insert
from paperroute.store.schema import deliveries, sent_papers, subscriptions

FINAL = ("sent", "failed", "skipped")


@dataclass
class Claim:
    """A live claim on one digest: only its owner sends it."""

    delivery_id: int
    subscription_id: int
    period: str
    owner: str
    attempts: int
    message_id: str | None = None  # fixed at the first claim: every (re)send carries it


def claim_delivery(
    engine: Engine,
    subscription_id: int,
    period: str,
    owner: str,
    lease_seconds: float,
    now: datetime | None = None,
    message_id: str | None = None,
) -> Claim | None:
    """Take the (subscription, period) digest for `owner`, or None when someone else has it or it is
    already final.

    `message_id` is stored by the first claim and kept by later ones, so a digest re-sent after a
    crash carries the Message-ID of the copy that may already have arrived."""
    now = now or datetime.now(UTC)
    until = now + timedelta(seconds=lease_seconds)
    with engine.begin() as conn:
        inserted = conn.execute(
            dialect_insert(conn, deliveries)
            .values(
                subscription_id=subscription_id,
                period=period,
                status="claimed",
                claimed_by=owner,
                claimed_until=until,
                attempts=1,
                created_at=now,
                message_id=message_id,
            )
            .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
            .returning(deliveries.c.id)
        ).first()
        if inserted is None:
            taken = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.subscription_id == subscription_id,
                    deliveries.c.period == period,
                    or_(
                        and_(deliveries.c.status == "claimed", deliveries.c.claimed_until < now),
                        and_(deliveries.c.status == "retry", deliveries.c.next_attempt_at <= now),
                    ),
                )
                .values(
                    status="claimed",
                    claimed_by=owner,
                    claimed_until=until,
                    attempts=deliveries.c.attempts + 1,
                    message_id=func.coalesce(deliveries.c.message_id, message_id),
                )
            )
            if taken.rowcount != 1:
                return None
        row = conn.execute(
            select(deliveries.c.id, deliveries.c.attempts, deliveries.c.message_id).where(
                deliveries.c.subscription_id == subscription_id, deliveries.c.period == period
            )
        ).one()
    return Claim(row.id, subscription_id, period, owner, row.attempts, row.message_id)


def extend_claim(engine: Engine, claim: Claim, lease_seconds: float) -> bool:
    """Push the lease forward while still sending; False if the claim was lost."""
    until = datetime.now(UTC) + timedelta(seconds=lease_seconds)
    with engine.begin() as conn:
        result = conn.execute(
            update(deliveries)
            .where(
                deliveries.c.id == claim.delivery_id,
                deliveries.c.claimed_by == claim.owner,
                deliveries.c.status == "claimed",
            )
            .values(claimed_until=until)
        )
    return result.rowcount == 1


def mark_sent(
    engine: Engine,
    claim: Claim,
    paper_ids: list[str],
    when: datetime | None = None,
) -> None:
    """Record a digest the SMTP server accepted, and the papers it held, in one transaction.

    Called right after the server's 250 and before anything else: the time between the two is
    the only window in which a crash makes the digest go out twice."""
    when = when or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == claim.delivery_id)
            .values(
                status="sent",
                paper_ids=paper_ids,
                sent_at=when,
                claimed_until=None,
                last_error=None,
            )
        )
        if paper_ids:
            rows = [
                {"subscription_id": claim.subscription_id, "paper_id": p, "sent_at": when}
                for p in paper_ids
            ]
            conn.execute(dialect_insert(conn, sent_papers).on_conflict_do_nothing(), rows)
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == claim.subscription_id, subscriptions.c.hard_bounces > 0)
            .values(hard_bounces=0)
        )


def mark_final(engine: Engine, claim: Claim, status: str, error: str | None = None) -> None:
    """Close a claim as `failed` (permanent refusal) or `skipped` (nothing to send)."""
    if status not in ("failed", "skipped"):
        raise ValueError(f"deliveries: not a final failure status: {status!r}")
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == claim.delivery_id)
            .values(status=status, last_error=error, claimed_until=None)
        )


def mark_retry(engine: Engine, claim: Claim, error: str, retry_at: datetime) -> None:
    """Release a claim after a temporary failure; any worker may take it again at `retry_at`."""
    with engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == claim.delivery_id)
            .values(status="retry", last_error=error, next_attempt_at=retry_at, claimed_until=None)
        )


def delivery_states(
    engine: Engine, keys: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], tuple[str, datetime | None]]:
    """Status and "busy until" (lease end or retry time) of existing ledger rows for the keys."""
    keys = list(keys)
    found: dict[tuple[int, str], tuple[str, datetime | None]] = {}
    cols = (deliveries.c.subscription_id, deliveries.c.period)
    with engine.connect() as conn:
        for start in range(0, len(keys), 300):
            chunk = keys[start : start + 300]
            query = select(
                *cols, deliveries.c.status, deliveries.c.claimed_until, deliveries.c.next_attempt_at
            ).where(tuple_(*cols).in_(chunk))
            for sid, period, status, until, retry_at in conn.execute(query):
                busy = until if status == "claimed" else retry_at if status == "retry" else None
                if busy is not None and busy.tzinfo is None:
                    busy = busy.replace(tzinfo=UTC)
                found[(sid, period)] = (status, busy)
    return found


def list_deliveries(engine: Engine, subscription_id: int | None = None) -> list[dict]:
    """Ledger rows (for reports and tests), oldest first."""
    query = select(deliveries).order_by(deliveries.c.id)
    if subscription_id is not None:
        query = query.where(deliveries.c.subscription_id == subscription_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
