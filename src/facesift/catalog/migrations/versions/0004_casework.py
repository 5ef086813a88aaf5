"""Casework: searches kept for review, reviewers' decisions on leads, data subjects' requests.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as faces.id (0001)


def upgrade() -> None:
    op.create_table(
        "searches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("actor", sa.String(100), nullable=False, index=True),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("case_ref", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("probe_sha256", sa.String(64), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "search_leads",
        sa.Column(
            "search_id",
            sa.Integer,
            sa.ForeignKey("searches.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("face_id", ROW_ID, primary_key=True, index=True),
        sa.Column("face_number", sa.Integer, nullable=False),
        sa.Column("distance", sa.Float, nullable=False),
    )
    op.create_table(
        "lead_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "search_id",
            sa.Integer,
            sa.ForeignKey("searches.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("face_id", ROW_ID, nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("search_id", "face_id", "reviewer", name="uq_lead_review_once"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("contact", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("selfie", sa.LargeBinary, nullable=True),
        sa.Column("selfie_sha256", sa.String(64), nullable=False),
        sa.Column("report_html", sa.Text, nullable=True),
        sa.Column("decline_reason", sa.Text, nullable=True),
        sa.Column("handled_by", sa.String(100), nullable=True),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("subject_requests")
    op.drop_table("lead_reviews")
    op.drop_table("search_leads")
    op.drop_table("searches")
