"""Citizens' data requests (UU PDP): `data_request`, `email_verification`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_request",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("verified_by", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("legal_basis", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_data_request_reference")),
    )
    op.create_index(op.f("ix_data_request_status"), "data_request", ["status"])
    op.create_index(op.f("ix_data_request_sender_id"), "data_request", ["sender_id"])
    op.create_index(op.f("ix_data_request_requested_at"), "data_request", ["requested_at"])
    op.create_table(
        "email_verification",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verification")),
    )
    op.create_index(op.f("ix_email_verification_sender_id"), "email_verification", ["sender_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_email_verification_sender_id"), table_name="email_verification")
    op.drop_table("email_verification")
    op.drop_index(op.f("ix_data_request_requested_at"), table_name="data_request")
    op.drop_index(op.f("ix_data_request_sender_id"), table_name="data_request")
    op.drop_index(op.f("ix_data_request_status"), table_name="data_request")
    op.drop_table("data_request")
