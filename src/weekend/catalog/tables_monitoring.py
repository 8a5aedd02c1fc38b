"""Catalog tables of monitoring: stored reports and alerts (migration 0006).

Times are milliseconds since the epoch, as in every other table, except a report's
``start_us`` and ``end_us``, which bound the prediction log's rows (microseconds, as there).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from weekend.catalog.tables import ID, metadata

# A monitoring report: its JSON twin and its HTML page are blobs in the artifact store; the
# row holds what listing them needs. ``kind`` is ``served`` (a model's prediction log) or
# ``data`` (two tables compared).
monitor_reports = Table(
    "monitor_reports",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(250), nullable=False),
    Column("model", String(128), nullable=True),
    Column("version", Integer, nullable=True),
    Column("start_us", BigInteger, nullable=True),
    Column("end_us", BigInteger, nullable=True),
    Column("window", String(32), nullable=True),
    Column("summary_json", Text, nullable=False),
    Column("json_sha256", String(64), nullable=False),
    Column("html_sha256", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_monitor_reports_model_created", "model", "created_at"),
    Index("ix_monitor_reports_created", "created_at"),
)

# An alert: a policy that fired on a subject (a model, or a compared table). One open alert
# per (policy, subject): while it stays open, firing again updates ``last_seen_at`` and
# ``fired`` only; it clears (``cleared_at``) when a report no longer meets the condition.
monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("policy", String(128), nullable=False),
    Column("subject", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("evidence_json", Text, nullable=False),
    Column("actions_json", Text, nullable=False),
    Column("report_id", String(ID), nullable=True),
    Column("fired", Integer, nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("cleared_at", BigInteger, nullable=True),
    Index("ix_monitor_alerts_policy_subject_status", "policy", "subject", "status"),
    Index("ix_monitor_alerts_opened", "opened_at"),
)
