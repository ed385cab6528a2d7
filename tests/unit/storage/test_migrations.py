"""The hand-written migration matches the models; times come back timezone-aware UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError

from helpdesk.storage.db import alembic_config, make_engine, session_scope, upgrade
from helpdesk.storage.models import CsatRating, Ticket, metadata

TABLES = {"ticket", "csat_rating", "question_log", "conversation", "handoff"}


def test_upgrade_head_on_empty_sqlite_matches_models(engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_models_cover_every_migrated_table(engine) -> None:
    migrated = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert migrated == set(metadata.tables)


def test_downgrade_to_base_and_upgrade_again(db_url) -> None:
    url = db_url
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_datetimes_are_stored_utc_and_read_back_aware(session_factory, engine) -> None:
    wib = datetime(2026, 4, 14, 6, 30, tzinfo=ZoneInfo("Asia/Jakarta"))
    with session_scope(session_factory) as session:
        session.add(
            Ticket(
                id="20260414-ABCDEF",
                subject="s",
                chronology="c",
                email="a@contoh.go.id",
                status="open",
                created_at=wib,
                updated_at=wib,
            )
        )
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT created_at FROM ticket")).scalar_one()
    assert str(raw).startswith("2026-04-13 23:30:00")
    with session_scope(session_factory) as session:
        row = session.get(Ticket, "20260414-ABCDEF")
        assert row.created_at == wib
        assert row.created_at.utcoffset() == timedelta(0)
        assert row.created_at.tzinfo is timezone.utc


def test_naive_datetime_is_refused(session_factory) -> None:
    with pytest.raises(StatementError), session_scope(session_factory) as session:
        session.add(
            CsatRating(sender_id="x", rating=3, kind="faq", created_at=datetime(2026, 1, 1))
        )
        session.flush()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO csat_rating (sender_id, rating, kind, created_at) "
        "VALUES ('x', 6, 'faq', '2026-01-01')",
        "INSERT INTO csat_rating (sender_id, rating, kind, created_at) "
        "VALUES ('x', 3, 'other', '2026-01-01')",
        "INSERT INTO ticket (id, subject, chronology, email, status, created_at, updated_at) "
        "VALUES ('20260101-AAAAAA', 's', 'c', 'e', 'lost', '2026-01-01', '2026-01-01')",
    ],
)
def test_check_constraints_hold_in_the_database(engine, sql: str) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql(sql)


def test_0005_gives_tickets_from_handoffs_their_division_and_agent(db_url) -> None:
    url = db_url
    engine = make_engine(url)
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "base")  # a Postgres test database starts migrated
        command.upgrade(config, "0004")
        now = "2026-04-14 02:00:00"
        conn.exec_driver_sql(
            "INSERT INTO division (id, name, categories, created_at) "
            f"VALUES (7, 'Tim SAKTI', 'SAKTI', '{now}')"
        )
        for ticket_id in ("20260414-HANDOF", "20260414-FORMAA"):
            conn.exec_driver_sql(
                "INSERT INTO ticket (id, subject, chronology, status, created_at, updated_at) "
                f"VALUES ('{ticket_id}', 's', 'c', 'open', '{now}', '{now}')"
            )
        conn.exec_driver_sql(
            "INSERT INTO handoff (sender_id, status, division_id, ticket_id, created_at, "
            f"updated_at) VALUES ('628123', 'expired', 7, '20260414-HANDOF', '{now}', '{now}')"
        )
    upgrade(url)
    with engine.connect() as conn:
        rows = dict(
            conn.exec_driver_sql("SELECT id, division_id FROM ticket ORDER BY id").fetchall()
        )
    assert rows == {"20260414-FORMAA": None, "20260414-HANDOF": 7}
    engine.dispose()
