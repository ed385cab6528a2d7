"""The knowledge managers' questions inbox: questions dealt with, and dismissed groups.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _utc_datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "question_triage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("faq_slug", sa.String(length=255), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.CheckConstraint(
            "source IN ('question_log', 'handoff', 'ticket')",
            name=op.f("ck_question_triage_source_valid"),
        ),
        sa.CheckConstraint(
            "outcome IN ('added', 'drafted', 'dismissed')",
            name=op.f("ck_question_triage_outcome_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_triage")),
        sa.UniqueConstraint("source", "source_id", name="uq_question_triage_source_source_id"),
    )
    op.create_table(
        "question_group_dismissal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("centroid", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_group_dismissal")),
    )


def downgrade() -> None:
    op.drop_table("question_group_dismissal")
    op.drop_table("question_triage")
