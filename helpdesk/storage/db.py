"""Engine, sessions and schema migration of the helpdesk store.

The default store is an embedded SQLite file under `var/`; a Postgres URL works the same.
Nothing here runs at import time: callers build the engine and session factory once and
pass them in.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar, Union

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool, StaticPool

from helpdesk import retry
from helpdesk.retry import Backoff, Failure, RetryPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")

STORAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = STORAGE_DIR / "migrations"
ALEMBIC_INI = STORAGE_DIR / "alembic.ini"

#: How long a SQLite connection waits for another writer's lock, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 5000
#: How long the migrating connection waits for another migrating process, in milliseconds.
SQLITE_UPGRADE_BUSY_TIMEOUT_MS = 60000
#: Arbitrary constant for the Postgres advisory lock that serialises migrations.
PG_MIGRATION_LOCK_ID = 7_402_113_551
#: Up to this fraction is added at random to each pause of `retry_on_locked`, so that
#: writers that collided do not all come back at the same moment.
LOCKED_JITTER = 0.5


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or database.startswith("file::memory:")


def _ensure_parent_dir(url: URL) -> None:
    if _is_sqlite(url) and not _is_memory(url):
        Path(url.database or "").expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int, *, wal: bool) -> None:
    """Set busy timeout, WAL journal and foreign keys on every new SQLite connection."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                try:
                    cursor.execute("PRAGMA journal_mode = WAL")
                except Exception as exc:  # another process is switching it right now
                    logger.debug("could not switch SQLite to WAL yet: %s", exc)
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()


def make_engine(url: str, *, future: bool = True) -> Engine:
    """Create the SQLAlchemy engine for `url` (SQLAlchemy 2.0-style unless `future` is false,
    as Rasa's own tracker store code needs: components/tracker_store.py).

    For SQLite files the parent folder is created, connections may be shared across
    threads, the journal is WAL (readers do not block the writer), a writer waits up to
    five seconds for another writer's lock, and foreign keys are enforced. An in-memory
    SQLite URL (`sqlite://`) gives one shared connection, handy in tests.

    Args:
        url: A SQLAlchemy database URL, e.g. `sqlite:///var/helpdesk.db`.

    Returns:
        The engine.
    """
    parsed = make_url(url)
    if not _is_sqlite(parsed):
        return create_engine(parsed, future=future, pool_pre_ping=True)
    _ensure_parent_dir(parsed)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    memory = _is_memory(parsed)
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        # SQLAlchemy 1.4 opens a new SQLite connection per checkout (NullPool) and runs the
        # pragmas each time; a small pool keeps connections open (as SQLAlchemy 2.0 does).
        kwargs.update(poolclass=QueuePool, pool_size=5, max_overflow=10)
    engine = create_engine(parsed, future=future, **kwargs)
    _install_sqlite_pragmas(engine, SQLITE_BUSY_TIMEOUT_MS, wal=not memory)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker:
    """A session factory bound to `engine` (`future=True`, objects stay usable after commit)."""
    return sessionmaker(bind=engine, future=True, expire_on_commit=False)


@contextmanager
def session_scope(factory: Callable[[], Session]) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping_database(factory: Callable[[], Session]) -> str:
    """Read the schema revision: proves the store is reachable and migrated.

    Returns:
        The Alembic revision the database is at.

    Raises:
        RuntimeError: When the database has no schema revision (never migrated).
        sqlalchemy.exc.SQLAlchemyError: When the database cannot be reached or read.
    """
    with session_scope(factory) as session:
        revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if not revision:
        raise RuntimeError("the database has no schema revision")
    return str(revision)


def is_database_locked(exc: BaseException) -> bool:
    """True when `exc` is SQLite's transient "database is locked"/"busy" error."""
    if not isinstance(exc, OperationalError):
        return False
    message = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in message or "database is busy" in message


def retry_on_locked(
    operation: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `operation`, retrying with exponential backoff while SQLite reports a lock.

    The operation must be a whole unit of work (its own session), so a retry repeats it
    from the start and nothing is lost or written twice.

    Args:
        operation: The unit of work.
        attempts: How many times to try in total.
        base_delay: The first pause in seconds; it doubles on every retry (with jitter).
        sleep: The sleep function (injected in tests).

    Returns:
        What `operation` returns.

    Raises:
        OperationalError: When the database is still locked after the last attempt, or for
            any other operational error at once.
        ValueError: If `attempts` is below 1 or `base_delay` is negative.
    """
    policy = RetryPolicy(attempts=attempts, backoff=Backoff(base_delay, jitter=LOCKED_JITTER))
    return retry.call(
        operation,
        policy,
        retry_on=is_database_locked,
        on_failure=_log_locked,
        sleep=sleep,
    )


def _log_locked(failure: Failure) -> None:
    if failure.pause is not None:
        logger.warning(
            "database is locked (attempt %d/%d); retrying in %.2f s",
            failure.attempt,
            failure.attempts,
            failure.pause,
        )


def alembic_config(url: str | None = None) -> Any:
    """The Alembic configuration of the helpdesk store (from `helpdesk/storage/alembic.ini`)."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _migration_engine(url: URL) -> Engine:
    """An engine for migrating: SQLite takes the write lock at BEGIN (BEGIN IMMEDIATE)."""
    if not _is_sqlite(url):
        return create_engine(url, future=True, poolclass=NullPool)
    _ensure_parent_dir(url)
    engine = create_engine(
        url,
        future=True,
        poolclass=NullPool,
        connect_args={"check_same_thread": False, "isolation_level": None},
    )
    _install_sqlite_pragmas(engine, SQLITE_UPGRADE_BUSY_TIMEOUT_MS, wal=True)

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _upgrade_once(engine: Engine) -> None:
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK_ID}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision among the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(url: Union[str, Engine], *, attempts: int = 3) -> None:
    """Migrate the database at `url` to the newest schema (`alembic upgrade head`).

    Idempotent, and safe when several processes start at once: on SQLite the migration runs
    in one `BEGIN IMMEDIATE` transaction, so a second process waits for the first and then
    finds the schema current; on Postgres an advisory lock does the same. A residual race
    ("table already exists", "database is locked") is retried after re-checking the revision.

    Args:
        url: A database URL, or an engine (e.g. an in-memory SQLite engine in tests).
        attempts: How many times to try before giving up.
    """
    if isinstance(url, Engine):
        engine, owned = url, False
    else:
        engine, owned = _migration_engine(make_url(url)), True
    try:
        head = head_revision()
        for attempt in range(1, attempts + 1):
            try:
                _upgrade_once(engine)
                return
            except OperationalError as exc:
                message = str(getattr(exc, "orig", exc)).lower()
                transient = "already exists" in message or is_database_locked(exc)
                if not transient:
                    raise
                if current_revision(engine) == head:
                    logger.info("schema already migrated by another process")
                    return
                if attempt == attempts:
                    raise
                logger.warning("migration raced another process (%s); retrying", message)
                time.sleep(0.2 * attempt)
    finally:
        if owned:
            engine.dispose()
