"""The images shown, in order, so that undo and redo follow what the person saw.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("back_id", sa.Integer(), nullable=True),
        sa.Column("forward_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"],
            name="fk_views_session_id_sessions", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], name="fk_views_node_id_nodes"),
        sa.ForeignKeyConstraint(["back_id"], ["views.id"], name="fk_views_back_id_views"),
        sa.ForeignKeyConstraint(["forward_id"], ["views.id"], name="fk_views_forward_id_views"),
        sa.PrimaryKeyConstraint("id", name="pk_views"),
    )
    op.create_index("ix_views_session_id", "views", ["session_id"])
    # A plain ADD COLUMN: rebuilding the sessions table on SQLite would cascade-delete nodes.
    op.add_column("sessions", sa.Column("view_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "view_id")
    op.drop_table("views")
