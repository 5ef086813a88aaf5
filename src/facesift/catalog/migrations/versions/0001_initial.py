"""Initial catalog: sources, images, faces, gallery state.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Image and face ids: BIGSERIAL on PostgreSQL; on SQLite only INTEGER makes the rowid key (already
# 64-bit), so existing SQLite catalogs are unchanged.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("lawful_basis", sa.String(40), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("retention_days", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "images",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "source_id",
            sa.Integer,
            sa.ForeignKey("sources.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("face_count", sa.Integer, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_images_source_id", "images", ["source_id"])
    op.create_table(
        "faces",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "image_id", ROW_ID, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("box_left", sa.Integer, nullable=False),
        sa.Column("box_top", sa.Integer, nullable=False),
        sa.Column("box_right", sa.Integer, nullable=False),
        sa.Column("box_bottom", sa.Integer, nullable=False),
        sa.Column("landmarks", sa.JSON, nullable=False),
        sa.Column("detection_score", sa.Float, nullable=False),
        sa.Column("face_size", sa.Integer, nullable=False),
        sa.Column("sharpness", sa.Float, nullable=False),
        sa.Column("embedding_space", sa.String(120), nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_faces_image_id", "faces", ["image_id"])
    op.create_table(
        "gallery_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("embedding_space", sa.String(120), nullable=True),
    )
    op.bulk_insert(
        sa.table("gallery_state", sa.column("id", sa.Integer), sa.column("version", sa.Integer)),
        [{"id": 1, "version": 0}],
    )


def downgrade() -> None:
    op.drop_table("gallery_state")
    op.drop_index("ix_faces_image_id", "faces")
    op.drop_table("faces")
    op.drop_index("ix_images_source_id", "images")
    op.drop_table("images")
    op.drop_table("sources")
