"""Idle-conversation closures of the sweeper; a ticket's e-mail becomes optional.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _utc_datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "idle_closure",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("last_user_at", _utc_datetime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("closed_at", _utc_datetime(), nullable=True),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('closing', 'closed', 'failed')", name=op.f("ck_idle_closure_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idle_closure")),
        sa.UniqueConstraint(
            "sender_id", "last_user_at", name=op.f("uq_idle_closure_sender_id_last_user_at")
        ),
    )
    # SQLite cannot ALTER a column: batch mode copies the table.
    with op.batch_alter_table("ticket") as batch:
        batch.alter_column("email", existing_type=sa.String(length=320), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.alter_column("email", existing_type=sa.String(length=320), nullable=False)
    op.drop_table("idle_closure")
