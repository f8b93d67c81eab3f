"""an index on workflow executions' (state, created_at): a page of one state, newest first

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.create_index("ix_workflow_executions_state_created_at", ["state", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_index("ix_workflow_executions_state_created_at")
