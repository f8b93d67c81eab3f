"""maintenance mode, code sources and dynamic actions

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _secure_and_times() -> list[sa.Column[object]]:
    return [
        sa.Column("scope", sa.String(length=16), server_default="private", nullable=False),
        sa.Column(
            "project_id", sa.String(length=80), server_default="<default-project>", nullable=False
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    maintenance = op.create_table(
        "maintenance",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance")),
    )
    op.bulk_insert(maintenance, [{"id": 1, "status": "RUNNING", "updated_at": None}])
    op.create_table(
        "maintenance_paused",
        sa.Column("workflow_execution_id", sa.String(length=36), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_execution_id", name=op.f("pk_maintenance_paused")),
    )
    op.create_table(
        "code_sources",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("namespace", sa.String(length=255), server_default="", nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("tags", sa.Text(), nullable=True),
        *_secure_and_times(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_sources")),
        sa.UniqueConstraint(
            "name",
            "namespace",
            "project_id",
            name=op.f("uq_code_sources_name_namespace_project_id"),
        ),
    )
    op.create_table(
        "dynamic_action_definitions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("namespace", sa.String(length=255), server_default="", nullable=False),
        sa.Column("class_name", sa.String(length=255), nullable=False),
        sa.Column("code_source_id", sa.String(length=36), nullable=False),
        sa.Column("code_source_name", sa.String(length=255), nullable=False),
        *_secure_and_times(),
        sa.ForeignKeyConstraint(
            ["code_source_id"],
            ["code_sources.id"],
            name=op.f("fk_dynamic_action_definitions_code_source_id_code_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dynamic_action_definitions")),
        sa.UniqueConstraint(
            "name",
            "namespace",
            "project_id",
            name=op.f("uq_dynamic_action_definitions_name_namespace_project_id"),
        ),
    )
    op.create_index(
        op.f("ix_dynamic_action_definitions_code_source_id"),
        "dynamic_action_definitions",
        ["code_source_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_dynamic_action_definitions_code_source_id"),
        table_name="dynamic_action_definitions",
    )
    op.drop_table("dynamic_action_definitions")
    op.drop_table("code_sources")
    op.drop_table("maintenance_paused")
    op.drop_table("maintenance")
