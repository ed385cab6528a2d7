"""Repository of integrators' API tokens (`api_token`): made, found by the token, revoked.

A token is shown once when made ("hd_" and 43 random URL-safe characters); only its SHA-256
is stored, so a copy of the database gives no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _check_aware, _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import ApiToken, utcnow

#: What a token may read, and what each scope is called in the desk.
API_SCOPES = {
    "reports:read": "Unduh laporan (CSV)",
    "audit:read": "Unduh catatan audit (JSON lines)",
    "tickets:read": "Baca status tiket",
}
#: The prefix of every token (recognisable in a leaked config, ignored by the session code).
TOKEN_PREFIX = "hd_"  # noqa: S105 - a prefix, not a secret


class TokenError(ValueError):
    """A token that cannot be made: no name, a name in use, an unknown scope."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiTokenRecord:
    """A token's description (never the token itself)."""

    id: int
    name: str
    scopes: frozenset[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def _record(row: ApiToken) -> ApiTokenRecord:
    return ApiTokenRecord(
        id=row.id,
        name=row.name,
        scopes=frozenset(s for s in row.scopes.split(",") if s),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class ApiTokenRepository(_Repository):
    """Make, find and revoke API tokens."""

    def create(
        self,
        name: str,
        scopes: set[str] | frozenset[str],
        *,
        created_by: str,
        expires_at: datetime | None = None,
    ) -> tuple[str, ApiTokenRecord]:
        """A new token: (the token, shown once; its record).

        Raises:
            TokenError: No name, a name in use, no scope or an unknown one.
        """
        name = " ".join((name or "").split())[:100]
        if not name:
            raise TokenError("a token needs a name (the system that uses it)")
        unknown = sorted(set(scopes) - set(API_SCOPES))
        if unknown or not scopes:
            raise TokenError(
                f"scopes must be some of {', '.join(API_SCOPES)}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        _check_aware(expires_at, "expires_at")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)

        def work() -> ApiTokenRecord:
            with session_scope(self._sessions) as session:
                row = ApiToken(
                    name=name,
                    token_hash=hash_token(token),
                    scopes=",".join(sorted(scopes)),
                    created_by=created_by,
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
                session.add(row)
                session.flush()
                return _record(row)

        try:
            return token, retry_on_locked(work)
        except IntegrityError as exc:
            raise TokenError(f"a token named {name!r} exists already") from exc

    def find(self, token: str, *, now: datetime) -> ApiTokenRecord | None:
        """The usable token's record (its last use noted), or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None

        def work() -> ApiTokenRecord | None:
            with session_scope(self._sessions) as session:
                row = session.scalars(
                    select(ApiToken).where(ApiToken.token_hash == hash_token(token))
                ).first()
                if row is None or not _record(row).usable(now):
                    return None
                row.last_used_at = now
                return _record(row)

        return retry_on_locked(work)

    def list(self) -> list[ApiTokenRecord]:
        with session_scope(self._sessions) as session:
            return [_record(r) for r in session.scalars(select(ApiToken).order_by(ApiToken.id))]

    def revoke(self, token_id: int) -> bool:
        """Revoke a token; False when there is none or it was revoked already."""

        def work() -> bool:
            with session_scope(self._sessions) as session:
                done = session.execute(
                    update(ApiToken)
                    .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                return done.rowcount == 1

        return retry_on_locked(work)
