"""Desk login throttling: per account and address, per address (sprays), per account, shared by
every desk process through the database; the owner's own browser is never locked out by
others' failures (OWASP device cookies)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from uuid import uuid4

import pytest
from yarl import URL

from helpdesk.desk.app import create_app
from helpdesk.desk.auth import DEVICE_COOKIE, SESSION_COOKIE, DeskConfig
from helpdesk.desk.throttle import LoginThrottle, wait_label
from helpdesk.security.ratelimit import RateLimiter
from helpdesk.storage.desk_sessions import TrustedDeviceRepository
from helpdesk.storage.desk_users import DeskUserRepository
from helpdesk.storage.ratelimits import RateLimitRepository
from tests.unit.desk.conftest import PASSWORD, FakeRelay

WRONG = "sandi-yang-salah-1"

#: Small limits, so a test needs few (slow, on purpose) password checks.
CONFIG = DeskConfig(
    login_max_failures=3,
    login_lockout_seconds=900,
    login_max_failures_per_source=5,
    login_max_failures_per_account=4,
)


@pytest.fixture
def desk_app(services):
    """The desk app with the small limits above (the `desk` fixture serves it)."""
    return create_app(services, relay=FakeRelay(), name=f"desk_{uuid4().hex[:12]}", config=CONFIG)


class Clock:
    def __init__(self, now: float = 1_776_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(session_factory, clock) -> LoginThrottle:
    limiter = RateLimiter(RateLimitRepository(session_factory), clock=clock)
    return LoginThrottle.from_config(CONFIG, limiter)


# -- through the login form -------------------------------------------------------------------


async def test_a_password_spray_across_user_names_is_paused_per_address(desk, make_user):
    victim = make_user("admin")
    sprayer = await desk.client()
    for n in range(5):  # one guess for each of five user names, some of them real
        name = make_user("agent").username if n % 2 else f"tebakan{n}"
        assert (await sprayer.login(name, WRONG)).status == 401

    page = await sprayer.login(victim.username, PASSWORD)  # even the right password waits

    assert page.status == 429
    assert "Terlalu banyak percobaan masuk" in page.text
    wait = int(page.headers["Retry-After"])
    assert wait > 0
    # The page names the wait; under a minute when the failures fell late in the window.
    assert wait_label(wait) in page.text
    assert sprayer.cookie(SESSION_COOKIE) is None


async def test_the_owners_browser_logs_in_during_a_lockout_caused_by_others(desk, make_user):
    owner = make_user("agent")
    browser = await desk.client()
    assert (await browser.login(owner.username)).status == 303  # the owner's usual browser
    assert browser.cookie(DEVICE_COOKIE)
    await browser.logout()
    attacker = await desk.client()  # same address (127.0.0.1), no device cookie
    for _ in range(3):
        assert (await attacker.login(owner.username, WRONG)).status == 401
    assert (await attacker.login(owner.username, PASSWORD)).status == 429

    page = await browser.login(owner.username)

    assert page.status == 303
    assert browser.cookie(SESSION_COOKIE)
    assert (await attacker.login(owner.username, PASSWORD)).status == 429  # still paused


async def test_a_trusted_browser_still_gets_only_a_few_guesses(desk, make_user):
    owner = make_user("agent")
    browser = await desk.client()
    assert (await browser.login(owner.username)).status == 303
    await browser.logout()
    for _ in range(3):
        assert (await browser.login(owner.username, WRONG)).status == 401
    assert (await browser.login(owner.username, PASSWORD)).status == 429


async def test_a_device_cookie_counts_only_for_its_own_user(desk, make_user):
    owner, other = make_user("agent"), make_user("agent")
    browser = await desk.client()
    assert (await browser.login(owner.username)).status == 303
    await browser.logout()
    attacker = await desk.client()
    for _ in range(3):
        assert (await attacker.login(other.username, WRONG)).status == 401
    # The owner's browser cookie does not vouch for another account.
    assert (await browser.login(other.username, PASSWORD)).status == 429
    forged = await desk.client()
    forged.http.cookie_jar.update_cookies({DEVICE_COOKIE: "tebakan-token"}, URL(desk.url))
    assert (await forged.login(other.username, PASSWORD)).status == 429


_OTHER_DESK_PROCESS = textwrap.dedent(
    """
    import sys
    from helpdesk.desk.auth import DeskConfig
    from helpdesk.desk.throttle import LoginThrottle, wait_label
    from helpdesk.security.ratelimit import RateLimiter
    from helpdesk.storage.db import make_engine, make_session_factory
    from helpdesk.storage.ratelimits import RateLimitRepository

    url, command, username = sys.argv[1:4]
    config = DeskConfig(login_max_failures=3, login_lockout_seconds=900)
    limiter = RateLimiter(RateLimitRepository(make_session_factory(make_engine(url))))
    throttle = LoginThrottle.from_config(config, limiter)
    if command == "fail":
        for _ in range(3):
            throttle.record_failure(username, "127.0.0.1")
    print(round(throttle.retry_after(username, "127.0.0.1")))
    """
)


def other_desk_process(db_url: str, command: str, username: str) -> int:
    """Another desk process on the same database: `fail` three times, or only `check`."""
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_DESK_PROCESS, db_url, command, username],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout.strip())


async def test_failures_are_shared_by_desk_processes_and_survive_a_restart(desk, make_user, db_url):
    first, second = make_user("agent"), make_user("agent")
    client = await desk.client()
    for _ in range(3):
        assert (await client.login(first.username, WRONG)).status == 401
    # Another process (or this desk after a restart) sees those failures.
    assert other_desk_process(db_url, "check", first.username) > 0
    # Failures counted by another process pause this one.
    assert other_desk_process(db_url, "fail", second.username) > 0
    assert (await client.login(second.username, PASSWORD)).status == 429


async def test_a_password_reset_forgets_the_trusted_browsers(desk, make_user, services):
    owner = make_user("agent")
    browser = await desk.client()
    assert (await browser.login(owner.username)).status == 303
    devices = TrustedDeviceRepository(services.session_factory)
    token = browser.cookie(DEVICE_COOKIE)
    assert devices.device_of(token, owner.id) is not None

    DeskUserRepository(services.session_factory).set_password(owner.id, "$argon2id$lain")

    assert devices.device_of(token, owner.id) is None


# -- the throttle's rules ---------------------------------------------------------------------


def test_unknown_browsers_are_paused_per_account_across_addresses(throttle):
    for n in range(4):  # guesses spread over four addresses, below each address's limits
        assert throttle.retry_after("Budi", f"10.0.0.{n}") == 0
        throttle.record_failure("budi", f"10.0.0.{n}")
    assert throttle.retry_after("budi", "10.0.0.99") > 0  # a fifth address waits too
    assert throttle.retry_after("siti", "10.0.0.99") == 0
    assert throttle.retry_after("BUDI", "10.0.0.99", device="owner-browser") == 0


def test_the_pause_ends_when_the_failures_age_out(throttle, clock):
    for _ in range(3):
        throttle.record_failure("budi", "10.0.0.1")
    wait = throttle.retry_after("budi", "10.0.0.1")
    assert 0 < wait <= 2 * 900
    assert throttle.retry_after("budi", "10.0.0.2") == 0  # another address
    clock.now += wait + 1
    assert throttle.retry_after("budi", "10.0.0.1") == 0


def test_a_success_forgets_only_its_own_failures(throttle):
    for _ in range(2):
        throttle.record_failure("budi", "10.0.0.1")
    throttle.reset("budi", "10.0.0.1")  # budi logged in from there
    throttle.record_failure("budi", "10.0.0.1")
    assert throttle.retry_after("budi", "10.0.0.1") == 0  # 1 since the success (limit 3)
    throttle.record_failure("budi", "10.0.0.7")
    # The account's total from every address is kept across the success: 4 >= 4.
    assert throttle.retry_after("budi", "10.0.0.8") > 0


def test_a_throttle_without_a_limiter_fails_loudly():
    with pytest.raises(RuntimeError):
        LoginThrottle().retry_after("budi", "10.0.0.1")
