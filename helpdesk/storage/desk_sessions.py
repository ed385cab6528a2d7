"""Repositories of the agent desk's login sessions and trusted browsers.

Session and device cookies are never stored, only their SHA-256 (`token_digest`). Each method
is one unit of work in its own session and write paths retry SQLite's "database is locked".
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.desk_users import DeskUserRecord
from helpdesk.storage.models import DeskSession, DeskTrustedDevice, DeskUser, utcnow

#: A login session ends after this long without a request (sliding expiry).
SESSION_IDLE_TTL = timedelta(hours=12)
#: A browser stays trusted this long after its last successful login (`TrustedDeviceRepository`).
TRUSTED_DEVICE_TTL = timedelta(days=90)
#: Trusted browsers kept per user (the oldest go first).
MAX_TRUSTED_DEVICES = 10
#: `last_seen_at` of a session and its user is written at most this often (fewer writes).
SEEN_RESOLUTION = timedelta(seconds=30)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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
