"""Datasets and model registry.

Revision ID: 0002_datasets_registry
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_datasets_registry"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

ID = 32


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint("name", name="uq_datasets_name"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("dataset_id", sa.String(ID), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("num_rows", sa.BigInteger, nullable=False),
        sa.Column("num_columns", sa.Integer, nullable=False),
        sa.Column("schema_json", sa.Text, nullable=False),
        sa.Column("profile_json", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("lineage_json", sa.Text, nullable=True),
        sa.Column("run_id", sa.String(ID), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name="fk_dataset_versions_dataset_id_datasets"
        ),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_id_version"),
        sa.UniqueConstraint(
            "dataset_id", "content_hash", name="uq_dataset_versions_dataset_id_content_hash"
        ),
    )
    op.create_table(
        "registered_models",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("tags_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registered_models"),
        sa.UniqueConstraint("name", name="uq_registered_models_name"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("model_id", sa.String(ID), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("flavor", sa.String(64), nullable=False),
        sa.Column("trusted_required", sa.Boolean, nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
        sa.Column("signature_json", sa.Text, nullable=True),
        sa.Column("requirements_json", sa.Text, nullable=False),
        sa.Column("lineage_json", sa.Text, nullable=False),
        sa.Column("profile_json", sa.Text, nullable=True),
        sa.Column("run_id", sa.String(ID), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("tags_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_model_versions_model_id_registered_models",
        ),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.String(ID), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "alias", name="pk_model_aliases"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_model_aliases_model_id_registered_models",
        ),
    )
    op.create_table(
        "alias_events",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.String(ID), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(250), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("evidence_json", sa.Text, nullable=True),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_alias_events"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_alias_events_model_id_registered_models",
        ),
    )
    op.create_index("ix_alias_events_model_alias", "alias_events", ["model_id", "alias"])
    op.create_table(
        "model_evaluations",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("model_id", sa.String(ID), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("baseline_version", sa.Integer, nullable=True),
        sa.Column("data_json", sa.Text, nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("blessed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_evaluations"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name="fk_model_evaluations_model_id_registered_models",
        ),
    )
    op.create_index(
        "ix_model_evaluations_model_version", "model_evaluations", ["model_id", "version"]
    )


def downgrade() -> None:
    for name in (
        "model_evaluations",
        "alias_events",
        "model_aliases",
        "model_versions",
        "registered_models",
        "dataset_versions",
        "datasets",
    ):
        op.drop_table(name)
