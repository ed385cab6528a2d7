"""The one rate limiter: desk logins and the citizens' self-service lookups, shared by every
process through the database.

A `Rule` allows `limit` events per `window_seconds` for each key (a user name, an address, a
sender, a NIK...). The count is a sliding-window estimate over two fixed windows (the current
one, plus the previous one weighted by how much of it still lies inside the sliding window),
which smooths the burst a plain fixed window allows at its edges. Counting is atomic in the
database (`helpdesk.storage.ratelimits`), so several desk processes or action servers never let
more than the limit through together, and a restart forgets nothing.

- `RateLimiter.hit` counts an event only when it is allowed (self-service lookups).
- `RateLimiter.peek` asks without counting and `RateLimiter.add` counts regardless (failed
  logins: checked before the password is, counted after it was wrong).
- `LookupLimits` is the policy of the self-service lookups (DIGIT, SP2D, contracts, SAKTI):
  per sender and per identifier, so a NIK cannot be probed from many sender ids either.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.storage.ratelimits import RateLimitRepository

logger = logging.getLogger(__name__)

#: How often (seconds) a process deletes counters no estimate reads any more.
PURGE_INTERVAL_SECONDS = 300.0


@dataclass(frozen=True)
class Rule:
    """At most `limit` events per `window_seconds` for each key.

    Attributes:
        name: Stable name (stored with the counters; at most 64 characters).
        limit: Events allowed per window (>= 1).
        window_seconds: Length of the sliding window in whole seconds (>= 1).
    """

    name: str
    limit: int
    window_seconds: int

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise ValueError("rule name must be 1-64 characters")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"limit must be an integer >= 1, got {self.limit!r}")
        if not isinstance(self.window_seconds, int) or self.window_seconds < 1:
            raise ValueError(f"window_seconds must be an integer >= 1, got {self.window_seconds!r}")


@dataclass(frozen=True)
class Decision:
    """What the limiter decided for one key.

    Attributes:
        allowed: Whether the event is (was) allowed.
        count: The estimated number of events in the sliding window (after this one when it
            was counted).
        limit: The rule's limit.
        retry_after: Seconds until an event would be allowed again; 0 when allowed.
    """

    allowed: bool
    count: float
    limit: int
    retry_after: float = 0.0

    @property
    def retry_after_minutes(self) -> int:
        """`retry_after` in whole minutes, rounded up (at least 1)."""
        return max(1, math.ceil(self.retry_after / 60))


def key_hash(rule: Rule, key: str) -> str:
    """The SHA-256 under which a rule's key is stored (the key itself never is)."""
    return hashlib.sha256(f"{rule.name}\x00{key}".encode()).hexdigest()


@dataclass(frozen=True)
class _Window:
    current: int  # start of the current fixed window (epoch seconds)
    previous: int
    weight: float  # share of the previous window still inside the sliding window
    elapsed: float  # seconds since the current window started


