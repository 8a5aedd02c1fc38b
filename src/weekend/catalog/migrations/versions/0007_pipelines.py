"""Pipeline runs and the history of their steps.

Revision ID: 0007_pipelines
Revises: 0006_monitoring

``pipeline_runs`` holds one row per run of a pipeline (parameters, executor, status);
``pipeline_steps`` one row per step of a run: status, cache key and the hashes it was made
of, cache hit, attempts, duration, logs, error, the output blob and the inputs (lineage).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_pipelines"
down_revision = "0006_monitoring"
branch_labels = None
depends_on = None

ID = 32


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("pipeline", sa.String(250), nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("executor", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_runs"),
    )
    op.create_index(
        "ix_pipeline_runs_pipeline_started", "pipeline_runs", ["pipeline", "started_at"]
    )
    op.create_table(
        "pipeline_steps",
        sa.Column("run_id", sa.String(ID), nullable=False),
        sa.Column("step", sa.String(250), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cache_key", sa.String(64), nullable=True),
        sa.Column("key_parts_json", sa.Text, nullable=True),
        sa.Column("cached", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=True),
        sa.Column("logs", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("output_kind", sa.String(16), nullable=True),
        sa.Column("output_sha256", sa.String(64), nullable=True),
        sa.Column("output_size", sa.BigInteger, nullable=True),
        sa.Column("inputs_json", sa.Text, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "step", name="pk_pipeline_steps"),
    )
    op.create_index("ix_pipeline_steps_cache_key", "pipeline_steps", ["cache_key"])
    op.create_index("ix_pipeline_steps_step_started", "pipeline_steps", ["step", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_steps_step_started", table_name="pipeline_steps")
    op.drop_index("ix_pipeline_steps_cache_key", table_name="pipeline_steps")
    op.drop_table("pipeline_steps")
    op.drop_index("ix_pipeline_runs_pipeline_started", table_name="pipeline_runs")
    op.drop_table("pipeline_runs")
