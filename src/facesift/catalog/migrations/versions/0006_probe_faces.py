"""Probe faces of kept searches: the crop reviewers compare each lead with, kept with the search,
and what the search could be expected to return (its threshold, the faces it was compared with,
whether a face's leads were cut at top-k), so its page can say so later.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_probe_faces",
        sa.Column(
            "search_id",
            sa.Integer,
            sa.ForeignKey("searches.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("face_number", sa.Integer, primary_key=True),
        sa.Column("box_left", sa.Integer, nullable=False),
        sa.Column("box_top", sa.Integer, nullable=False),
        sa.Column("box_right", sa.Integer, nullable=False),
        sa.Column("box_bottom", sa.Integer, nullable=False),
        sa.Column("crop_jpeg", sa.LargeBinary, nullable=False),
        sa.Column("cut_at_top_k", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("searches") as table:
        table.add_column(sa.Column("threshold", sa.Float, nullable=True))
        table.add_column(sa.Column("compared_with", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("searches") as table:
        table.drop_column("compared_with")
        table.drop_column("threshold")
    op.drop_table("search_probe_faces")
