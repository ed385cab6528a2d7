"""One rating per run of the rating form: `csat_rating.submission_key`, unique when set.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("csat_rating") as batch:
        batch.add_column(sa.Column("submission_key", sa.String(length=255), nullable=True))
    op.create_index("uq_csat_rating_submission_key", "csat_rating", ["submission_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_csat_rating_submission_key", table_name="csat_rating")
    with op.batch_alter_table("csat_rating") as batch:
        batch.drop_column("submission_key")
