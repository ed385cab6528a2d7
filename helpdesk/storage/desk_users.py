"""Repository of the agent desk's users: agents, supervisors and admins.

As in every repository (`helpdesk.storage.base`), each method is one unit of work in its own
session, write paths retry SQLite's "database is locked", and results are frozen dataclasses.
Passwords arrive here already hashed (`helpdesk.desk.passwords.hash_password`). The users'
login sessions and trusted browsers are in `helpdesk.storage.desk_sessions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.enums import DeskRole
from helpdesk.storage.models import DESK_ROLES, DeskSession, DeskTrustedDevice, DeskUser, utcnow


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
        return self.role == DeskRole.ADMIN

    @property
    def is_supervisor(self) -> bool:
        """Supervisors and admins (both see every conversation and the reports)."""
        return self.role in (DeskRole.SUPERVISOR, DeskRole.ADMIN)

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


class DeskUserRepository(_Repository):
    """Desk users: agents, supervisors and admins."""

    def create(
        self,
        username: str,
        display_name: str,
        password_hash: str,
        *,
        role: str = DeskRole.AGENT,
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
        stmt = select(func.count()).select_from(DeskUser).where(DeskUser.role == DeskRole.ADMIN)
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
                was_active_admin = row.role == DeskRole.ADMIN and bool(row.active)
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
                still_active_admin = row.role == DeskRole.ADMIN and bool(row.active)
                if was_active_admin and not still_active_admin:
                    others = session.execute(
                        select(func.count())
                        .select_from(DeskUser)
                        .where(
                            DeskUser.role == DeskRole.ADMIN,
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
