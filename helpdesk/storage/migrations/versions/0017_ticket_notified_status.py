"""The status a ticket's citizen was last told about on their channel: `ticket.notified_status`.

Tickets stored before are counted as told about their current status: nobody gets a
notification for a change made before this revision.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("notified_status", sa.String(length=20), nullable=True))
    op.execute("UPDATE ticket SET notified_status = status")


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("notified_status")
