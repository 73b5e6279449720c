"""kudos_requests: an acknowledged /kudos is recorded before the ack and finished after it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kudos_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=191), nullable=False),
        sa.Column("giver", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_kudos_requests_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kudos_requests")),
        sa.UniqueConstraint("workspace_id", "request_key", name="uq_kudos_requests_workspace_key"),
    )
    with op.batch_alter_table("kudos_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kudos_requests_giver"), ["giver"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kudos_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kudos_requests_giver"))
    op.drop_table("kudos_requests")
