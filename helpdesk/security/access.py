"""Who may call an endpoint: bearer tokens compared in constant time, loopback addresses.

Shared by the REST channel (`connectors.rest`: a token, or loopback callers only) and every
process's `/metrics` (`helpdesk.metrics.scrape_allowed`).
"""

from __future__ import annotations

import hmac
import ipaddress


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other header."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_matches(given: str | None, expected: str) -> bool:
    """Whether `given` is `expected`, compared in constant time (False when either is empty)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def is_loopback(ip: str | None) -> bool:
    """Whether a client address is on the loopback interface (127.0.0.0/8, ::1, and
    IPv4-mapped 127.x); False for anything unparsable, an empty address included."""
    try:
        address = ipaddress.ip_address((ip or "").strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
