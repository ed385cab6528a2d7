"""Per-sender order of inbound deliveries across processes: an index to find a sender's
earlier unfinished messages (`InboundMessageRepository.earlier_unfinished`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_inbound_message_channel_sender", "inbound_message", ["channel", "sender", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_message_channel_sender", table_name="inbound_message")
