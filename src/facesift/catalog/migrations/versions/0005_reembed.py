"""Re-embedding into a new embedding space: staged faces, per-image progress, held-back faces.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# As images.id and faces.id (see 0001).
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _face_columns() -> list[sa.Column]:
    return [
        sa.Column("box_left", sa.Integer, nullable=False),
        sa.Column("box_top", sa.Integer, nullable=False),
        sa.Column("box_right", sa.Integer, nullable=False),
        sa.Column("box_bottom", sa.Integer, nullable=False),
        sa.Column("landmarks", sa.JSON, nullable=False),
        sa.Column("detection_score", sa.Float, nullable=False),
        sa.Column("face_size", sa.Integer, nullable=False),
        sa.Column("sharpness", sa.Float, nullable=False),
    ]


def _image_id() -> sa.Column:
    return sa.Column(
        "image_id", ROW_ID, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "reembed_images",
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column(
            "image_id",
            ROW_ID,
            sa.ForeignKey("images.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "reembed_faces",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(200), nullable=False),
        _image_id(),
        sa.Column("old_face_id", ROW_ID, nullable=True),
        *_face_columns(),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reembed_faces_job", "reembed_faces", ["job"])
    op.create_index("ix_reembed_faces_image_id", "reembed_faces", ["image_id"])
    op.create_table(
        "faces_held_back",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=False),
        _image_id(),
        *_face_columns(),
        sa.Column("embedding_space", sa.String(120), nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_faces_held_back_image_id", "faces_held_back", ["image_id"])


def downgrade() -> None:
    op.drop_index("ix_faces_held_back_image_id", "faces_held_back")
    op.drop_table("faces_held_back")
    op.drop_index("ix_reembed_faces_image_id", "reembed_faces")
    op.drop_index("ix_reembed_faces_job", "reembed_faces")
    op.drop_table("reembed_faces")
    op.drop_table("reembed_images")
