"""Fixtures shared by every test folder: a migrated SQLite ticket store per test."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from helpdesk.storage.db import make_engine, make_session_factory, upgrade


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'helpdesk.db'}"


@pytest.fixture
def engine(db_url) -> Engine:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine) -> sessionmaker:
    return make_session_factory(engine)
