"""Repositories of the agent desk's accounts and settings.

Desk users, their login sessions and trusted browsers, divisions, canned responses and the
settings admins change in the desk. Like `helpdesk.storage.repositories`, each method is one
unit of work in its own session, write paths retry SQLite's "database is locked", and results
are frozen dataclasses. Passwords arrive here already hashed (`helpdesk.desk.auth.hash_password`);
session and device cookies are never stored, only their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import (
    DESK_ROLES,
    CannedResponse,
    DeskSession,
    DeskSetting,
    DeskTrustedDevice,
    DeskUser,
    Division,
    utcnow,
)
from helpdesk.storage.repositories import _Repository

#: A login session ends after this long without a request (sliding expiry).
SESSION_IDLE_TTL = timedelta(hours=12)
#: A browser stays trusted this long after its last successful login (`TrustedDeviceRepository`).
TRUSTED_DEVICE_TTL = timedelta(days=90)
#: Trusted browsers kept per user (the oldest go first).
MAX_TRUSTED_DEVICES = 10
#: `last_seen_at` of a session and its user is written at most this often (fewer writes).
SEEN_RESOLUTION = timedelta(seconds=30)
#: Placeholder of the citizen's name in a canned response.
NAME_PLACEHOLDER = "{nama}"
#: Used for `{nama}` when the citizen's name is unknown.
NAME_FALLBACK = "Bapak/Ibu"


class DuplicateNameError(ValueError):
    """A user name (or division name) is already taken."""


class LastAdminError(ValueError):
    """The change would leave the desk without an active admin."""


class _Unset:
    """Marker for "argument not given" where None is a meaningful value."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "UNSET"


UNSET: Any = _Unset()


def normalise_username(username: str) -> str:
    """The stored form of a user name: trimmed, lower case."""
    return username.strip().lower()


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_role(role: str) -> None:
    if role not in DESK_ROLES:
        raise ValueError(f"unknown desk role {role!r}; expected one of {DESK_ROLES}")


def _check_limit(max_conversations: int) -> None:
    if isinstance(max_conversations, bool) or not isinstance(max_conversations, int):
        raise ValueError(f"max_conversations must be an integer, got {max_conversations!r}")
    if max_conversations < 1:
        raise ValueError("max_conversations must be at least 1")


@dataclass(frozen=True)
class DeskUserRecord:
    """A desk user, detached from any session (the password hash is left out)."""

    id: int
    username: str
    display_name: str
    role: str
    division_id: int | None
    active: bool
    online: bool
    max_conversations: int
    last_assigned_at: datetime | None
    last_seen_at: datetime | None
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_supervisor(self) -> bool:
        """Supervisors and admins (both see every conversation and the reports)."""
        return self.role in ("supervisor", "admin")

    @classmethod
    def from_row(cls, row: DeskUser) -> "DeskUserRecord":
        return cls(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            division_id=row.division_id,
            active=bool(row.active),
            online=bool(row.online),
            max_conversations=row.max_conversations,
            last_assigned_at=row.last_assigned_at,
            last_seen_at=row.last_seen_at,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class DeskSessionRecord:
    """A login session; `id` is the SHA-256 of the cookie token."""

    id: str
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: DeskSession) -> "DeskSessionRecord":
        return cls(
            id=row.id,
            user_id=row.user_id,
            csrf_token=row.csrf_token,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
        )


