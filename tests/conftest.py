"""Fixtures shared by every test folder: a migrated ticket store per test.

The store is SQLite by default. `pytest --db=postgres` (as `make test-postgres` runs) gives each
test its own PostgreSQL database instead, copied from a template migrated once per session, on
the server `HELPDESK_TEST_POSTGRES_URL` names (`scripts/engines.py up` starts one).
"""

from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from helpdesk.storage.db import make_engine, make_session_factory, upgrade
from tests.support.postgres import drop_database, run_autocommit

POSTGRES_URL_ENV = "HELPDESK_TEST_POSTGRES_URL"
TEMPLATE_DATABASE = "helpdesk_test_template"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help=f"store behind the db_url fixture (postgres: the server in ${POSTGRES_URL_ENV})",
    )


def _admin_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.exit(
            f"--db=postgres needs {POSTGRES_URL_ENV}: run `make engines` "
            "(or `eval $(.venv/bin/python scripts/engines.py env)`)",
            returncode=2,
        )
    return url


@pytest.fixture(scope="session")
def postgres_template(request) -> str | None:
    """The name of a PostgreSQL database migrated to head, made once per session."""
    if request.config.getoption("--db") != "postgres":
        return None
    admin = _admin_url()
    engine = create_engine(admin, future=True)
    # Databases left behind by a run that was killed (one test run per server at a time).
    with engine.connect() as connection:
        stale = connection.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'helpdesk\\_test\\_%'")
        ).scalars()
        statements = [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)" for name in stale]
    engine.dispose()
    run_autocommit(admin, *statements, f"CREATE DATABASE {TEMPLATE_DATABASE}")
    url = make_url(admin).set(database=TEMPLATE_DATABASE)
    upgrade(url.render_as_string(hide_password=False))
    return TEMPLATE_DATABASE


@pytest.fixture
def db_url(request, tmp_path, postgres_template) -> Iterator[str]:
    if postgres_template is None:
        yield f"sqlite:///{tmp_path / 'var' / 'helpdesk.db'}"
        return
    admin = _admin_url()
    name = f"helpdesk_test_{secrets.token_hex(6)}"
    run_autocommit(admin, f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)


@pytest.fixture
def engine(db_url) -> Engine:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine) -> sessionmaker:
    return make_session_factory(engine)
