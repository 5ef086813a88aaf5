"""Identities: faces grouped into people, with human edits kept apart from automatic ones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as faces.id (see 0001)


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "face_identities",
        sa.Column(
            "face_id", ROW_ID, sa.ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "identity_id",
            sa.Integer,
            sa.ForeignKey("identities.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("assigned_by", sa.String(10), nullable=False),
    )
    op.create_index("ix_face_identities_identity_id", "face_identities", ["identity_id"])


def downgrade() -> None:
    op.drop_index("ix_face_identities_identity_id", "face_identities")
    op.drop_table("face_identities")
    op.drop_table("identities")
