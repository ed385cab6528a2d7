"""Inbound channel messages, for exactly-once answers to re-delivered webhooks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-04-20 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _utc_datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("received_at", _utc_datetime(), nullable=False),
        sa.Column("done_at", _utc_datetime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('received', 'done')", name=op.f("ck_inbound_message_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_message")),
        sa.UniqueConstraint(
            "channel", "message_id", name=op.f("uq_inbound_message_channel_message_id")
        ),
    )
    op.create_index(op.f("ix_inbound_message_status"), "inbound_message", ["status"])
    op.create_index(op.f("ix_inbound_message_received_at"), "inbound_message", ["received_at"])


def downgrade() -> None:
    op.drop_table("inbound_message")
