"""Catalog tables of pipeline runs and their steps (migration 0007).

A pipeline run has one row in ``pipeline_runs`` and one row per step in ``pipeline_steps``:
its status, cache key (and the hashes it was made of, so that a miss can be explained),
whether it was a cache hit, attempts, duration, captured logs, error, the stored output (a
blob in the artifact store, by sha256) and its inputs (lineage: the upstream steps and the
sha256 of what they gave). Times are milliseconds since the epoch.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from weekend.catalog.tables import ID, metadata

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("pipeline", String(250), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("executor", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Index("ix_pipeline_runs_pipeline_started", "pipeline", "started_at"),
)

pipeline_steps = Table(
    "pipeline_steps",
    metadata,
    Column("run_id", String(ID), primary_key=True),
    Column("step", String(250), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("cache_key", String(64), nullable=True),
    Column("key_parts_json", Text, nullable=True),
    Column("cached", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("duration_ms", BigInteger, nullable=True),
    Column("logs", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("output_kind", String(16), nullable=True),
    Column("output_sha256", String(64), nullable=True),
    Column("output_size", BigInteger, nullable=True),
    Column("inputs_json", Text, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Index("ix_pipeline_steps_cache_key", "cache_key"),
    Index("ix_pipeline_steps_step_started", "step", "started_at"),
)