@dataclass(frozen=True)
class DivisionRecord:
    """A team of agents and the FAQ categories it serves."""

    id: int
    name: str
    categories: tuple[str, ...]
    created_at: datetime

    @classmethod
    def from_row(cls, row: Division) -> "DivisionRecord":
        return cls(
            id=row.id,
            name=row.name,
            categories=split_categories(row.categories or ""),
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class CannedResponseRecord:
    """A reply template; `{nama}` stands for the citizen's name."""

    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime

    def fill(self, name: str | None) -> str:
        """The body with `{nama}` replaced by `name` (or "Bapak/Ibu" when unknown)."""
        return fill_placeholder(self.body, name)

    @classmethod
    def from_row(cls, row: CannedResponse) -> "CannedResponseRecord":
        return cls(
            id=row.id,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True)
class DeskSettingRecord:
    """A desk setting's value and when it last changed."""

    key: str
    value: str
    updated_at: datetime


def fill_placeholder(body: str, name: str | None) -> str:
    """Replace `{nama}` in a canned response (plain replacement: other braces stay as typed)."""
    cleaned = (name or "").strip()
    return body.replace(NAME_PLACEHOLDER, cleaned or NAME_FALLBACK)


def split_categories(text: str | Iterable[str]) -> tuple[str, ...]:
    """FAQ categories from comma-separated text (or an iterable): trimmed, no duplicates."""
    items = text.split(",") if isinstance(text, str) else list(text)
    seen: dict[str, str] = {}
    for item in items:
        cleaned = str(item).strip()
        if cleaned and cleaned.lower() not in seen:
            seen[cleaned.lower()] = cleaned
    return tuple(seen.values())


class DeskUserRepository(_Repository):
    """Desk users: agents, supervisors and admins."""

    def create(
        self,
        username: str,
        display_name: str,
        password_hash: str,
        *,
        role: str = "agent",
        division_id: int | None = None,
        max_conversations: int = 3,
        active: bool = True,
    ) -> DeskUserRecord:
        """Store a new user (the user name is stored trimmed and in lower case).

        Raises:
            DuplicateNameError: When the user name is taken.
            ValueError: For an unknown role, an empty name or a limit below 1.
        """
        _check_role(role)
        _check_limit(max_conversations)
        username = normalise_username(username)
        display_name = display_name.strip()
        if not username or not display_name or not password_hash:
            raise ValueError("username, display name and password hash are required")

        def work() -> DeskUserRecord:
            now = utcnow()
            try:
                with session_scope(self._sessions) as session:
                    taken = session.execute(
                        select(DeskUser.id).where(DeskUser.username == username)
                    ).first()
                    if taken is not None:
                        raise DuplicateNameError(username)
                    row = DeskUser(
                        username=username,
                        display_name=display_name,
                        password_hash=password_hash,
                        role=role,
                        division_id=division_id,
                        active=active,
                        online=False,
                        max_conversations=max_conversations,
                        created_at=now,
                        updated_at=now,
                    )
                    session.add(row)
                    session.flush()
                    return DeskUserRecord.from_row(row)
            except IntegrityError as exc:
                if self.get_by_username(username) is not None:
                    raise DuplicateNameError(username) from exc
                raise

        return retry_on_locked(work)

    def get(self, user_id: int) -> DeskUserRecord | None:
        """The user with this id, or None."""
        with session_scope(self._sessions) as session:
            row = session.get(DeskUser, user_id)
            return DeskUserRecord.from_row(row) if row is not None else None

    def get_by_username(self, username: str) -> DeskUserRecord | None:
        """The user with this user name (any case), or None."""
        found = self.credentials(username)
        return found[0] if found is not None else None

    def credentials(self, username: str) -> tuple[DeskUserRecord, str] | None:
        """The user with this user name and their password hash, for logging in."""
        with session_scope(self._sessions) as session:
            row = session.execute(
                select(DeskUser).where(DeskUser.username == normalise_username(username))
            ).scalar_one_or_none()
            return (DeskUserRecord.from_row(row), row.password_hash) if row is not None else None

    def list(self, *, role: str | None = None, active_only: bool = False) -> list[DeskUserRecord]:
        """Users by display name, optionally of one role or only the active ones."""
        stmt = select(DeskUser).order_by(func.lower(DeskUser.display_name), DeskUser.id)
        if role is not None:
            stmt = stmt.where(DeskUser.role == role)
        if active_only:
            stmt = stmt.where(DeskUser.active.is_(True))
        with session_scope(self._sessions) as session:
            return [DeskUserRecord.from_row(row) for row in session.execute(stmt).scalars()]

    def count_admins(self, *, active_only: bool = True) -> int:
        """How many admins there are (by default only the active ones)."""
        stmt = select(func.count()).select_from(DeskUser).where(DeskUser.role == "admin")
        if active_only:
            stmt = stmt.where(DeskUser.active.is_(True))
        with session_scope(self._sessions) as session:
            return int(session.execute(stmt).scalar_one())

    def update(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        role: str | None = None,
        division_id: int | None = UNSET,
        active: bool | None = None,
        max_conversations: int | None = None,
    ) -> DeskUserRecord | None:
        """Change a user's profile; arguments left out stay as they are.

        Deactivating a user also ends their sessions and sets them offline.

        Returns:
            The updated user, or None when no user has this id.

        Raises:
            LastAdminError: When the change would leave no active admin.
            ValueError: For an unknown role, an empty display name or a limit below 1.
        """
        if role is not None:
            _check_role(role)
        if max_conversations is not None:
            _check_limit(max_conversations)
        if display_name is not None and not display_name.strip():
            raise ValueError("display name must not be empty")

        def work() -> DeskUserRecord | None:
            with session_scope(self._sessions) as session:
                row = session.get(DeskUser, user_id)
                if row is None:
                    return None
                was_active_admin = row.role == "admin" and bool(row.active)
                if display_name is not None:
                    row.display_name = display_name.strip()
                if role is not None:
                    row.role = role
                if division_id is not UNSET:
                    row.division_id = division_id
                if max_conversations is not None:
                    row.max_conversations = max_conversations
                if active is not None:
                    row.active = bool(active)
                    if not active:
                        row.online = False
                        session.execute(delete(DeskSession).where(DeskSession.user_id == row.id))
                still_active_admin = row.role == "admin" and bool(row.active)
                if was_active_admin and not still_active_admin:
                    others = session.execute(
                        select(func.count())
                        .select_from(DeskUser)
                        .where(
                            DeskUser.role == "admin",
                            DeskUser.active.is_(True),
                            DeskUser.id != row.id,
                        )
                    ).scalar_one()
                    if not others:
                        raise LastAdminError("the desk needs at least one active admin")
                row.updated_at = utcnow()
                session.flush()
                return DeskUserRecord.from_row(row)

        return retry_on_locked(work)

    def set_password(self, user_id: int, password_hash: str) -> bool:
        """Replace a user's password hash; False when no user has this id.

        The user's trusted browsers are forgotten too: after a password reset, a browser that
        logged in with the old password is an unknown one again.
        """
        if not password_hash:
            raise ValueError("password hash is required")

        def work() -> bool:
            with session_scope(self._sessions) as session:
                row = session.get(DeskUser, user_id)
                if row is None:
                    return False
                row.password_hash = password_hash
                row.updated_at = utcnow()
                session.execute(
                    delete(DeskTrustedDevice).where(DeskTrustedDevice.user_id == user_id)
                )
                return True

        return retry_on_locked(work)

    def rehash_password(self, user_id: int, old_hash: str, new_hash: str) -> bool:
        """Store a new hash of the same password (a stronger algorithm or parameters).

        Only while the stored hash is still `old_hash`: a password changed meanwhile (by an
        admin) is never overwritten. Trusted browsers stay trusted.

        Returns:
            True when the new hash was stored.
        """
        if not new_hash:
            raise ValueError("password hash is required")

        def work() -> bool:
            with session_scope(self._sessions) as session:
                result = session.execute(
                    update(DeskUser)
                    .where(DeskUser.id == user_id, DeskUser.password_hash == old_hash)
                    .values(password_hash=new_hash, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount)

        return retry_on_locked(work)

    def set_online(self, user_id: int, online: bool) -> DeskUserRecord | None:
        """Mark a user online (takes conversations) or offline; inactive users stay offline."""

        def work() -> DeskUserRecord | None:
            with session_scope(self._sessions) as session:
                row = session.get(DeskUser, user_id)
                if row is None:
                    return None
                row.online = bool(online) and bool(row.active)
                row.last_seen_at = utcnow()
                row.updated_at = utcnow()
                session.flush()
                return DeskUserRecord.from_row(row)

        return retry_on_locked(work)


class DeskSessionRepository(_Repository):
    """Server-side login sessions with a sliding idle expiry."""

    def __init__(self, session_factory: Any, *, ttl: timedelta = SESSION_IDLE_TTL) -> None:
        super().__init__(session_factory)
        if ttl <= timedelta(0):
            raise ValueError("session ttl must be positive")
        self._ttl = ttl

    def create(self, user_id: int) -> tuple[str, DeskSessionRecord]:
        """Open a session for a user.

        Returns:
            The raw token for the cookie (not stored anywhere) and the session, which holds
            the CSRF token the user's forms must carry.
        """
        token = secrets.token_urlsafe(32)
        now = utcnow()
        row = DeskSession(
            id=token_digest(token),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self._ttl,
        )

        def work() -> DeskSessionRecord:
            with session_scope(self._sessions) as session:
                session.add(row)
                session.flush()
                return DeskSessionRecord.from_row(row)

        return token, retry_on_locked(work)

    def get_valid(self, token: str) -> tuple[DeskSessionRecord, DeskUserRecord] | None:
        """The live session of a cookie token and its (active) user, or None.

        A valid session's expiry slides forward; an expired one, or one of a deactivated
        user, is deleted.
        """
        if not token:
            return None
        digest = token_digest(token)

        def work() -> tuple[DeskSessionRecord, DeskUserRecord] | None:
            now = utcnow()
            with session_scope(self._sessions) as session:
                row = session.get(DeskSession, digest)
                if row is None:
                    return None
                user = session.get(DeskUser, row.user_id)
                if row.expires_at <= now or user is None or not user.active:
                    session.delete(row)
                    return None
                if now - row.last_seen_at >= SEEN_RESOLUTION:
                    row.last_seen_at = now
                    row.expires_at = now + self._ttl
                    user.last_seen_at = now
                session.flush()
                return DeskSessionRecord.from_row(row), DeskUserRecord.from_row(user)

        return retry_on_locked(work)

    def delete(self, token: str) -> bool:
        """End the session of a cookie token; False when there was none."""
        return self._delete(delete(DeskSession).where(DeskSession.id == token_digest(token))) > 0

    def delete_for_user(self, user_id: int) -> int:
        """End every session of a user (password reset, deactivation); returns how many."""
        return self._delete(delete(DeskSession).where(DeskSession.user_id == user_id))

    def purge_expired(self) -> int:
        """Delete expired sessions; returns how many."""
        return self._delete(delete(DeskSession).where(DeskSession.expires_at <= utcnow()))

    def _delete(self, stmt: Any) -> int:
        def work() -> int:
            with session_scope(self._sessions) as session:
                return int(session.execute(stmt).rowcount or 0)

        return retry_on_locked(work)


class TrustedDeviceRepository(_Repository):
    """Browsers that logged in successfully as a user (the OWASP "device cookie").

    The login throttle counts the failures of a trusted browser on their own, so failures
    from elsewhere (an attacker guessing the password) never lock the owner's browser out.
    """

    def __init__(self, session_factory: Any, *, ttl: timedelta = TRUSTED_DEVICE_TTL) -> None:
        super().__init__(session_factory)
        if ttl <= timedelta(0):
            raise ValueError("trusted device ttl must be positive")
        self._ttl = ttl

    def issue(self, user_id: int, replaces: str | None = None) -> str:
        """Trust the browser a user just logged in with.

        Args:
            user_id: The user.
            replaces: The browser's previous device token, deleted (tokens rotate).

        Returns:
            The raw token for the cookie (only its SHA-256 is stored).
        """
        token = secrets.token_urlsafe(32)
        now = utcnow()

        def work() -> None:
            with session_scope(self._sessions) as session:
                session.execute(
                    delete(DeskTrustedDevice).where(DeskTrustedDevice.expires_at <= now)
                )
                if replaces:
                    session.execute(
                        delete(DeskTrustedDevice).where(
                            DeskTrustedDevice.id == token_digest(replaces)
                        )
                    )
                kept = (
                    session.execute(
                        select(DeskTrustedDevice.id)
                        .where(DeskTrustedDevice.user_id == user_id)
                        .order_by(DeskTrustedDevice.last_used_at.desc())
                        .offset(MAX_TRUSTED_DEVICES - 1)
                    )
                    .scalars()
                    .all()
                )
                if kept:
                    session.execute(delete(DeskTrustedDevice).where(DeskTrustedDevice.id.in_(kept)))
                session.add(
                    DeskTrustedDevice(
                        id=token_digest(token),
                        user_id=user_id,
                        created_at=now,
                        last_used_at=now,
                        expires_at=now + self._ttl,
                    )
                )

        retry_on_locked(work)
        return token

    def device_of(self, token: str | None, user_id: int) -> str | None:
        """The stored id of a browser's device token when it is trusted for this user.

        Returns:
            The token's SHA-256 (a stable id for counting that browser's failures), or None
            for a missing, unknown, expired token or one of another user.
        """
        if not token or len(token) > 128:
            return None
        digest = token_digest(token)
        with session_scope(self._sessions) as session:
            row = session.get(DeskTrustedDevice, digest)
            if row is None or row.user_id != user_id or row.expires_at <= utcnow():
                return None
            return digest

    def delete_for_user(self, user_id: int) -> int:
        """Forget every trusted browser of a user; returns how many."""

        def work() -> int:
            with session_scope(self._sessions) as session:
                stmt = delete(DeskTrustedDevice).where(DeskTrustedDevice.user_id == user_id)
                return int(session.execute(stmt).rowcount or 0)

        return retry_on_locked(work)


class DivisionRepository(_Repository):
    """Divisions (teams of agents) and the FAQ categories each serves."""

    def create(self, name: str, categories: str | Iterable[str] = ()) -> DivisionRecord:
        """Store a division.

        Raises:
            DuplicateNameError: When the name is taken.
            ValueError: For an empty name.
        """
        name = name.strip()
        if not name:
            raise ValueError("division name must not be empty")
        joined = ",".join(split_categories(categories))

        def work() -> DivisionRecord:
            try:
                with session_scope(self._sessions) as session:
                    if self._name_taken(session, name, None):
                        raise DuplicateNameError(name)
                    row = Division(name=name, categories=joined, created_at=utcnow())
                    session.add(row)
                    session.flush()
                    return DivisionRecord.from_row(row)
            except IntegrityError as exc:
                raise DuplicateNameError(name) from exc

        return retry_on_locked(work)

    def get(self, division_id: int) -> DivisionRecord | None:
        """The division with this id, or None."""
        with session_scope(self._sessions) as session:
            row = session.get(Division, division_id)
            return DivisionRecord.from_row(row) if row is not None else None

    def list(self) -> list[DivisionRecord]:
        """Every division, by name."""
        with session_scope(self._sessions) as session:
            rows = session.execute(select(Division).order_by(func.lower(Division.name)))
            return [DivisionRecord.from_row(row) for row in rows.scalars()]

    def for_category(self, category: str | None) -> DivisionRecord | None:
        """The first division (by name) serving an FAQ category (case-insensitive), or None."""
        if not category or not category.strip():
            return None
        wanted = category.strip().lower()
        return next(
            (d for d in self.list() if wanted in {c.lower() for c in d.categories}),
            None,
        )

    def id_for_category(self, category: str | None) -> int | None:
        """The id of the division serving an FAQ category, or None (`HandoffService` input)."""
        division = self.for_category(category)
        return division.id if division is not None else None

    def update(
        self, division_id: int, *, name: str, categories: str | Iterable[str]
    ) -> DivisionRecord | None:
        """Rename a division and replace its categories; None when it does not exist.

        Raises:
            DuplicateNameError: When another division has the name.
            ValueError: For an empty name.
        """
        name = name.strip()
        if not name:
            raise ValueError("division name must not be empty")
        joined = ",".join(split_categories(categories))

        def work() -> DivisionRecord | None:
            try:
                with session_scope(self._sessions) as session:
                    row = session.get(Division, division_id)
                    if row is None:
                        return None
                    if self._name_taken(session, name, division_id):
                        raise DuplicateNameError(name)
                    row.name = name
                    row.categories = joined
                    session.flush()
                    return DivisionRecord.from_row(row)
            except IntegrityError as exc:
                raise DuplicateNameError(name) from exc

        return retry_on_locked(work)

    def delete(self, division_id: int) -> bool:
        """Delete a division (its users and handoffs keep no division); False if missing."""

        def work() -> bool:
            with session_scope(self._sessions) as session:
                row = session.get(Division, division_id)
                if row is None:
                    return False
                # Users and handoffs of the division keep none (ON DELETE SET NULL; the
                # engine turns SQLite's foreign keys on).
                session.delete(row)
                return True

        return retry_on_locked(work)

    @staticmethod
    def _name_taken(session: Any, name: str, own_id: int | None) -> bool:
        stmt = select(Division.id).where(func.lower(Division.name) == name.lower())
        if own_id is not None:
            stmt = stmt.where(Division.id != own_id)
        return session.execute(stmt).first() is not None


class CannedResponseRepository(_Repository):
    """Reply templates for agents."""

    def create(self, title: str, body: str) -> CannedResponseRecord:
        """Store a canned response.

        Raises:
            ValueError: For an empty title or body.
        """
        title, body = _check_canned(title, body)

        def work() -> CannedResponseRecord:
            now = utcnow()
            with session_scope(self._sessions) as session:
                row = CannedResponse(title=title, body=body, created_at=now, updated_at=now)
                session.add(row)
                session.flush()
                return CannedResponseRecord.from_row(row)

        return retry_on_locked(work)

    def get(self, response_id: int) -> CannedResponseRecord | None:
        """The canned response with this id, or None."""
        with session_scope(self._sessions) as session:
            row = session.get(CannedResponse, response_id)
            return CannedResponseRecord.from_row(row) if row is not None else None

    def list(self) -> list[CannedResponseRecord]:
        """Every canned response, by title."""
        with session_scope(self._sessions) as session:
            rows = session.execute(
                select(CannedResponse).order_by(func.lower(CannedResponse.title), CannedResponse.id)
            )
            return [CannedResponseRecord.from_row(row) for row in rows.scalars()]

    def update(self, response_id: int, *, title: str, body: str) -> CannedResponseRecord | None:
        """Replace a canned response's title and body; None when it does not exist."""
        title, body = _check_canned(title, body)

        def work() -> CannedResponseRecord | None:
            with session_scope(self._sessions) as session:
                row = session.get(CannedResponse, response_id)
                if row is None:
                    return None
                row.title = title
                row.body = body
                row.updated_at = utcnow()
                session.flush()
                return CannedResponseRecord.from_row(row)

        return retry_on_locked(work)

    def delete(self, response_id: int) -> bool:
        """Delete a canned response; False when it does not exist."""

        def work() -> bool:
            with session_scope(self._sessions) as session:
                row = session.get(CannedResponse, response_id)
                if row is None:
                    return False
                session.delete(row)
                return True

        return retry_on_locked(work)


def _check_canned(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise ValueError("canned response title and body must not be empty")
    if len(title) > 100:
        raise ValueError("canned response title is longer than 100 characters")
    return title, body


class DeskSettingRepository(_Repository):
    """Settings admins change in the desk, as text by key (e.g. "office_hours" as YAML)."""

    def get(self, key: str) -> DeskSettingRecord | None:
        """The setting's value and change time, or None when it was never set."""
        with session_scope(self._sessions) as session:
            row = session.get(DeskSetting, key)
            if row is None:
                return None
            return DeskSettingRecord(key=row.key, value=row.value, updated_at=row.updated_at)

    def updated_at(self, key: str) -> datetime | None:
        """When the setting last changed (a cheap check for caches), or None when unset."""
        with session_scope(self._sessions) as session:
            return session.execute(
                select(DeskSetting.updated_at).where(DeskSetting.key == key)
            ).scalar_one_or_none()

    def set(self, key: str, value: str) -> DeskSettingRecord:
        """Store a setting (insert or replace)."""

        def work() -> DeskSettingRecord:
            now = utcnow()
            with session_scope(self._sessions) as session:
                row = session.get(DeskSetting, key)
                if row is None:
                    row = DeskSetting(key=key, value=value, updated_at=now)
                    session.add(row)
                else:
                    row.value = value
                    row.updated_at = now
                return DeskSettingRecord(key=key, value=value, updated_at=now)

        return retry_on_locked(work)

    def delete(self, key: str) -> bool:
        """Remove a setting (back to the default); False when it was not set."""

        def work() -> bool:
            with session_scope(self._sessions) as session:
                return bool(
                    session.execute(delete(DeskSetting).where(DeskSetting.key == key)).rowcount
                )

        return retry_on_locked(work)
