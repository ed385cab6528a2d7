"""Initial schema: ticket, csat_rating, question_log, conversation, handoff.

Revision ID: 0001
Revises:
Create Date: 2026-04-14 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc_datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ticket",
        sa.Column("id", sa.String(length=15), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("chronology", sa.Text(), nullable=False),
        sa.Column("attachment", sa.String(length=1024), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("public_reply", sa.Text(), nullable=True),
        sa.Column("sender_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'resolved', 'closed')",
            name=op.f("ck_ticket_status_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
    )
    op.create_index(op.f("ix_ticket_sender_id"), "ticket", ["sender_id"])
    op.create_index(op.f("ix_ticket_created_at"), "ticket", ["created_at"])

    op.create_table(
        "csat_rating",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("faq_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.CheckConstraint("rating >= 1 AND rating <= 5", name=op.f("ck_csat_rating_rating_range")),
        sa.CheckConstraint("kind IN ('faq', 'agent')", name=op.f("ck_csat_rating_kind_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_rating")),
    )
    op.create_index(op.f("ix_csat_rating_sender_id"), "csat_rating", ["sender_id"])
    op.create_index(op.f("ix_csat_rating_created_at"), "csat_rating", ["created_at"])

    op.create_table(
        "question_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answered", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("faq_id", sa.String(length=255), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_log")),
    )
    op.create_index(op.f("ix_question_log_sender_id"), "question_log", ["sender_id"])
    op.create_index(op.f("ix_question_log_created_at"), "question_log", ["created_at"])

    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("started_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
    )
    op.create_index(op.f("ix_conversation_sender_id"), "conversation", ["sender_id"])
    op.create_index(op.f("ix_conversation_started_at"), "conversation", ["started_at"])

    op.create_table(
        "handoff",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff")),
    )
    op.create_index(op.f("ix_handoff_sender_id"), "handoff", ["sender_id"])
    op.create_index(op.f("ix_handoff_created_at"), "handoff", ["created_at"])


def downgrade() -> None:
    for table in ("handoff", "conversation", "question_log", "csat_rating", "ticket"):
        op.drop_table(table)
