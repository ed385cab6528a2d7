"""The curated knowledge base: FAQ entries, their versions (draft -> published), the
publication revision; the knowledge manager's desk role.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('agent', 'supervisor', 'admin')"
ROLES_AFTER = "role IN ('agent', 'supervisor', 'admin', 'knowledge')"


def _utc_datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def _roles(check: str) -> None:
    with op.batch_alter_table("desk_user") as batch:
        batch.drop_constraint(op.f("ck_desk_user_role_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_desk_user_role_valid"), check)


def upgrade() -> None:
    _roles(ROLES_AFTER)
    op.create_table(
        "faq_entry",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entry")),
        sa.UniqueConstraint("slug", name=op.f("uq_faq_entry_slug")),
    )
    op.create_table(
        "faq_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("retired", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("category", sa.String(length=255), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("alternatives", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=True),
        sa.Column("file", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=True),
        sa.Column("published_at", _utc_datetime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'superseded', 'discarded')",
            name=op.f("ck_faq_version_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["faq_entry.id"],
            name=op.f("fk_faq_version_entry_id_faq_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_version")),
        sa.UniqueConstraint("entry_id", "number", name="uq_faq_version_entry_id_number"),
    )
    op.create_index("ix_faq_version_entry_id_status", "faq_version", ["entry_id", "status"])
    op.create_table(
        "kb_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_revision")),
    )


def downgrade() -> None:
    op.drop_table("kb_revision")
    op.drop_index("ix_faq_version_entry_id_status", table_name="faq_version")
    op.drop_table("faq_version")
    op.drop_table("faq_entry")
    op.execute("UPDATE desk_user SET role = 'supervisor' WHERE role = 'knowledge'")
    _roles(ROLES_BEFORE)
