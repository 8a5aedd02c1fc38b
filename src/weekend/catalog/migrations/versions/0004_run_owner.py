"""Runs record who owns them beyond host and PID, and whether cleanup presumed them dead.

Revision ID: 0004_run_owner
Revises: 0003_features

``machine_id``, ``boot_id``, ``pid_namespace`` and ``process_start`` identify the process
that owns a running run; a PID is checked locally only when the first three match the
checker's own. ``lost`` marks a status set by dead-run cleanup rather than by the owner, so
that the owner's next heartbeat or normal end can correct a wrong kill. Runs recorded
before this revision have NULL identities: only their heartbeat decides.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_run_owner"
down_revision = "0003_features"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("machine_id", sa.String(128), nullable=True))
    op.add_column("runs", sa.Column("boot_id", sa.String(64), nullable=True))
    op.add_column("runs", sa.Column("pid_namespace", sa.String(128), nullable=True))
    op.add_column("runs", sa.Column("process_start", sa.BigInteger, nullable=True))
    op.add_column("runs", sa.Column("lost", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        for column in ("lost", "process_start", "pid_namespace", "boot_id", "machine_id"):
            batch.drop_column(column)
