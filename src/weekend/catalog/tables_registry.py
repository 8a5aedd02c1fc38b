"""Catalog tables of datasets and the model registry (migration 0002)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from weekend.catalog.tables import ID, metadata

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

# One immutable version of a dataset: its data as Parquet in the artifact store, identified
# by the hash of its content, with the inferred schema and profile (JSON text).
dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("dataset_id", String(ID), ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("blob_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("num_rows", BigInteger, nullable=False),
    Column("num_columns", Integer, nullable=False),
    Column("schema_json", Text, nullable=False),
    Column("profile_json", Text, nullable=False),
    Column("source", Text, nullable=True),
    Column("lineage_json", Text, nullable=True),
    Column("run_id", String(ID), nullable=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("dataset_id", "version"),
    UniqueConstraint("dataset_id", "content_hash"),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("tags_json", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
)

# An immutable, numbered model version. ``manifest_json`` lists every file of the package
# with its sha256 (each file is a blob in the artifact store).
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("model_id", String(ID), ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flavor", String(64), nullable=False),
    Column("trusted_required", Boolean, nullable=False),
    Column("manifest_json", Text, nullable=False),
    Column("signature_json", Text, nullable=True),
    Column("requirements_json", Text, nullable=False),
    Column("lineage_json", Text, nullable=False),
    Column("profile_json", Text, nullable=True),
    Column("run_id", String(ID), nullable=True),
    Column("description", Text, nullable=True),
    Column("tags_json", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "version"),
    Index("ix_model_versions_run", "run_id"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", String(ID), ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# The audit log of alias moves: who, when, why, on what evidence. ``seq`` orders them.
alias_events = Table(
    "alias_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(ID), ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("action", String(32), nullable=False),
    Column("actor", String(250), nullable=False),
    Column("reason", Text, nullable=True),
    Column("evidence_json", Text, nullable=True),
    Column("forced", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_alias_events_model_alias", "model_id", "alias"),
)

model_evaluations = Table(
    "model_evaluations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("model_id", String(ID), ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("baseline_version", Integer, nullable=True),
    Column("data_json", Text, nullable=False),
    Column("result_json", Text, nullable=False),
    Column("blessed", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_model_evaluations_model_version", "model_id", "version"),
)
