"""Monitoring: stored reports and alerts.

Revision ID: 0006_monitoring
Revises: 0005_predictions

``monitor_reports`` lists the stored monitoring reports (their JSON twin and HTML page are
blobs in the artifact store); ``monitor_alerts`` the alerts raised by alert policies, with
their evidence, one open alert per policy and subject.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_monitoring"
down_revision = "0005_predictions"
branch_labels = None
depends_on = None

ID = 32


def upgrade() -> None:
    op.create_table(
        "monitor_reports",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(250), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("start_us", sa.BigInteger, nullable=True),
        sa.Column("end_us", sa.BigInteger, nullable=True),
        sa.Column("window", sa.String(32), nullable=True),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("json_sha256", sa.String(64), nullable=False),
        sa.Column("html_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_reports"),
    )
    op.create_index("ix_monitor_reports_model_created", "monitor_reports", ["model", "created_at"])
    op.create_index("ix_monitor_reports_created", "monitor_reports", ["created_at"])
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(250), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence_json", sa.Text, nullable=False),
        sa.Column("actions_json", sa.Text, nullable=False),
        sa.Column("report_id", sa.String(ID), nullable=True),
        sa.Column("fired", sa.Integer, nullable=False),
        sa.Column("opened_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=False),
        sa.Column("cleared_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_alerts"),
    )
    op.create_index(
        "ix_monitor_alerts_policy_subject_status",
        "monitor_alerts",
        ["policy", "subject", "status"],
    )
    op.create_index("ix_monitor_alerts_opened", "monitor_alerts", ["opened_at"])


def downgrade() -> None:
    op.drop_table("monitor_alerts")
    op.drop_table("monitor_reports")
