"""Catalog tables of the feature store (migration 0003)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text, UniqueConstraint

from weekend.catalog.tables import ID, metadata

# Every applied definition (entity, feature view, on-demand view, feature service) is a new
# immutable version when it changed; ``definition_json`` is its full, canonical form and
# ``definition_hash`` its sha256, so an unchanged definition is recognised.
feature_definitions = Table(
    "feature_definitions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition_json", Text, nullable=False),
    Column("definition_hash", String(64), nullable=False),
    Column("removed", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("kind", "name", "version"),
)

# Materialization watermarks: up to which event time a view was loaded into the online store.
materializations = Table(
    "materializations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("view", String(128), nullable=False),
    Column("view_version", Integer, nullable=False),
    Column("start_ts", BigInteger, nullable=True),
    Column("end_ts", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("entities", BigInteger, nullable=False),
    Column("store", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
