"""champions: digests, nudge decisions and the suggestions shown or withheld (the holdout)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 16:44:25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "champion_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"],
            name=op.f("fk_champion_digests_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_champion_digests")),
        sa.UniqueConstraint("workspace_id", "period",
                            name="uq_champion_digests_workspace_period"),
    )
    op.create_table(
        "nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("champion_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("reach_one", sa.Float(), nullable=True),
        sa.Column("reach_two", sa.Float(), nullable=True),
        sa.Column("outbox_key", sa.String(length=191), nullable=True),
        sa.Column("deliver_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["champion_id"], ["people.id"], name=op.f("fk_nudges_champion_id_people"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_nudges_workspace_id_workspaces"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudges")),
        sa.UniqueConstraint("champion_id", "period", name="uq_nudges_champion_period"),
    )
    with op.batch_alter_table("nudges", schema=None) as batch_op:
        batch_op.create_index("ix_nudges_champion_created", ["champion_id", "created_at"],
                              unique=False)

    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("nudge_id", sa.Integer(), nullable=False),
        sa.Column("champion_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=True),
        sa.Column("group_label", sa.String(length=255), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["champion_id"], ["people.id"], name=op.f("fk_suggestions_champion_id_people"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["nudge_id"], ["nudges.id"], name=op.f("fk_suggestions_nudge_id_nudges"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["other_id"], ["people.id"], name=op.f("fk_suggestions_other_id_people"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["people.id"], name=op.f("fk_suggestions_subject_id_people"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"],
            name=op.f("fk_suggestions_workspace_id_workspaces"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestions")),
    )
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.create_index("ix_suggestions_champion_created", ["champion_id", "created_at"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_suggestions_nudge_id"), ["nudge_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_suggestions_subject_id"), ["subject_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestions_subject_id"))
        batch_op.drop_index(batch_op.f("ix_suggestions_nudge_id"))
        batch_op.drop_index("ix_suggestions_champion_created")
    op.drop_table("suggestions")
    with op.batch_alter_table("nudges", schema=None) as batch_op:
        batch_op.drop_index("ix_nudges_champion_created")
    op.drop_table("nudges")
    op.drop_table("champion_digests")
