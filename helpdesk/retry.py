"""Retries with exponential backoff, shared by every part that talks to something flaky.

Three pieces:

- `Backoff` is a schedule: the pause after the n-th failure is
  `first * factor ** (n - 1) * (1 + jitter * rand())`, capped at `maximum`. Callers that only
  need a delay (e.g. "try again in 4 s" stored for a later pass) use `Backoff.delay` alone.
- `RetryPolicy` bounds the tries: attempts in total, the schedule, and the least time an
  attempt needs before a deadline (an attempt that cannot fit is not started).
- `call` (and `acall`, its asyncio twin) runs an operation under a policy. Each error is
  shown to `retry_on`, which decides: False gives up at once, True pauses as the policy says,
  a number pauses exactly that long (e.g. a server's own "retry after"). Every failure is
  reported to `on_failure` (with `pause=None` when giving up) so that callers log under
  their own logger names; the last error is re-raised unchanged.

A retry that depends on a result rather than an error (an HTTP status) raises a private
exception inside the operation and unwraps it after `call`. Only `Exception`s are caught:
cancellation, `KeyboardInterrupt` and `SystemExit` go through at once. Nothing is logged here.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar, Union

T = TypeVar("T")

#: What `retry_on` returns for an error: False gives up now, True pauses as the policy says,
#: a number (>= 0; note that 0 is "retry at once", not False) pauses exactly that long.
Decision: TypeAlias = Union[bool, float]


def _check_non_negative(name: str, value: float) -> None:
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True)
class Backoff:
    """An exponential schedule of pauses, in seconds.

    Args:
        first: The pause after the first failure.
        factor: What each further pause is multiplied by (2.0 doubles; 1.0 keeps it constant).
        maximum: The longest pause (None: no cap). The cap applies after the jitter.
        jitter: Up to this fraction is added at random to each pause (0.5: up to +50 %).

    Raises:
        ValueError: If a value is negative (or not a number).
    """

    first: float
    factor: float = 2.0
    maximum: float | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        _check_non_negative("first", self.first)
        _check_non_negative("factor", self.factor)
        if self.maximum is not None:
            _check_non_negative("maximum", self.maximum)
        _check_non_negative("jitter", self.jitter)

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """The pause after `failures` failures in a row.

        Args:
            failures: How many attempts failed so far (>= 1).
            rand: A uniform random number in [0, 1) (tests pass a fixed one); only called
                when `jitter` is not 0.

        Returns:
            `first * factor ** (failures - 1) * (1 + jitter * rand())`, at most `maximum`.
            A schedule that grows past what a float holds is infinite, hence `maximum`.

        Raises:
            ValueError: If `failures` is below 1.
        """
        if failures < 1:
            raise ValueError("failures must be >= 1")
        if self.first == 0:
            pause = 0.0
        else:
            try:
                pause = self.first * float(self.factor) ** (failures - 1)
            except OverflowError:
                pause = math.inf
        if self.jitter:
            pause *= 1 + self.jitter * rand()
        if self.maximum is not None:
            pause = min(pause, self.maximum)
        return pause


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently an operation is tried.

    Args:
        attempts: Attempts in total (1: no retry).
        backoff: The pauses between attempts.
        min_attempt: With a deadline, a retry is only started when at least this many
            seconds are left after its pause.

    Raises:
        ValueError: If `attempts` is not an integer >= 1 or `min_attempt` is negative.
    """

    attempts: int
    backoff: Backoff
    min_attempt: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ValueError("attempts must be an integer >= 1")
        if self.attempts < 1:
            raise ValueError("attempts must be an integer >= 1")
        _check_non_negative("min_attempt", self.min_attempt)


@dataclass(frozen=True)
class Failure:
    """One failed attempt, as reported to `on_failure`.

    Args:
        attempt: Which attempt failed (1 for the first).
        attempts: The attempts allowed in total.
        error: What the attempt raised.
        pause: Seconds until the next attempt; None when giving up (`error` is re-raised).
    """

    attempt: int
    attempts: int
    error: Exception
    pause: float | None

    @property
    def giving_up(self) -> bool:
        """True when no further attempt follows."""
        return self.pause is None


