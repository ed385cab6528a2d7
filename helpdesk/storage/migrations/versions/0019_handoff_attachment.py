"""A file an agent sends with a reply: `handoff_message.attachment_key`, `attachment_name`.

The key is the file's reference in the helpdesk file store (`helpdesk.storage.attachments`),
the name the one it is sent under. Replies stored before have neither.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_message") as batch:
        batch.add_column(sa.Column("attachment_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("attachment_name", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoff_message") as batch:
        batch.drop_column("attachment_name")
        batch.drop_column("attachment_key")
