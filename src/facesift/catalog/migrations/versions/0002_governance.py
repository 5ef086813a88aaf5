"""Governance: source purpose and controller, per-image provenance and expiry, opt-outs,
operators and the hash-chained audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("purpose", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("controller", sa.Text, nullable=False, server_default=""))
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("jurisdiction", sa.String(2), nullable=True))
        batch.add_column(sa.Column("subject_ref", sa.Text, nullable=True))
        batch.add_column(sa.Column("consent_ref", sa.Text, nullable=True))
        batch.add_column(sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("source_url", sa.Text, nullable=True))
        batch.add_column(sa.Column("notes", sa.Text, nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_images_expires_at", "images", ["expires_at"])
    op.create_index("ix_images_jurisdiction", "images", ["jurisdiction"])
    # Images ingested before this migration expire by their source's retention from ingest.
    op.execute(
        "UPDATE images SET jurisdiction = (SELECT jurisdiction FROM sources "
        "WHERE sources.id = images.source_id)"
    )
    op.create_table(
        "optouts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("embedding_space", sa.String(120), nullable=False),
        sa.Column("template", sa.LargeBinary, nullable=False),
        sa.Column("reference", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "tombstones",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("case_ref", sa.Text, nullable=False),
        sa.Column("probe_sha256", sa.String(64), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("gallery_version", sa.Integer, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("operators")
    op.drop_table("tombstones")
    op.drop_table("optouts")
    op.drop_index("ix_images_jurisdiction", "images")
    op.drop_index("ix_images_expires_at", "images")
    with op.batch_alter_table("images") as batch:
        for column in (
            "expires_at",
            "notes",
            "source_url",
            "captured_at",
            "consent_ref",
            "subject_ref",
            "jurisdiction",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("controller")
        batch.drop_column("purpose")