def _window(rule: Rule, now: float) -> _Window:
    size = rule.window_seconds
    current = int(now // size) * size
    elapsed = now - current
    return _Window(current, current - size, 1.0 - elapsed / size, elapsed)


def _retry_after(rule: Rule, window: _Window, previous: int, current: int) -> float:
    """Seconds until the estimate falls below the limit, if nothing else is counted."""
    size, limit = rule.window_seconds, rule.limit
    if current >= limit:
        # Wait for the next window, then until this window's weighted share is below limit.
        return (size - window.elapsed) + size * (1.0 - limit / current)
    if previous <= 0:
        return 0.0
    return max(0.0, size * (1.0 - (limit - current) / previous) - window.elapsed)


class RateLimiter:
    """Sliding-window counters in the database (see the module docstring).

    Args:
        store: The counters' repository.
        clock: Wall-clock time in epoch seconds (every process must agree on it).
    """

    def __init__(
        self, store: "RateLimitRepository", *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._clock = clock
        self._next_purge = 0.0
        self._purge_lock = threading.Lock()

    def _counts(self, rule: Rule, key: str, window: _Window) -> tuple[int, int]:
        counts = self._store.counts(
            rule.name, key_hash(rule, key), (window.previous, window.current)
        )
        return counts.get(window.previous, 0), counts.get(window.current, 0)

    def _decision(
        self, rule: Rule, window: _Window, previous: int, current: int, *, allowed: bool
    ) -> Decision:
        estimate = previous * window.weight + current
        retry = 0.0 if allowed else max(1.0, _retry_after(rule, window, previous, current))
        return Decision(allowed=allowed, count=estimate, limit=rule.limit, retry_after=retry)

    def peek(self, rule: Rule, key: str) -> Decision:
        """Whether an event for `key` would be allowed now (nothing is counted)."""
        window = _window(rule, self._clock())
        previous, current = self._counts(rule, key, window)
        allowed = previous * window.weight + current < rule.limit
        return self._decision(rule, window, previous, current, allowed=allowed)

    def hit(self, rule: Rule, key: str) -> Decision:
        """Count an event for `key` if it is allowed; a refused event is not counted."""
        window = _window(rule, self._clock())
        previous, _ = self._counts(rule, key, window)
        below = rule.limit - previous * window.weight
        new = self._store.increment(
            rule.name, key_hash(rule, key), window.current, self._expiry(rule, window), below=below
        )
        self._maybe_purge()
        if new is None:
            previous, current = self._counts(rule, key, window)
            return self._decision(rule, window, previous, current, allowed=False)
        return self._decision(rule, window, previous, new, allowed=True)

    def add(self, rule: Rule, key: str) -> Decision:
        """Count an event for `key` whatever the count; the decision says whether the next
        one would still be allowed."""
        window = _window(rule, self._clock())
        new = self._store.increment(
            rule.name, key_hash(rule, key), window.current, self._expiry(rule, window)
        )
        self._maybe_purge()
        previous, current = self._counts(rule, key, window)
        current = max(current, new or 0)  # a reset in between must not hide this event
        allowed = previous * window.weight + current < rule.limit
        return self._decision(rule, window, previous, current, allowed=allowed)

    def reset(self, rule: Rule, key: str) -> None:
        """Forget every event counted for `key` under `rule`."""
        self._store.reset(rule.name, key_hash(rule, key))

    def purge_expired(self) -> int:
        """Delete counters older than two windows; returns how many went."""
        now = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        return self._store.purge_expired(now)

    @staticmethod
    def _expiry(rule: Rule, window: _Window) -> datetime:
        return datetime.fromtimestamp(window.current + 2 * rule.window_seconds, tz=timezone.utc)

    def _maybe_purge(self) -> None:
        now = self._clock()
        with self._purge_lock:
            if now < self._next_purge:
                return
            self._next_purge = now + PURGE_INTERVAL_SECONDS
        try:
            self.purge_expired()
        except Exception:  # housekeeping only: the next interval tries again
            logger.warning("could not purge old rate-limit counters", exc_info=True)


# -- the self-service lookups -----------------------------------------------------------------
#: Lookups one sender (conversation) may run per hour, all services together.
LOOKUPS_PER_SENDER = Rule("lookup_sender", limit=20, window_seconds=3600)
#: Lookups of one identifier (a NIK, an SP2D number, a contract) per hour, from all senders.
LOOKUPS_PER_IDENTIFIER = Rule("lookup_identifier", limit=10, window_seconds=3600)


def identifier_key(kind: str, value: str) -> str:
    """The key of an identifier: its kind and its value without spaces, in lower case.

    The kind is shared across services: a NIK checked in DIGIT and in SAKTI is one NIK.
    """
    return f"{kind.strip().lower()}:{''.join(str(value).split()).lower()}"


class LookupLimits:
    """How often the self-service lookups may run: per sender and per identifier.

    A sender switching to a fresh sender id (easy on REST) still meets the per-identifier
    limit; one sender probing many identifiers meets the per-sender one.

    Args:
        limiter: The shared limiter.
        per_sender: The rule per sender id.
        per_identifier: The rule per identifier (see `identifier_key`).
    """

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        per_sender: Rule = LOOKUPS_PER_SENDER,
        per_identifier: Rule = LOOKUPS_PER_IDENTIFIER,
    ) -> None:
        self._limiter = limiter
        self.per_sender = per_sender
        self.per_identifier = per_identifier

    def allow(self, sender_id: str, kind: str, value: str) -> Decision:
        """Count one lookup of `value` (an identifier of `kind`) by `sender_id`.

        The sender's allowance is used first: a refused identifier still costs the sender one
        lookup, so probing is slowed down either way.

        Returns:
            The refusing rule's decision, or the identifier's when both allow it.
        """
        by_sender = self._limiter.hit(self.per_sender, sender_id)
        if not by_sender.allowed:
            logger.warning(
                "self-service lookups refused for a sender over %d an hour", self.per_sender.limit
            )
            return by_sender
        by_identifier = self._limiter.hit(self.per_identifier, identifier_key(kind, value))
        if not by_identifier.allowed:
            logger.warning(
                "self-service lookups refused for a %s looked up over %d times an hour",
                kind,
                self.per_identifier.limit,
            )
        return by_identifier
