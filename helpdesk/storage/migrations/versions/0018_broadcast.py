"""WhatsApp broadcasts: `broadcast`, `broadcast_recipient`, `broadcast_consent`.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_BROADCAST_STATUSES = "'draft', 'scheduled', 'sending', 'paused', 'done', 'cancelled'"
_RECIPIENT_STATUSES = "'pending', 'sending', 'sent', 'delivered', 'read', 'failed', 'opted_out'"


def upgrade() -> None:
    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("template_name", sa.String(length=512), nullable=False),
        sa.Column("template_language", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consent_note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            f"status IN ({_BROADCAST_STATUSES})", name=op.f("ck_broadcast_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast")),
    )
    op.create_index(op.f("ix_broadcast_status"), "broadcast", ["status"])
    op.create_table(
        "broadcast_recipient",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callback_key", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.String(length=128), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            f"status IN ({_RECIPIENT_STATUSES})",
            name=op.f("ck_broadcast_recipient_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcast.id"],
            name=op.f("fk_broadcast_recipient_broadcast_id_broadcast"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_recipient")),
        sa.UniqueConstraint(
            "broadcast_id", "phone", name=op.f("uq_broadcast_recipient_broadcast_id")
        ),
        sa.UniqueConstraint("callback_key", name=op.f("uq_broadcast_recipient_callback_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_broadcast_recipient_message_id")),
    )
    op.create_index(op.f("ix_broadcast_recipient_phone"), "broadcast_recipient", ["phone"])
    op.create_index(
        "ix_broadcast_recipient_broadcast_status",
        "broadcast_recipient",
        ["broadcast_id", "status"],
    )
    op.create_table(
        "broadcast_consent",
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("opted_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opted_in_source", sa.String(length=255), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opted_out_source", sa.String(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_broadcast_consent")),
    )


def downgrade() -> None:
    op.drop_table("broadcast_consent")
    op.drop_index("ix_broadcast_recipient_broadcast_status", table_name="broadcast_recipient")
    op.drop_index(op.f("ix_broadcast_recipient_phone"), table_name="broadcast_recipient")
    op.drop_table("broadcast_recipient")
    op.drop_index(op.f("ix_broadcast_status"), table_name="broadcast")
    op.drop_table("broadcast")
