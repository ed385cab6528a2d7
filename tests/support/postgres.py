"""PostgreSQL helpers for the tests: statements outside a transaction, and dropping a test
database whose sessions may still be closing (pytest's fixtures and `Stack` both use them)."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError


def run_autocommit(url: str, *statements: str) -> None:
    """Runs `statements` on `url` outside a transaction (CREATE / DROP DATABASE need it)."""
    engine = create_engine(url, future=True, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def drop_database(admin_url: str, name: str, attempts: int = 3) -> None:
    """Drops `name`, ending its sessions; retried while a session is still closing.

    Raises:
        DBAPIError: the last attempt's error.
    """
    for attempt in range(attempts):
        try:
            run_autocommit(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
