"""The reply ledger: replies sent on platform channels, so a crash never sends one twice.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sent_reply",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("cause", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_reply")),
        sa.UniqueConstraint("channel", "cause", "seq", name="uq_sent_reply_channel_cause_seq"),
    )
    op.create_index(op.f("ix_sent_reply_sent_at"), "sent_reply", ["sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sent_reply_sent_at"), table_name="sent_reply")
    op.drop_table("sent_reply")
