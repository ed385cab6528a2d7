"""The rate limiter's counters: one row per (rule, key, fixed window), shared by every process.

`RateLimitRepository.increment` is the one write: a conditional `UPDATE ... SET count = count
+ 1 WHERE ... AND count < :below`, or the row's INSERT when the window has none yet. Both are
atomic on SQLite (one writer at a time) and on Postgres (the UPDATE takes the row lock and
re-checks its condition on the committed row; a concurrent INSERT of the same key fails on the
primary key and is retried as an UPDATE), so N processes counting at once never let more
than the limit through. Keys arrive hashed (`key_hash`): the table never holds the user name,
address or identifier that was counted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import RateLimitCounter, utcnow

#: How often an INSERT that lost the race to another process is retried as an UPDATE.
_INSERT_RACE_ATTEMPTS = 3


class RateLimitRepository(_Repository):
    """Counters of the rate limiter (`helpdesk.security.ratelimit.RateLimiter`, its only caller)."""

    def counts(self, rule: str, key_hash: str, windows: tuple[int, ...]) -> dict[int, int]:
        """The counts of these windows (by window start); windows without a row are left out."""
        stmt = select(RateLimitCounter.window_start, RateLimitCounter.count).where(
            RateLimitCounter.rule == rule,
            RateLimitCounter.key_hash == key_hash,
            RateLimitCounter.window_start.in_(windows),
        )
        with session_scope(self._sessions) as session:
            return {int(start): int(count) for start, count in session.execute(stmt).all()}

    def increment(
        self,
        rule: str,
        key_hash: str,
        window_start: int,
        expires_at: datetime,
        *,
        below: float | None = None,
    ) -> int | None:
        """Add one to a window's count, atomically, unless it has reached `below`.

        Args:
            rule: The rule's name.
            key_hash: The hashed key.
            window_start: Start of the window (epoch seconds).
            expires_at: When the row may be deleted (a new row only).
            below: Count only while the stored count is below this; None counts always.

        Returns:
            The new count, or None when the count had reached `below` (nothing changed).
        """
        where = (
            RateLimitCounter.rule == rule,
            RateLimitCounter.key_hash == key_hash,
            RateLimitCounter.window_start == window_start,
        )
        current = select(RateLimitCounter.count).where(*where)

        def work() -> int | None:
            with session_scope(self._sessions) as session:
                stmt = update(RateLimitCounter).where(*where)
                if below is not None:
                    stmt = stmt.where(RateLimitCounter.count < below)
                stmt = stmt.values(count=RateLimitCounter.count + 1).execution_options(
                    synchronize_session=False
                )
                if session.execute(stmt).rowcount:
                    return int(session.execute(current).scalar_one())
                if session.execute(current).first():
                    return None  # the window is full
                if below is not None and below <= 0:
                    return None  # full from the previous window's share alone
                session.add(
                    RateLimitCounter(
                        rule=rule,
                        key_hash=key_hash,
                        window_start=window_start,
                        count=1,
                        expires_at=expires_at,
                    )
                )
                session.flush()
                return 1

        for attempt in range(1, _INSERT_RACE_ATTEMPTS + 1):
            try:
                return retry_on_locked(work)
            except IntegrityError:  # another process inserted the row first: count on it
                if attempt == _INSERT_RACE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def reset(self, rule: str, key_hash: str) -> int:
        """Forget every window of one key of a rule; returns how many rows went."""
        stmt = delete(RateLimitCounter).where(
            RateLimitCounter.rule == rule, RateLimitCounter.key_hash == key_hash
        )
        return self._delete(stmt)

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete the rows no estimate reads any more; returns how many."""
        moment = now or utcnow()
        return self._delete(delete(RateLimitCounter).where(RateLimitCounter.expires_at < moment))

    def _delete(self, stmt: object) -> int:
        def work() -> int:
            with session_scope(self._sessions) as session:
                return int(session.execute(stmt).rowcount or 0)  # type: ignore[call-overload]

        return retry_on_locked(work)
