"""Users: accounts identified by email, with an admin flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine, func, select

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

    @property
    def label(self) -> str:
        """What the page shows for this user."""
        return self.display_name or self.email


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
