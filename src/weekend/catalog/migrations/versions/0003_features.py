"""Feature store definitions and materializations.

Revision ID: 0003_features
Revises: 0002_datasets_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_features"
down_revision = "0002_datasets_registry"
branch_labels = None
depends_on = None

ID = 32


def upgrade() -> None:
    op.create_table(
        "feature_definitions",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition_json", sa.Text, nullable=False),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("removed", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_definitions"),
        sa.UniqueConstraint(
            "kind", "name", "version", name="uq_feature_definitions_kind_name_version"
        ),
    )
    op.create_table(
        "materializations",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("view", sa.String(128), nullable=False),
        sa.Column("view_version", sa.Integer, nullable=False),
        sa.Column("start_ts", sa.BigInteger, nullable=True),
        sa.Column("end_ts", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("entities", sa.BigInteger, nullable=False),
        sa.Column("store", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_materializations"),
    )


def downgrade() -> None:
    op.drop_table("materializations")
    op.drop_table("feature_definitions")
