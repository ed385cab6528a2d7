"""Long button payloads behind short ids, readable by every process (was process memory).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "button_payload",
        sa.Column("short_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("short_id", name=op.f("pk_button_payload")),
    )
    op.create_index(
        op.f("ix_button_payload_created_at"), "button_payload", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_button_payload_created_at"), table_name="button_payload")
    op.drop_table("button_payload")
