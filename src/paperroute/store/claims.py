"""Authorship claims: a member says "I am this author of this paper".

A claim waits for an admin (`decide_claim`), unless it can be checked at once: the member's
email address (verified by signing in) is at a domain of the paper's organisation or of an
author affiliation, or the ORCID iD on their profile appears in what a source said about the
paper. Approved claims give the "author" badge on the paper page and the member's profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError

from paperroute.models import Paper
from paperroute.store.orgs import Member, domains_for
from paperroute.store.papers import author_key, get_paper
from paperroute.store.schema import author_claims, papers, provenance, users
from paperroute.store.users import User, public_name

# Domains anyone can have an address at: an affiliation naming one proves nothing about who
# wrote the paper (an author's gmail address in the metadata must not approve every gmail user).
PUBLIC_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "163.com",
        "126.com",
        "gmx.de",
        "gmx.net",
        "mail.ru",
        "yandex.ru",
        "aol.com",
        "example.com",
        "example.org",
        "example.net",
    ]
)
_DOMAIN_IN_TEXT = re.compile(r"\b((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})\b")


class ClaimError(ValueError):
    """A claim that is refused; the message says why."""


@dataclass
class Claim:
    """One member's claim to one author position of one paper."""

    id: int
    paper_id: str
    paper_title: str
    author_name: str
    status: str  # pending | approved | rejected
    how: str | None  # admin | email_domain | orcid
    member: Member
    created_at: datetime
    decided_at: datetime | None = None


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _claims_query():
    return select(
        author_claims,
        papers.c.title.label("paper_title"),
        users.c.display_name,
        users.c.handle,
    ).select_from(
        author_claims.join(papers, papers.c.id == author_claims.c.paper_id).join(
            users, users.c.id == author_claims.c.user_id
        )
    )


def _to_claim(row) -> Claim:
    return Claim(
        id=row.id,
        paper_id=row.paper_id,
        paper_title=row.paper_title,
        author_name=row.author_name,
        status=row.status,
        how=row.how,
        member=Member(
            row.handle or f"member-{row.user_id}",
            public_name(row.display_name, row.handle, row.user_id),
        ),
        created_at=_utc(row.created_at),
        decided_at=_utc(row.decided_at),
    )


def _email_domain_matches(engine: Engine, user: User, paper: Paper) -> bool:
    domain = user.email.rsplit("@", 1)[-1].lower()
    affiliations = [aff for a in paper.authors for aff in a.affiliations]
    known = domains_for(engine, [paper.organization or "", *affiliations])
    for text in affiliations:
        known.update(d for d in _DOMAIN_IN_TEXT.findall(text.lower()) if d not in PUBLIC_MAIL)
    return any(domain == d or domain.endswith("." + d) for d in known)


def _orcid_matches(engine: Engine, user: User, paper_id: str) -> bool:
    if not user.orcid:
        return False
    # provenance.fields is what each source said about the paper, as JSON text.
    with engine.connect() as conn:
        said = conn.execute(select(provenance.c.fields).where(provenance.c.paper_id == paper_id))
        return any(user.orcid in text for text in said.scalars())


def _automatic(engine: Engine, user: User, paper: Paper) -> str | None:
    """How the claim is proved at once ("email_domain", "orcid"), or None: an admin decides."""
    if _email_domain_matches(engine, user, paper):
        return "email_domain"
    if _orcid_matches(engine, user, paper.id):
        return "orcid"
    return None


def claim_authorship(
    engine: Engine, user: User, paper_id: str, author_name: str, now: datetime | None = None
) -> Claim:
    """Record `user`'s claim to be `author_name` of the paper; ClaimError saying why not."""
    paper = get_paper(engine, paper_id)
    if paper is None or paper.hidden:
        raise ClaimError(f"paper {paper_id}: not found")
    wanted = author_key(author_name or "")
    name = next((a.name for a in paper.authors if author_key(a.name) == wanted), None)
    if name is None:
        raise ClaimError(f"author: {author_name[:100]!r} is not an author of {paper_id}")
    taken = approved_authors(engine, paper_id).get(wanted)
    if taken is not None:
        raise ClaimError(f"author: {name} of {paper_id} is already claimed by {taken.name}")
    how = _automatic(engine, user, paper)
    now = now or datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                author_claims.insert().values(
                    paper_id=paper_id,
                    user_id=user.id,
                    author_name=name,
                    status="approved" if how else "pending",
                    how=how,
                    created_at=now,
                    decided_at=now if how else None,
                )
            )
    except IntegrityError:
        mine = claim_of(engine, user.id, paper_id)
        status = mine.status if mine else "pending"
        raise ClaimError(f"you have already claimed an author of {paper_id} ({status})") from None
    found = claim_of(engine, user.id, paper_id)
    assert found is not None
    return found


def claim_of(engine: Engine, user_id: int, paper_id: str) -> Claim | None:
    """This member's claim on this paper, or None."""
    query = _claims_query().where(
        author_claims.c.user_id == user_id, author_claims.c.paper_id == paper_id
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _to_claim(row) if row else None


def pending_claims(engine: Engine, limit: int = 200) -> list[Claim]:
    """Claims waiting for an admin, oldest first (the admin queue)."""
    query = _claims_query().where(author_claims.c.status == "pending")
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(author_claims.c.id).limit(limit)).all()
    return [_to_claim(r) for r in rows]


def decide_claim(engine: Engine, claim_id: int, approve: bool) -> Claim | None:
    """Approve or reject a claim (admins); None when there is no such claim."""
    values = {"status": "approved" if approve else "rejected", "how": "admin"}
    with engine.begin() as conn:
        done = conn.execute(
            author_claims.update()
            .where(author_claims.c.id == claim_id)
            .values(**values, decided_at=datetime.now(UTC))
        )
        if done.rowcount != 1:
            return None
        row = conn.execute(_claims_query().where(author_claims.c.id == claim_id)).first()
    return _to_claim(row)


# Built once, so SQLAlchemy reuses its compiled form (every paper page asks it).
_APPROVED_FOR_PAPER = _claims_query().where(
    author_claims.c.paper_id == bindparam("paper_id"), author_claims.c.status == "approved"
)


def approved_authors(engine: Engine, paper_id: str) -> dict[str, Member]:
    """author_key of each claimed author of the paper -> the member who is that author."""
    with engine.connect() as conn:
        rows = conn.execute(_APPROVED_FOR_PAPER, {"paper_id": paper_id}).all()
    return {author_key(r.author_name): _to_claim(r).member for r in rows}


_CLAIMED_PAPERS = (
    select(author_claims.c.paper_id).where(author_claims.c.status == "approved").distinct()
)


def claimed_paper_ids(engine: Engine) -> frozenset[str]:
    """Ids of the papers that have an approved author claim (few: most papers have none)."""
    with engine.connect() as conn:
        return frozenset(conn.execute(_CLAIMED_PAPERS).scalars())


def claims_by(engine: Engine, user_id: int) -> list[Claim]:
    """Every claim of a member, newest first (their profile and account export)."""
    query = _claims_query().where(author_claims.c.user_id == user_id)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(author_claims.c.id.desc())).all()
    return [_to_claim(r) for r in rows]
