"""The agent desk's login throttle.

Failed logins are throttled by `LoginThrottle` on the shared, database-backed rate limiter
(`helpdesk.security.ratelimit`), so every desk process counts together and a restart forgets
nothing:
per account and address, per address (a password spray across user names) and per account
(guessing from many addresses). A browser that logged in as the user before (the `desk_device`
cookie) is counted on its own, so others' failures never lock it out.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sanic import Request

from helpdesk.security.ratelimit import Rule
from helpdesk.storage.desk_users import normalise_username

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.desk.auth import DeskConfig
    from helpdesk.security.ratelimit import RateLimiter


def wait_label(seconds: float) -> str:
    """A wait in Indonesian: "45 detik", "15 menit"."""
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} detik"
    return f"{math.ceil(seconds / 60)} menit"


class LoginThrottle:
    """Pauses logins after failures, counted in the database for every desk process.

    Following OWASP's guidance against both guessing and lockout abuse:

    - an unknown browser is checked against three rules: failures of this account from this
      address (`max_failures`), failures from this address for any user name (a password
      spray, `max_failures_per_source`) and failures of this account from any address
      (guessing spread over many addresses, `max_failures_per_account`);
    - a browser the account's owner logged in with before (a valid `desk_device` cookie for
      that account) is checked only against its own failures (`max_failures`): failures of an
      attacker, even one behind the same address, never lock the owner out, while a stolen
      device cookie still allows only a few guesses.

    Failures are counted in a sliding window of `lockout_seconds`; a pause ends when enough of
    them have aged out of it, never later than one window after the last failure. A
    successful login forgets the failures of its own account and address (or browser), not
    the address's or the account's totals, which others may have caused.

    Args:
        max_failures: Failures per account and address (or trusted browser).
        lockout_seconds: Length of the sliding window.
        limiter: The shared rate limiter; the desk attaches its services' one on first use
            when none is given (`login_throttle`).
        max_failures_per_source: Failures per address, all user names together.
        max_failures_per_account: Failures per account from unknown browsers.
    """

    def __init__(
        self,
        max_failures: int = 5,
        lockout_seconds: float = 900.0,
        *,
        limiter: "RateLimiter | None" = None,
        max_failures_per_source: int = 30,
        max_failures_per_account: int = 10,
    ) -> None:
        window = max(1, int(lockout_seconds))
        self.limiter = limiter
        self.pair_rule = Rule("login_account_source", max_failures, window)
        self.source_rule = Rule("login_source", max_failures_per_source, window)
        self.account_rule = Rule("login_account", max_failures_per_account, window)

    @classmethod
    def from_config(cls, config: DeskConfig, limiter: "RateLimiter") -> "LoginThrottle":
        """The throttle of a desk configured so, on the shared limiter."""
        return cls(
            config.login_max_failures,
            config.login_lockout_seconds,
            limiter=limiter,
            max_failures_per_source=config.login_max_failures_per_source,
            max_failures_per_account=config.login_max_failures_per_account,
        )

    def _limiter(self) -> "RateLimiter":
        if self.limiter is None:
            raise RuntimeError("LoginThrottle has no rate limiter (use login_throttle(request))")
        return self.limiter

    def _rules(self, username: str, source: str, device: str | None) -> list[tuple[Rule, str]]:
        account = normalise_username(username)
        if device:
            return [(self.pair_rule, f"{account}\x00device\x00{device}")]
        return [
            (self.pair_rule, f"{account}\x00address\x00{source}"),
            (self.source_rule, source),
            (self.account_rule, account),
        ]

    def retry_after(self, username: str, source: str, device: str | None = None) -> float:
        """Seconds to wait before the next attempt; 0 when an attempt is allowed.

        Args:
            username: The user name typed (any case).
            source: The client's address.
            device: The trusted browser's id when the attempt comes from one for this account
                (`TrustedDeviceRepository.device_of`), else None.
        """
        limiter = self._limiter()
        waits = [limiter.peek(rule, key) for rule, key in self._rules(username, source, device)]
        return max((d.retry_after for d in waits if not d.allowed), default=0.0)

    def record_failure(self, username: str, source: str, device: str | None = None) -> None:
        """Count one failed attempt under every rule that applies to it."""
        limiter = self._limiter()
        for rule, key in self._rules(username, source, device):
            limiter.add(rule, key)

    def reset(self, username: str, source: str, device: str | None = None) -> None:
        """After a successful login: forget this account's failures from this address (or
        browser). The totals per address and per account are left to age out."""
        rule, key = self._rules(username, source, device)[0]
        self._limiter().reset(rule, key)


def login_throttle(request: Request) -> LoginThrottle:
    """The desk's login throttle, on its services' shared rate limiter."""
    ctx = request.app.ctx
    throttle = getattr(ctx, "login_throttle", None)
    if not isinstance(throttle, LoginThrottle) or throttle.limiter is None:
        throttle = LoginThrottle.from_config(ctx.desk_config, ctx.services.rate_limiter)
        ctx.login_throttle = throttle
    return throttle


def client_address(request: Request) -> str:
    """The client's address: the one a trusted proxy forwarded (Sanic's `PROXIES_COUNT` /
    `REAL_IP_HEADER`, e.g. `SANIC_PROXIES_COUNT=1` behind nginx), else the peer's."""
    return request.remote_addr or request.ip or "-"
