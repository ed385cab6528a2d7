"""Security: tickets get an owner (division, assignee); the shared rate limiter's counters;
the desk's trusted devices (browsers exempt from lockouts caused by others).

Existing tickets made from a handoff nobody took inherit that handoff's division (and agent).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _utc_datetime() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("division_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_ticket_division_id_division"),
            "division",
            ["division_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            op.f("fk_ticket_assignee_id_desk_user"),
            "desk_user",
            ["assignee_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_ticket_division_id"), ["division_id"])
        batch.create_index(op.f("ix_ticket_assignee_id"), ["assignee_id"])
    # A ticket made from a handoff belongs to that handoff's division (and agent).
    op.execute(
        "UPDATE ticket SET "
        "division_id = (SELECT MAX(h.division_id) FROM handoff h WHERE h.ticket_id = ticket.id), "
        "assignee_id = (SELECT MAX(h.agent_id) FROM handoff h WHERE h.ticket_id = ticket.id) "
        "WHERE EXISTS (SELECT 1 FROM handoff h WHERE h.ticket_id = ticket.id)"
    )

    op.create_table(
        "rate_limit_counter",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "rule", "key_hash", "window_start", name=op.f("pk_rate_limit_counter")
        ),
    )
    op.create_index(op.f("ix_rate_limit_counter_expires_at"), "rate_limit_counter", ["expires_at"])

    op.create_table(
        "desk_trusted_device",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("last_used_at", _utc_datetime(), nullable=False),
        sa.Column("expires_at", _utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["desk_user.id"],
            name=op.f("fk_desk_trusted_device_user_id_desk_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_trusted_device")),
    )
    op.create_index(op.f("ix_desk_trusted_device_user_id"), "desk_trusted_device", ["user_id"])
    op.create_index(
        op.f("ix_desk_trusted_device_expires_at"), "desk_trusted_device", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_desk_trusted_device_expires_at"), table_name="desk_trusted_device")
    op.drop_index(op.f("ix_desk_trusted_device_user_id"), table_name="desk_trusted_device")
    op.drop_table("desk_trusted_device")
    op.drop_index(op.f("ix_rate_limit_counter_expires_at"), table_name="rate_limit_counter")
    op.drop_table("rate_limit_counter")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_index(op.f("ix_ticket_assignee_id"))
        batch.drop_index(op.f("ix_ticket_division_id"))
        batch.drop_constraint(op.f("fk_ticket_assignee_id_desk_user"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_ticket_division_id_division"), type_="foreignkey")
        batch.drop_column("assignee_id")
        batch.drop_column("division_id")
