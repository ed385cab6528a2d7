"""The audit trail: `audit_event`, each row chained to the one before by a hash.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("result", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_event_prev_hash")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_event_hash")),
    )
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"])
    op.create_index(op.f("ix_audit_event_actor"), "audit_event", ["actor"])
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_event_action"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_actor"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_table("audit_event")