def _ignore(failure: Failure) -> None:
    """The default `on_failure`: nothing."""


def _pause_after(
    policy: RetryPolicy,
    attempt: int,
    error: Exception,
    retry_on: Callable[[Exception], Decision],
    clock: Callable[[], float],
    deadline: float | None,
    rand: Callable[[], float],
) -> float | None:
    """The pause before the next attempt, or None to give up."""
    if attempt >= policy.attempts:
        return None
    decision = retry_on(error)
    if isinstance(decision, bool):
        if not decision:
            return None
        pause = policy.backoff.delay(attempt, rand)
    elif isinstance(decision, (int, float)):
        pause = float(decision)
        if not 0 <= pause < math.inf:
            raise ValueError("retry_on returned a pause that is not a finite number >= 0")
    else:
        raise TypeError("retry_on must return a bool or a number of seconds")
    if deadline is not None and deadline - clock() - pause < policy.min_attempt:
        return None
    return pause


def call(
    op: Callable[[], T],
    policy: RetryPolicy,
    *,
    retry_on: Callable[[Exception], Decision],
    on_failure: Callable[[Failure], None] = _ignore,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    deadline: float | None = None,
    rand: Callable[[], float] = random.random,
) -> T:
    """Run `op`, trying again after the errors `retry_on` accepts.

    After each failure, in order: no attempt left, `retry_on` saying False, or a pause that
    would leave less than `policy.min_attempt` seconds before `deadline` gives up. `retry_on`
    is not asked when no attempt is left. Errors raised by `retry_on`, `on_failure` or
    `sleep` go through as they are.

    Args:
        op: The attempt; it must be safe to repeat (a whole unit of work).
        policy: Attempts, backoff and the least time an attempt needs.
        retry_on: The decision for one error (see `Decision`).
        on_failure: Called once per failed attempt, before the pause or the re-raise.
        sleep: The pause function (tests pass a fake).
        clock: The clock `deadline` is read on (monotonic seconds).
        deadline: When the whole call should be over, on `clock`; None: no deadline.
        rand: The random source of the backoff's jitter.

    Returns:
        What `op` returned.

    Raises:
        Exception: The error of the last attempt, unchanged.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return op()
        except Exception as error:
            pause = _pause_after(policy, attempt, error, retry_on, clock, deadline, rand)
            on_failure(Failure(attempt, policy.attempts, error, pause))
            if pause is None:
                raise
            sleep(pause)


async def acall(
    op: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    retry_on: Callable[[Exception], Decision],
    on_failure: Callable[[Failure], None] = _ignore,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    deadline: float | None = None,
    rand: Callable[[], float] = random.random,
) -> T:
    """Await `op`, trying again after the errors `retry_on` accepts (asyncio `call`).

    The same rules as `call`; `op` is called anew for each attempt (a coroutine can only be
    awaited once) and the pause is awaited. Cancellation goes through at once.

    Args:
        op: Makes the awaitable of one attempt.
        policy: Attempts, backoff and the least time an attempt needs.
        retry_on: The decision for one error (see `Decision`).
        on_failure: Called once per failed attempt, before the pause or the re-raise.
        sleep: The pause coroutine function (tests pass a fake).
        clock: The clock `deadline` is read on (monotonic seconds).
        deadline: When the whole call should be over, on `clock`; None: no deadline.
        rand: The random source of the backoff's jitter.

    Returns:
        What `op`'s awaitable returned.

    Raises:
        Exception: The error of the last attempt, unchanged.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await op()
        except Exception as error:
            pause = _pause_after(policy, attempt, error, retry_on, clock, deadline, rand)
            on_failure(Failure(attempt, policy.attempts, error, pause))
            if pause is None:
                raise
            await sleep(pause)
