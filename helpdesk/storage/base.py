"""Repositories: the only code that reads and writes the helpdesk tables.

Each method is one unit of work in its own session. Write paths retry SQLite's transient
"database is locked" error with backoff, so a busy moment loses nothing. Results going
upward are plain frozen dataclasses, never ORM objects bound to a session.

There is one repository module per table group in `helpdesk.storage` (tickets, feedback,
conversations, inbound_messages, idle_closures, handoffs, desk_users, ...); this module holds
what they share: the session factory's type, the base class and the timezone check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session

SessionFactory = Callable[[], Session]


def _check_aware(value: datetime | None, name: str) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


class _Repository:
    """Base of the repositories: each unit of work opens its own session from the factory."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory
