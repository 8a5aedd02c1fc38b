"""Catalog tables of the foundation: experiments, runs, params, tags, metrics, run artifacts.

SQLAlchemy Core only. Times are integers: milliseconds since the epoch, except metric
timestamps, which are microseconds so that every point of a run has its own instant.
Each change of these tables comes with an Alembic migration under ``migrations/versions``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 32  # length of ids made by weekend.core.ids.new_id

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("experiment_id", String(ID), ForeignKey("experiments.id"), nullable=False),
    Column("parent_id", String(ID), nullable=True),
    Column("name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("error", Text, nullable=True),
    Column("user", String(250), nullable=False),
    Column("host", String(250), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    # Who owns a running run, beyond host and PID (which repeat across containers, cloned VMs
    # and CI runners): a PID is checked locally only when all three match the checker's.
    # NULL in runs recorded before revision 0004: only their heartbeat decides.
    Column("machine_id", String(128), nullable=True),
    Column("boot_id", String(64), nullable=True),
    Column("pid_namespace", String(128), nullable=True),
    Column("process_start", BigInteger, nullable=True),  # clock ticks after boot
    # True when dead-run cleanup, not the owner, set the status: the owner's next heartbeat
    # or normal end overrides it.
    Column("lost", Boolean, nullable=False, default=False),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_status", "status"),
    Index("ix_runs_start", "start_time"),
    Index("ix_runs_parent", "parent_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_tags_key_value", "key", "value"),
)

# Every logged point. NaN is stored as value NULL with is_nan true (SQLite turns NaN into
# NULL on its own; the flag keeps it faithful); infinities are stored as they are.
metrics = Table(
    "metrics",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("timestamp", BigInteger, primary_key=True),
    Column("value", Double, nullable=True),
    Column("is_nan", Boolean, nullable=False),
)

# The latest point per (run, key): highest step, then latest timestamp. Search filters and
# sorts on it; the index on (key, value) makes "order by metrics.x desc limit 10" a range scan.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=True),
    Column("is_nan", Boolean, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(1024), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
