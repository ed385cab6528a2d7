"""What citizens give in the profile's guided flows: `flow_submission`.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_submission",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("flow_title", sa.String(length=255), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_submission")),
    )
    op.create_index(op.f("ix_flow_submission_sender_id"), "flow_submission", ["sender_id"])
    op.create_index(op.f("ix_flow_submission_created_at"), "flow_submission", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_flow_submission_created_at"), table_name="flow_submission")
    op.drop_index(op.f("ix_flow_submission_sender_id"), table_name="flow_submission")
    op.drop_table("flow_submission")
