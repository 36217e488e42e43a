"""Users: accounts identified by email, with an admin flag."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from stdnum.iso7064 import mod_11_2

from paperroute.store.schema import subscriptions, users


@dataclass
class User:
    """A signed-up reader."""

    id: int
    email: str
    display_name: str | None
    is_admin: bool
    created_at: datetime
    last_login_at: datetime | None = None
    handle: str | None = None
    orcid: str | None = None

    @property
    def label(self) -> str:
        """What the page shows for this user."""
        return self.display_name or self.email

    @property
    def public_handle(self) -> str:
        """The handle in the member's public URL: the one they chose, else `member-<id>`."""
        return self.handle or default_handle(self.id)

    @property
    def public_name(self) -> str:
        """What other readers see (never the email address)."""
        return public_name(self.display_name, self.handle, self.id)


def default_handle(user_id: int) -> str:
    """The handle of a member who has not chosen one (never choosable: see check_handle)."""
    return f"member-{user_id}"


def public_name(display_name: str | None, handle: str | None, user_id: int | None) -> str:
    """A member's name on public pages; "deleted member" once the account is gone."""
    if user_id is None:
        return "deleted member"
    return display_name or handle or default_handle(user_id)


class ProfileError(ValueError):
    """A profile field that cannot be saved; the message names the field."""


_HANDLE = re.compile(r"[a-z0-9][a-z0-9_-]{1,38}[a-z0-9]")
_ORCID = re.compile(
    r"(?:https?://(?:www\.)?orcid\.org/)?(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])", re.IGNORECASE
)


def check_handle(value: str | None) -> str | None:
    """A lower-case handle of 3-40 letters, digits, - and _; None for empty; ProfileError else."""
    text = (value or "").strip().lower()
    if not text:
        return None
    if not _HANDLE.fullmatch(text) or re.fullmatch(r"member-\d+", text):
        raise ProfileError(
            f"handle: {_shown(text)} must be 3-40 lower-case letters, digits, - or _ "
            "(and not member-<number>)"
        )
    return text


def normalise_orcid(value: str | None) -> str | None:
    """An ORCID iD as 0000-0002-1825-0097 (a bare iD or an orcid.org URL), None for empty;
    ProfileError when the form or the ISO 7064 MOD 11-2 check digit is wrong."""
    text = (value or "").strip()
    if not text:
        return None
    match = _ORCID.fullmatch(text)
    if not match:
        raise ProfileError(f"orcid: {_shown(text)} is not an ORCID iD (0000-0002-1825-0097)")
    parts = [g.upper() for g in match.groups()]
    if not mod_11_2.is_valid("".join(parts)):
        raise ProfileError(f"orcid: {_shown(text)} has a wrong check digit")
    return "-".join(parts)


class EmailError(ValueError):
    """Not exactly one email address; the message says what is wrong with it."""


def normalise_email(email: str) -> str:
    """Exactly one address, lower-cased with an IDNA (ASCII) domain; raises EmailError otherwise.

    The syntax check is email-validator's (RFC 5322/6531 with the unsafe characters it knows:
    CR/LF, NUL, U+0085, U+2028 ...); it refuses lists, display names and trailing junk, so one
    request can name one recipient only. The whole address is lower-cased because accounts, rate
    limits and subscriptions are keyed on it: `Victim@x` and `victim@x` are one reader.
    """
    value = email.strip(" \t") if isinstance(email, str) else ""
    if not value:
        raise EmailError("enter an email address")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise EmailError(f"{_shown(value)} is not one email address: {exc}") from None
    domain = checked.ascii_domain or checked.domain
    return f"{checked.local_part}@{domain}".lower()


def _shown(value: str) -> str:
    # repr() makes control characters visible; long junk is cut so the message stays readable.
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


def _row_to_user(row) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        is_admin=bool(row.is_admin),
        created_at=row.created_at,
        last_login_at=row.last_login_at,
        handle=row.handle,
        orcid=row.orcid,
    )


def get_user(engine: Engine, user_id: int) -> User | None:
    """The user with this id, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return _row_to_user(row) if row else None


def get_user_by_email(engine: Engine, email: str) -> User | None:
    """The user with this email, or None (an invalid address still finds a legacy row)."""
    try:
        address = normalise_email(email)
    except EmailError:
        address = (email or "").strip().lower()  # rows stored before addresses were checked
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email == address)).first()
    return _row_to_user(row) if row else None


def add_user(engine: Engine, email: str, *, is_admin: bool = False) -> User:
    """Create a user, or return the existing one (promoting it when is_admin is asked)."""
    address = normalise_email(email)
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.email == address)).first()
        if row is None:
            conn.execute(
                users.insert(),
                {"email": address, "is_admin": is_admin, "created_at": datetime.now(UTC)},
            )
        elif is_admin and not row.is_admin:
            conn.execute(users.update().where(users.c.id == row.id).values(is_admin=True))
        row = conn.execute(select(users).where(users.c.email == address)).first()
    return _row_to_user(row)


def record_login(engine: Engine, email: str) -> User:
    """Create the user on first sign-in and stamp the sign-in time.

    Signing in proves the reader owns the address, so an unowned digest subscription of that
    address becomes theirs (its For-you section then follows their library).
    """
    user = add_user(engine, email)
    with engine.begin() as conn:
        conn.execute(
            users.update().where(users.c.id == user.id).values(last_login_at=datetime.now(UTC))
        )
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.email == user.email, subscriptions.c.user_id.is_(None))
            .values(user_id=user.id)
        )
    return user


def update_profile(engine: Engine, user_id: int, display_name: str | None) -> None:
    """Change what the site calls this user."""
    name = (display_name or "").strip()[:255] or None
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == user_id).values(display_name=name))


def update_public_profile(
    engine: Engine, user_id: int, handle: str | None, orcid: str | None
) -> None:
    """Set the member's public handle and ORCID iD; ProfileError naming the field that is bad."""
    values = {"handle": check_handle(handle), "orcid": normalise_orcid(orcid)}
    try:
        with engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(**values))
    except IntegrityError:
        raise ProfileError(f"handle: {values['handle']!r} is taken by another member") from None


def get_user_by_handle(engine: Engine, handle: str) -> User | None:
    """The member whose public handle this is (a chosen one, or `member-<id>` without one)."""
    text = (handle or "").strip().lower()
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.handle == text)).first()
        found = re.fullmatch(r"member-(\d{1,10})", text)
        if row is None and found:
            row = conn.execute(
                select(users).where(users.c.id == int(found.group(1)), users.c.handle.is_(None))
            ).first()
    return _row_to_user(row) if row else None


def delete_user(engine: Engine, user_id: int) -> bool:
    """Delete an account; what it made for others (submissions) stays, as "deleted member"."""
    with engine.begin() as conn:
        return conn.execute(users.delete().where(users.c.id == user_id)).rowcount == 1


def set_admin(engine: Engine, email: str, is_admin: bool) -> User:
    """Grant or revoke the admin role."""
    user = add_user(engine, email)
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == user.id).values(is_admin=is_admin))
    return get_user(engine, user.id)  # type: ignore[return-value]


def list_users(engine: Engine) -> list[User]:
    """Every user, oldest first."""
    with engine.connect() as conn:
        return [_row_to_user(r) for r in conn.execute(select(users).order_by(users.c.id))]


def count_users(engine: Engine) -> int:
    """Number of users."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(users)).scalar_one()
