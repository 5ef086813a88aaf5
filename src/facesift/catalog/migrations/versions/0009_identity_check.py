"""How an administrator checked a data subject's identity before answering their request.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subject_requests") as batch:
        batch.add_column(sa.Column("identity_check", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subject_requests") as batch:
        batch.drop_column("identity_check")
