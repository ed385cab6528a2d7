"""The agent desk: users, sessions, divisions, canned responses, contacts, settings; handoffs
queued, assigned and ended; agents' replies (outbox); agent ratings linked to their handoff.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _utc_datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "division",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_division")),
        sa.UniqueConstraint("name", name=op.f("uq_division_name")),
    )
    op.create_table(
        "desk_user",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("division_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("online", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("max_conversations", sa.Integer(), nullable=False),
        sa.Column("last_assigned_at", _utc_datetime(), nullable=True),
        sa.Column("last_seen_at", _utc_datetime(), nullable=True),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('agent', 'supervisor', 'admin')", name=op.f("ck_desk_user_role_valid")
        ),
        sa.CheckConstraint(
            "max_conversations >= 1", name=op.f("ck_desk_user_max_conversations_positive")
        ),
        sa.ForeignKeyConstraint(
            ["division_id"],
            ["division.id"],
            name=op.f("fk_desk_user_division_id_division"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_user")),
        sa.UniqueConstraint("username", name=op.f("uq_desk_user_username")),
    )
    op.create_table(
        "desk_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("last_seen_at", _utc_datetime(), nullable=False),
        sa.Column("expires_at", _utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["desk_user.id"],
            name=op.f("fk_desk_session_user_id_desk_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_session")),
    )
    op.create_index(op.f("ix_desk_session_expires_at"), "desk_session", ["expires_at"])
    op.create_table(
        "canned_response",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_response")),
    )
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint("sender_id", name=op.f("uq_contact_sender_id")),
    )
    op.create_table(
        "desk_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_desk_setting")),
    )
    with op.batch_alter_table("handoff") as batch:
        batch.add_column(sa.Column("name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("question", sa.Text(), nullable=True))
        batch.add_column(sa.Column("category", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("division_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("since_ts", sa.Float(), nullable=True))
        batch.add_column(sa.Column("ticket_id", sa.String(length=15), nullable=True))
        batch.add_column(sa.Column("assigned_at", _utc_datetime(), nullable=True))
        batch.add_column(sa.Column("first_response_at", _utc_datetime(), nullable=True))
        batch.add_column(sa.Column("ended_at", _utc_datetime(), nullable=True))
        batch.add_column(sa.Column("bot_resumed_at", _utc_datetime(), nullable=True))
        batch.add_column(
            sa.Column("resume_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.create_foreign_key(
            op.f("fk_handoff_division_id_division"),
            "division",
            ["division_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            op.f("fk_handoff_agent_id_desk_user"),
            "desk_user",
            ["agent_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_check_constraint(
            op.f("ck_handoff_status_valid"),
            "status IN ('waiting', 'assigned', 'resolved', 'cancelled', 'expired')",
        )
        batch.create_index(op.f("ix_handoff_status"), ["status"])
    op.create_table(
        "handoff_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("sent_at", _utc_datetime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_handoff_message_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoff.id"],
            name=op.f("fk_handoff_message_handoff_id_handoff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["desk_user.id"],
            name=op.f("fk_handoff_message_agent_id_desk_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_message")),
    )
    op.create_index(op.f("ix_handoff_message_status"), "handoff_message", ["status"])
    with op.batch_alter_table("csat_rating") as batch:
        batch.add_column(sa.Column("handoff_id", sa.Integer(), nullable=True))
        batch.create_index(op.f("ix_csat_rating_handoff_id"), ["handoff_id"])


def downgrade() -> None:
    with op.batch_alter_table("csat_rating") as batch:
        batch.drop_index(op.f("ix_csat_rating_handoff_id"))
        batch.drop_column("handoff_id")
    op.drop_index(op.f("ix_handoff_message_status"), table_name="handoff_message")
    op.drop_table("handoff_message")
    with op.batch_alter_table("handoff") as batch:
        batch.drop_index(op.f("ix_handoff_status"))
        batch.drop_constraint(op.f("ck_handoff_status_valid"), type_="check")
        batch.drop_constraint(op.f("fk_handoff_agent_id_desk_user"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_handoff_division_id_division"), type_="foreignkey")
        for column in (
            "resume_attempts",
            "bot_resumed_at",
            "ended_at",
            "first_response_at",
            "assigned_at",
            "ticket_id",
            "since_ts",
            "agent_id",
            "division_id",
            "category",
            "question",
            "name",
        ):
            batch.drop_column(column)
    op.drop_table("desk_setting")
    op.drop_table("contact")
    op.drop_table("canned_response")
    op.drop_index(op.f("ix_desk_session_expires_at"), table_name="desk_session")
    op.drop_table("desk_session")
    op.drop_table("desk_user")
    op.drop_table("division")
