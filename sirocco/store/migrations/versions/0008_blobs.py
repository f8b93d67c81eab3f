"""blobs: large values stored once by content hash, and which execution refers to which

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_blobs")),
    )
    op.create_table(
        "blob_refs",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "digest", name=op.f("pk_blob_refs")),
    )
    op.create_index("ix_blob_refs_digest", "blob_refs", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_blob_refs_digest", table_name="blob_refs")
    op.drop_table("blob_refs")
    op.drop_table("blobs")
