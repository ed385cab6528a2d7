"""One handoff per request message: `handoff.request_key`, unique when set.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=255), nullable=True))
    op.create_index("uq_handoff_request_key", "handoff", ["request_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_handoff_request_key", table_name="handoff")
    with op.batch_alter_table("handoff") as batch:
        batch.drop_column("request_key")
