"""Tests of `helpdesk.retry`: the backoff schedule, the policy checks, `call` and `acall`."""

from __future__ import annotations

import asyncio
import math
import random
import time

import pytest

from helpdesk.retry import Backoff, Failure, RetryPolicy, acall, call


class Boom(Exception):
    """The error the fake operations raise."""


class FakeClock:
    """A monotonic clock that only moves when the caller sleeps."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Flaky:
    """An operation that fails `failures` times (a new error each time), then returns "ok"."""

    def __init__(self, failures: int, error: type[Exception] = Boom) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.raised: list[Exception] = []

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            error = self.error(f"failure {self.calls}")
            self.raised.append(error)
            raise error
        return "ok"

    async def run(self) -> str:
        await asyncio.sleep(0)
        return self()


def policy(attempts: int = 3, first: float = 0.2, **kwargs) -> RetryPolicy:
    min_attempt = kwargs.pop("min_attempt", 0.0)
    return RetryPolicy(attempts, Backoff(first, **kwargs), min_attempt=min_attempt)


def always(error: Exception) -> bool:
    return True


# --- Backoff -------------------------------------------------------------------------------


def test_backoff_doubles_by_default():
    backoff = Backoff(0.2)

    assert [backoff.delay(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.6, 3.2]


@pytest.mark.parametrize(
    ("factor", "expected"),
    [(3.0, [0.5, 1.5, 4.5, 13.5]), (1.0, [0.5, 0.5, 0.5, 0.5]), (0.5, [0.5, 0.25, 0.125, 0.0625])],
)
def test_backoff_multiplies_by_its_factor(factor, expected):
    backoff = Backoff(0.5, factor=factor)

    assert [backoff.delay(n) for n in range(1, 5)] == expected


def test_backoff_is_capped_at_its_maximum():
    backoff = Backoff(2.0, maximum=15.0)

    assert [backoff.delay(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 15.0, 15.0, 15.0]


@pytest.mark.parametrize("failures", [1_100, 10**6, 10**12])
def test_a_very_long_run_of_failures_stays_at_the_maximum(failures):
    assert Backoff(2.0, maximum=15.0).delay(failures) == 15.0
    assert Backoff(2.0, maximum=15.0, jitter=0.5).delay(failures, lambda: 0.5) == 15.0


def test_an_uncapped_schedule_that_outgrows_a_float_is_infinite():
    assert Backoff(1.0).delay(10**6) == math.inf


def test_a_zero_first_pause_stays_zero():
    assert Backoff(0.0).delay(1) == 0.0
    assert Backoff(0.0).delay(10**6) == 0.0
    assert Backoff(0.0, jitter=1.0).delay(3, lambda: 0.9) == 0.0


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 0.4), (0.5, 0.5), (0.25, 0.45), (0.75, 0.55)])
def test_jitter_adds_up_to_its_fraction(rand, expected):
    backoff = Backoff(0.2, jitter=0.5)

    assert backoff.delay(2, lambda: rand) == pytest.approx(expected)


def test_jitter_stays_below_its_bound():
    backoff = Backoff(0.2, jitter=0.5)

    assert 0.4 <= backoff.delay(2, lambda: 0.999999) < 0.6


def test_jitter_with_the_default_random_source_stays_in_bounds():
    backoff = Backoff(1.0, jitter=0.5)
    delays = [backoff.delay(3) for _ in range(500)]

    assert all(4.0 <= delay < 6.0 for delay in delays)
    assert len(set(delays)) > 1  # really random
    assert max(delays) > 5.0 and min(delays) < 5.0  # spread over the range


def test_jitter_is_applied_before_the_cap():
    backoff = Backoff(1.0, maximum=1.2, jitter=0.5)

    assert backoff.delay(1, lambda: 0.2) == pytest.approx(1.1)
    assert backoff.delay(1, lambda: 0.9) == 1.2


def test_no_random_number_is_drawn_without_jitter():
    drawn: list[float] = []

    def rand() -> float:
        drawn.append(0.5)
        return 0.5

    assert Backoff(0.2).delay(2, rand) == 0.4
    assert drawn == []


def test_jitter_draws_from_the_random_module_by_default():
    state = random.getstate()
    try:
        random.seed(7)
        expected = 1.0 + 0.5 * random.random()
        random.seed(7)
        assert Backoff(1.0, jitter=0.5).delay(1) == expected
    finally:
        random.setstate(state)


@pytest.mark.parametrize("failures", [0, -1])
def test_delay_refuses_fewer_than_one_failure(failures):
    with pytest.raises(ValueError, match="failures must be >= 1"):
        Backoff(0.2).delay(failures)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"first": -0.1}, "first must be >= 0"),
        ({"first": math.nan}, "first must be >= 0"),
        ({"first": 1.0, "factor": -2.0}, "factor must be >= 0"),
        ({"first": 1.0, "maximum": -1.0}, "maximum must be >= 0"),
        ({"first": 1.0, "jitter": -0.5}, "jitter must be >= 0"),
    ],
)
def test_backoff_refuses_negative_values(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        Backoff(**kwargs)


def test_backoff_accepts_zeros():
    backoff = Backoff(0.0, factor=0.0, maximum=0.0, jitter=0.0)

    assert backoff.delay(1) == 0.0


# --- RetryPolicy ---------------------------------------------------------------------------


@pytest.mark.parametrize("attempts", [0, -1, 1.5, True, "3"])
def test_policy_refuses_attempts_that_are_not_a_positive_integer(attempts):
    with pytest.raises(ValueError, match="^attempts must be an integer >= 1$"):
        RetryPolicy(attempts, Backoff(0.1))


@pytest.mark.parametrize("min_attempt", [-0.1, math.nan])
def test_policy_refuses_a_negative_min_attempt(min_attempt):
    with pytest.raises(ValueError, match="^min_attempt must be >= 0$"):
        RetryPolicy(3, Backoff(0.1), min_attempt=min_attempt)


def test_policy_accepts_a_single_attempt():
    assert RetryPolicy(1, Backoff(0.1)).attempts == 1


# --- call ----------------------------------------------------------------------------------


def test_call_returns_at_once_when_the_first_attempt_succeeds():
    clock = FakeClock()
    failures: list[Failure] = []
    op = Flaky(0)

    assert (
        call(op, policy(), retry_on=always, on_failure=failures.append, sleep=clock.sleep) == "ok"
    )

    assert op.calls == 1
    assert clock.sleeps == []
    assert failures == []


def test_call_retries_with_the_policy_pauses_then_returns():
    clock = FakeClock()
    failures: list[Failure] = []
    op = Flaky(2)

    result = call(op, policy(3), retry_on=always, on_failure=failures.append, sleep=clock.sleep)

    assert result == "ok"
    assert op.calls == 3
    assert clock.sleeps == [0.2, 0.4]
    assert failures == [
        Failure(attempt=1, attempts=3, error=op.raised[0], pause=0.2),
        Failure(attempt=2, attempts=3, error=op.raised[1], pause=0.4),
    ]
    assert not any(failure.giving_up for failure in failures)


def test_call_reraises_the_last_error_when_the_attempts_are_spent():
    clock = FakeClock()
    failures: list[Failure] = []
    op = Flaky(10)

    with pytest.raises(Boom) as caught:
        call(op, policy(4), retry_on=always, on_failure=failures.append, sleep=clock.sleep)

    assert caught.value is op.raised[-1]
    assert str(caught.value) == "failure 4"
    assert op.calls == 4
    assert clock.sleeps == [0.2, 0.4, 0.8]
    assert [(f.attempt, f.attempts, f.pause) for f in failures] == [
        (1, 4, 0.2),
        (2, 4, 0.4),
        (3, 4, 0.8),
        (4, 4, None),
    ]
    assert failures[-1].error is op.raised[-1]
    assert failures[-1].giving_up


def test_the_reraised_error_keeps_its_traceback_from_the_operation():
    def op() -> None:
        raise Boom("deep")

    with pytest.raises(Boom) as caught:
        call(op, policy(1), retry_on=always)

    assert caught.traceback[-1].name == "op"


def test_call_gives_up_at_once_when_retry_on_says_false():
    clock = FakeClock()
    failures: list[Failure] = []
    seen: list[Exception] = []
    op = Flaky(5, error=ValueError)

    def retry_on(error: Exception) -> bool:
        seen.append(error)
        return False

    with pytest.raises(ValueError, match="failure 1"):
        call(op, policy(5), retry_on=retry_on, on_failure=failures.append, sleep=clock.sleep)

    assert op.calls == 1
    assert seen == op.raised
    assert clock.sleeps == []
    assert failures == [Failure(attempt=1, attempts=5, error=op.raised[0], pause=None)]


def test_retry_on_chooses_by_error():
    clock = FakeClock()
    errors = [Boom("transient"), Boom("transient"), KeyError("fatal"), Boom("never raised")]

    def op() -> None:
        raise errors.pop(0)

    with pytest.raises(KeyError):
        call(op, policy(10), retry_on=lambda e: isinstance(e, Boom), sleep=clock.sleep)

    assert clock.sleeps == [0.2, 0.4]
    assert len(errors) == 1


def test_a_single_attempt_is_never_retried_and_retry_on_is_not_asked():
    clock = FakeClock()
    failures: list[Failure] = []
    asked: list[Exception] = []
    op = Flaky(1)

    def retry_on(error: Exception) -> bool:
        asked.append(error)
        return True

    with pytest.raises(Boom):
        call(op, policy(1), retry_on=retry_on, on_failure=failures.append, sleep=clock.sleep)

    assert op.calls == 1
    assert asked == []
    assert clock.sleeps == []
    assert failures == [Failure(attempt=1, attempts=1, error=op.raised[0], pause=None)]


def test_retry_on_is_not_asked_after_the_last_attempt():
    asked: list[Exception] = []
    op = Flaky(5)

    def retry_on(error: Exception) -> bool:
        asked.append(error)
        return True

    with pytest.raises(Boom):
        call(op, policy(3), retry_on=retry_on, sleep=lambda s: None)

    assert asked == op.raised[:2]


@pytest.mark.parametrize("pause", [7.5, 3, 0.0, 0])
def test_retry_on_may_give_an_exact_pause(pause):
    clock = FakeClock()
    failures: list[Failure] = []
    op = Flaky(2)

    result = call(
        op, policy(3), retry_on=lambda e: pause, on_failure=failures.append, sleep=clock.sleep
    )

    assert result == "ok"
    assert clock.sleeps == [pause, pause]
    assert all(type(s) is float for s in clock.sleeps)
    assert [f.pause for f in failures] == [pause, pause]


def test_exact_pauses_and_policy_pauses_mix():
    clock = FakeClock()
    decisions: list[bool | float] = [True, 10.0, True]
    op = Flaky(3)

    call(op, policy(4), retry_on=lambda e: decisions.pop(0), sleep=clock.sleep)

    # The schedule counts failures, whatever paused the ones before.
    assert clock.sleeps == [0.2, 10.0, 0.8]


@pytest.mark.parametrize("pause", [-1.0, math.nan, math.inf])
def test_an_exact_pause_must_be_a_finite_number_of_seconds(pause):
    op = Flaky(1)

    with pytest.raises(ValueError, match="finite number >= 0") as caught:
        call(op, policy(3), retry_on=lambda e: pause, sleep=lambda s: None)

    assert caught.value.__context__ is op.raised[0]


@pytest.mark.parametrize("decision", [None, "1", [1]])
def test_retry_on_must_return_a_bool_or_a_number(decision):
    with pytest.raises(TypeError, match="bool or a number"):
        call(Flaky(1), policy(3), retry_on=lambda e: decision, sleep=lambda s: None)


def test_call_draws_the_jitter_from_rand():
    clock = FakeClock()
    draws = iter([0.0, 0.5, 0.999])

    call(
        Flaky(3),
        policy(4, 1.0, jitter=0.5),
        retry_on=always,
        sleep=clock.sleep,
        rand=lambda: next(draws),
    )

    assert clock.sleeps == pytest.approx([1.0, 2.5, 4 * 1.4995])


def test_call_gives_up_when_the_pause_would_leave_too_little_before_the_deadline():
    clock = FakeClock(now=1000.0)
    failures: list[Failure] = []
    op = Flaky(10)

    with pytest.raises(Boom) as caught:
        call(
            op,
            policy(10, 0.2, min_attempt=0.5),
            retry_on=always,
            on_failure=failures.append,
            sleep=clock.sleep,
            clock=clock,
            deadline=1001.0,
        )

    # 0.2 s leaves 0.8 s; a further 0.4 s would leave 0.4 s, less than 0.5 s.
    assert clock.sleeps == [0.2]
    assert op.calls == 2
    assert caught.value is op.raised[-1]
    assert [(f.attempt, f.pause) for f in failures] == [(1, 0.2), (2, None)]


def test_a_pause_that_leaves_exactly_min_attempt_is_taken():
    clock = FakeClock(now=0.0)
    op = Flaky(1)

    call(
        op,
        policy(3, 0.5, min_attempt=0.5),
        retry_on=always,
        sleep=clock.sleep,
        clock=clock,
        deadline=1.0,
    )

    assert clock.sleeps == [0.5]
    assert op.calls == 2


def test_the_deadline_also_bounds_exact_pauses():
    clock = FakeClock(now=0.0)
    op = Flaky(5)

    with pytest.raises(Boom):
        call(op, policy(5), retry_on=lambda e: 30.0, sleep=clock.sleep, clock=clock, deadline=10.0)

    assert clock.sleeps == []
    assert op.calls == 1


def test_a_deadline_without_min_attempt_allows_pauses_up_to_it():
    clock = FakeClock(now=0.0)
    op = Flaky(10)

    with pytest.raises(Boom):
        call(op, policy(10, 1.0), retry_on=always, sleep=clock.sleep, clock=clock, deadline=7.0)

    # 1 + 2 + 4 = 7 s; a further 8 s would pass the deadline.
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_the_clock_is_not_read_without_a_deadline():
    clock = FakeClock()

    call(Flaky(2), policy(3), retry_on=always, sleep=clock.sleep, clock=clock)

    assert clock.reads == 0


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_errors_that_are_not_exceptions_go_through_untouched(error):
    failures: list[Failure] = []
    asked: list[BaseException] = []
    calls: list[int] = []

    def op() -> None:
        calls.append(1)
        raise error()

    with pytest.raises(error):
        call(
            op,
            policy(3),
            retry_on=lambda e: asked.append(e) or True,
            on_failure=failures.append,
            sleep=lambda s: None,
        )

    assert calls == [1]
    assert asked == []
    assert failures == []


def test_an_error_in_on_failure_goes_through():
    op = Flaky(3)

    def on_failure(failure: Failure) -> None:
        raise RuntimeError("logging broke")

    with pytest.raises(RuntimeError, match="logging broke"):
        call(op, policy(3), retry_on=always, on_failure=on_failure, sleep=lambda s: None)

    assert op.calls == 1


def test_on_failure_is_called_before_the_pause():
    events: list[str] = []

    call(
        Flaky(1),
        policy(2),
        retry_on=always,
        on_failure=lambda f: events.append(f"failure {f.attempt}"),
        sleep=lambda s: events.append(f"sleep {s}"),
    )

    assert events == ["failure 1", "sleep 0.2"]


def test_call_sleeps_with_time_sleep_by_default():
    started = time.monotonic()

    assert call(Flaky(2), policy(3, 0.02), retry_on=always) == "ok"

    assert time.monotonic() - started >= 0.06  # 0.02 + 0.04 s slept, not skipped


def test_the_deadline_is_read_on_the_monotonic_clock_by_default():
    slept: list[float] = []
    spent = Flaky(10)

    with pytest.raises(Boom):
        call(spent, policy(5), retry_on=always, sleep=slept.append, deadline=time.monotonic())

    assert slept == []
    assert spent.calls == 1

    ample = time.monotonic() + 3600
    assert call(Flaky(1), policy(5), retry_on=always, sleep=slept.append, deadline=ample) == "ok"
    assert slept == [0.2]


def test_a_deadline_at_zero_on_the_clock_is_still_a_deadline():
    clock = FakeClock(now=-10.0)
    op = Flaky(10)

    with pytest.raises(Boom):
        call(op, policy(10, 4.0), retry_on=always, sleep=clock.sleep, clock=clock, deadline=0.0)

    assert clock.sleeps == [4.0]  # a further 8 s would pass the deadline


def test_call_draws_the_jitter_from_the_random_module_by_default():
    state = random.getstate()
    try:
        random.seed(11)
        expected = [0.2 * (1 + 0.5 * random.random()), 0.4 * (1 + 0.5 * random.random())]
        random.seed(11)
        slept: list[float] = []
        call(Flaky(2), policy(3, 0.2, jitter=0.5), retry_on=always, sleep=slept.append)
    finally:
        random.setstate(state)

    assert slept == expected


def test_the_reraised_error_keeps_its_own_context():
    def op() -> None:
        try:
            raise KeyError("inner")
        except KeyError:
            raise Boom("outer")  # the implicit context is what is tested

    with pytest.raises(Boom) as caught:
        call(op, policy(1), retry_on=always)

    assert isinstance(caught.value.__context__, KeyError)
    assert not caught.value.__suppress_context__


# --- acall ---------------------------------------------------------------------------------


async def test_acall_retries_with_the_policy_pauses_then_returns():
    clock = FakeClock()
    failures: list[Failure] = []
    op = Flaky(2)

    result = await acall(
        op.run, policy(3), retry_on=always, on_failure=failures.append, sleep=clock.asleep
    )

    assert result == "ok"
    assert op.calls == 3
    assert clock.sleeps == [0.2, 0.4]
    assert [(f.attempt, f.attempts, f.error, f.pause) for f in failures] == [
        (1, 3, op.raised[0], 0.2),
        (2, 3, op.raised[1], 0.4),
    ]


async def test_acall_reraises_the_last_error_and_reports_giving_up():
    clock = FakeClock()
    failures: list[Failure] = []
    op = Flaky(10)

    with pytest.raises(Boom) as caught:
        await acall(
            op.run, policy(3), retry_on=always, on_failure=failures.append, sleep=clock.asleep
        )

    assert caught.value is op.raised[-1]
    assert op.calls == 3
    assert clock.sleeps == [0.2, 0.4]
    assert [f.pause for f in failures] == [0.2, 0.4, None]


async def test_acall_makes_a_new_awaitable_for_each_attempt():
    made: list[object] = []
    op = Flaky(2)

    def factory():
        coroutine = op.run()
        made.append(coroutine)
        return coroutine

    assert await acall(factory, policy(3), retry_on=always, sleep=FakeClock().asleep) == "ok"
    assert len(made) == 3
    assert len({id(c) for c in made}) == 3


async def test_acall_takes_exact_pauses_and_gives_up_on_false():
    clock = FakeClock()
    decisions: list[bool | float] = [4.0, False]
    failures: list[Failure] = []
    op = Flaky(5)

    with pytest.raises(Boom) as caught:
        await acall(
            op.run,
            policy(5),
            retry_on=lambda e: decisions.pop(0),
            on_failure=failures.append,
            sleep=clock.asleep,
        )

    assert caught.value is op.raised[1]
    assert clock.sleeps == [4.0]
    assert [f.pause for f in failures] == [4.0, None]


async def test_acall_single_attempt():
    op = Flaky(1)
    failures: list[Failure] = []

    with pytest.raises(Boom):
        await acall(op.run, policy(1), retry_on=always, on_failure=failures.append)

    assert op.calls == 1
    assert [f.pause for f in failures] == [None]


async def test_acall_respects_the_deadline():
    clock = FakeClock(now=50.0)
    op = Flaky(10)

    with pytest.raises(Boom):
        await acall(
            op.run,
            policy(10, 0.2, min_attempt=0.5),
            retry_on=always,
            sleep=clock.asleep,
            clock=clock,
            deadline=51.0,
        )

    assert clock.sleeps == [0.2]
    assert op.calls == 2


async def test_acall_does_not_retry_a_cancellation():
    calls: list[int] = []
    failures: list[Failure] = []

    async def op() -> None:
        calls.append(1)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await acall(op, policy(3), retry_on=always, on_failure=failures.append)

    assert calls == [1]
    assert failures == []


async def test_acall_sleeps_with_asyncio_by_default():
    op = Flaky(2)
    loop = asyncio.get_running_loop()
    started = loop.time()

    assert await acall(op.run, policy(3, 0.02), retry_on=always) == "ok"

    assert loop.time() - started >= 0.05  # 0.02 + 0.04 s awaited, not skipped


async def test_a_cancelled_pause_ends_acall():
    op = Flaky(10)
    pausing = asyncio.Event()

    async def sleep(seconds: float) -> None:
        pausing.set()
        await asyncio.sleep(60)

    task = asyncio.ensure_future(acall(op.run, policy(3), retry_on=always, sleep=sleep))
    await asyncio.wait_for(pausing.wait(), 5)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert op.calls == 1
