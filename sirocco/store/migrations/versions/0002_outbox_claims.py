"""outbox claims and targets, for roles in separate processes

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("target", sa.String(length=255), nullable=True))
        batch.create_index("ix_outbox_kind_claimed_until", ["kind", "claimed_until"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_kind_claimed_until")
        batch.drop_column("target")
        batch.drop_column("claimed_until")
