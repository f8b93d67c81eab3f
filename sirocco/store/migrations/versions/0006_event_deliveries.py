"""event deliveries: which notification started which event trigger's workflow (exactly once)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_deliveries",
        sa.Column("trigger_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("trigger_id", "message_id", name=op.f("pk_event_deliveries")),
    )
    with op.batch_alter_table("event_deliveries") as batch:
        batch.create_index("ix_event_deliveries_created_at", ["created_at"])


def downgrade() -> None:
    op.drop_table("event_deliveries")
