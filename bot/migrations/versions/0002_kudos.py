"""kudos: the value a recognition was tagged with

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ties", schema=None) as batch_op:
        batch_op.drop_column("value")
