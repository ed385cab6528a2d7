"""Alembic environment of the helpdesk store.

Used two ways: programmatically by `helpdesk.storage.db.upgrade`, which passes an open
connection in `config.attributes["connection"]`, and from the command line
(`alembic -c helpdesk/storage/alembic.ini upgrade head`), which connects to
`sqlalchemy.url` or, when that is unset, to the configured helpdesk database.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from helpdesk.storage.models import metadata

config = context.config
target_metadata = metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from helpdesk.settings import get_settings

    return get_settings().effective_database_url


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit the migration as SQL text (`alembic upgrade head --sql`)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the connection given by the caller, or over a new one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    if config.config_file_name is not None and not config.attributes.get("skip_logging"):
        fileConfig(config.config_file_name, disable_existing_loggers=False)

    from helpdesk.storage.db import make_engine

    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
