"""Organisations: the ones sources credit (Hugging Face's `organization` field) and admins' own.

An organisation a source names needs no row: its page is found by the slug of that name. An
admin-made organisation has a row with the source spellings whose papers belong to it (`names`)
and its email domains (`domains`, which approve authorship claims at once: store/claims.py).
Its members are the approved authors of its papers and the members an admin assigned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from paperroute.store.schema import author_claims, org_members, organizations, papers, users
from paperroute.store.users import public_name


class OrgError(ValueError):
    """An organisation that cannot be saved; the message names the field."""


@dataclass(frozen=True)
class Org:
    """An organisation: `id` is None for one only a source names."""

    id: int | None
    slug: str
    name: str
    names: tuple[str, ...]
    domains: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        """Its page."""
        return f"/orgs/{self.slug}"


@dataclass(frozen=True)
class Member:
    """A member shown on a public page."""

    handle: str
    name: str

    @property
    def url(self) -> str:
        """The member's public profile."""
        return f"/members/{self.handle}"


def slugify(name: str) -> str:
    """The URL slug of an organisation name: lower-case words joined by '-'.

    Hand-written (a slug library would transliterate): names stay in their own letters, so
    "Université Paris" is /orgs/université-paris and two names never collapse into one.
    """
    return re.sub(r"[\W_]+", "-", (name or "").lower()).strip("-")[:255] or "-"


_DOMAIN = re.compile(r"(?=.{4,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _clean_domains(domains: Iterable[str]) -> tuple[str, ...]:
    out = []
    for raw in domains:
        value = raw.strip().lower().removeprefix("@")
        if not value:
            continue
        if not _DOMAIN.fullmatch(value):
            raise OrgError(f"domains: {value[:80]!r} is not a domain name (example.org)")
        out.append(value)
    return tuple(dict.fromkeys(out))


def _row_to_org(row) -> Org:
    names = tuple(dict.fromkeys([row.name, *(row.names or [])]))
    return Org(row.id, row.slug, row.name, names, tuple(row.domains or []))


def create_org(
    engine: Engine, name: str, names: Sequence[str] = (), domains: Sequence[str] = ()
) -> Org:
    """Make an organisation (admins); OrgError naming the field for a bad or taken name."""
    display = " ".join((name or "").split())[:255]
    if not display or slugify(display) == "-":
        raise OrgError("name: an organisation needs a name with letters or digits")
    spellings = [" ".join(n.split())[:255] for n in names if n.strip()]
    values = {
        "slug": slugify(display),
        "name": display,
        "names": list(dict.fromkeys([display, *spellings])),
        "domains": list(_clean_domains(domains)),
        "created_at": datetime.now(UTC),
    }
    try:
        with engine.begin() as conn:
            conn.execute(organizations.insert().values(**values))
    except IntegrityError:
        raise OrgError(f"name: an organisation {display!r} exists already") from None
    found = get_org(engine, values["slug"])
    assert found is not None
    return found


def get_org(engine: Engine, slug: str) -> Org | None:
    """The organisation of a slug: an admin's row, else a name some visible paper credits."""
    with engine.connect() as conn:
        row = conn.execute(select(organizations).where(organizations.c.slug == slug)).first()
        if row is not None:
            return _row_to_org(row)
        # The distinct names are few and ix_papers_organization answers this from the index.
        named = conn.execute(
            select(papers.c.organization)
            .where(papers.c.organization.is_not(None), papers.c.hidden.is_(False))
            .distinct()
        ).scalars()
        for name in named:
            if slugify(name) == slug:
                return Org(None, slug, name, (name,))
    return None


def list_orgs(engine: Engine) -> list[Org]:
    """Admin-made organisations, by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(organizations).order_by(organizations.c.name)).all()
    return [_row_to_org(r) for r in rows]


def assign_member(engine: Engine, org_id: int, user_id: int) -> bool:
    """Make a member part of an organisation (admins); False when already."""
    try:
        with engine.begin() as conn:
            conn.execute(
                org_members.insert().values(
                    org_id=org_id, user_id=user_id, created_at=datetime.now(UTC)
                )
            )
    except IntegrityError:
        return False
    return True


def org_members_of(engine: Engine, org: Org) -> list[Member]:
    """The approved authors of the organisation's papers and its assigned members, by name."""
    who = select(author_claims.c.user_id).where(
        author_claims.c.status == "approved",
        author_claims.c.paper_id.in_(
            select(papers.c.id).where(papers.c.organization.in_(list(org.names)))
        ),
    )
    if org.id is not None:
        who = who.union(select(org_members.c.user_id).where(org_members.c.org_id == org.id))
    with engine.connect() as conn:
        rows = conn.execute(
            select(users.c.id, users.c.display_name, users.c.handle).where(users.c.id.in_(who))
        ).all()
    members = [
        Member(r.handle or f"member-{r.id}", public_name(r.display_name, r.handle, r.id))
        for r in rows
    ]
    return sorted(members, key=lambda m: m.name.lower())


def domains_for(engine: Engine, names: Iterable[str]) -> set[str]:
    """The email domains of admin-made organisations known by any of these names."""
    wanted = {n.strip().lower() for n in names if n and n.strip()}
    if not wanted:
        return set()
    found: set[str] = set()
    for org in list_orgs(engine):
        if wanted & {n.lower() for n in org.names}:
            found.update(org.domains)
    return found
