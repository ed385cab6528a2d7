"""One leader among several processes for work that must run once (the desk worker).

Two implementations, picked by the store the processes share (`leadership_for`):

* `PostgresLeadership`: a session-level advisory lock (`pg_try_advisory_lock`) held on a
  dedicated connection. When the leader dies, even by `kill -9`, PostgreSQL closes its
  connection and frees the lock at once; the next `acquire()` of another process takes it.
* `FileLeadership` (SQLite, so every process is on this machine): an exclusive `flock` on a file
  beside the database, which the kernel frees when the holder dies.

`acquire()` is called before each round of work: it takes the lock when free, and for the
holder it checks that the lock is still held (a PostgreSQL restart or a dropped connection
loses it, and the process stops leading until it takes it again).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)


class Leadership(Protocol):
    """Who leads a named piece of work."""

    name: str

    def acquire(self) -> bool:
        """Take (or keep) the lead; True while this process leads."""
        ...

    def release(self) -> None:
        """Give the lead up (on a clean stop)."""
        ...


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name`."""
    digest = hashlib.sha256(f"helpdesk-leader:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLeadership:
    """The lead is a PostgreSQL session advisory lock on a connection of its own."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self._key = _lock_key(name)
        self._engine = create_engine(
            url, future=True, poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        self._connection: Any = None

    def acquire(self) -> bool:
        if self._connection is not None:
            try:
                held = self._connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND pid = pg_backend_pid() AND granted AND objsubid = 1 "
                        "AND classid::bigint = :high AND objid::bigint = :low"
                    ),
                    {"high": (self._key >> 32) & 0xFFFFFFFF, "low": self._key & 0xFFFFFFFF},
                ).scalar()
                if held:
                    return True
                logger.warning("leader %s: the lock is no longer held", self.name)
            except DBAPIError as exc:
                logger.warning("leader %s: lost the database connection: %s", self.name, exc)
            self._close()
        try:
            connection = self._engine.connect()
        except DBAPIError as exc:
            logger.warning("leader %s: cannot reach the database: %s", self.name, exc)
            return False
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            ).scalar()
        except DBAPIError as exc:
            logger.warning("leader %s: could not ask for the lock: %s", self.name, exc)
            connection.close()
            return False
        if not got:
            connection.close()
            return False
        self._connection = connection
        logger.info("leader %s: this process leads", self.name)
        return True

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.close()
            self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self._key}
                )
        self._close()
        self._engine.dispose()


class FileLeadership:
    """The lead is an exclusive `flock` on `path` (processes on one machine)."""

    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        logger.info("leader %s: this process leads (%s)", self.name, self.path)
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def leadership_for(database_url: str, name: str, var_dir: Path) -> Leadership:
    """The leadership the processes sharing `database_url` agree on, for the work `name`.

    PostgreSQL: an advisory lock on that server. Anything else (SQLite): a lock file next to
    the database file, else in `var_dir`.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLeadership(database_url, name)
    database = url.database or ""
    folder = Path(database).expanduser().resolve().parent if database else var_dir
    if database in ("", ":memory:"):
        folder = var_dir
    return FileLeadership(folder / f"{name}.leader.lock", name)
