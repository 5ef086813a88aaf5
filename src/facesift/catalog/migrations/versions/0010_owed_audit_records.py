"""Audit records owed: written in the same transaction as the change they describe, removed once
the record is in the chain, so a process killed between the two leaves its debt behind for the
next writer to pay (govern/audit.py cannot share the catalog's transaction: it seals a chain).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owed_audit_records",
        sa.Column("token", sa.String(32), primary_key=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("owed_audit_records")
