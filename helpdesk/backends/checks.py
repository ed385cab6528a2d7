"""Argument checks shared by the backend clients (messages name the argument, not its value)."""

from __future__ import annotations

import re


def require(condition: bool, message: str) -> None:
    """Raise `ValueError(message)` when a caller passed a malformed argument.

    Messages name the argument, never its value.
    """
    if not condition:
        raise ValueError(message)


def is_digits(value: object, low: int, high: int | None = None) -> bool:
    """True if `value` is a string of `low` to `high` ASCII digits (exactly `low` by default)."""
    if not isinstance(value, str):
        return False
    high = low if high is None else high
    return re.fullmatch(f"[0-9]{{{low},{high}}}", value) is not None
