"""Monitoring's repository functions: stored reports and alerts (tables of migration 0006).

A report's JSON twin and HTML page are put in the artifact store first, then one row is
inserted: a report is either listed and readable, or absent (a crash in between leaves
only unreferenced blobs, which ``weekend gc`` removes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, select, update

from weekend.catalog.tables_monitoring import monitor_alerts, monitor_reports
from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.core.ids import new_id, now_ms

if TYPE_CHECKING:
    from weekend.artifacts import ArtifactStore
    from weekend.catalog import Catalog


@dataclass(frozen=True)
class StoredReport:
    """A stored monitoring report: what it is about and where its blobs are."""

    id: str
    kind: str
    subject: str
    model: str | None
    version: int | None
    start_us: int | None
    end_us: int | None
    window: str | None
    summary: Mapping[str, Any]
    json_sha256: str
    html_sha256: str | None
    created_at: int


@dataclass(frozen=True)
class Alert:
    """An alert raised by a policy on a subject, with its evidence; ``status`` is ``open``
    until a report no longer meets the policy's condition (then ``cleared``)."""

    id: str
    policy: str
    subject: str
    status: str
    severity: str
    message: str
    evidence: Mapping[str, Any]
    actions: list[dict[str, Any]]
    report_id: str | None
    fired: int
    opened_at: int
    last_seen_at: int
    cleared_at: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _report(row: Any) -> StoredReport:
    m = row._mapping
    return StoredReport(
        id=m["id"],
        kind=m["kind"],
        subject=m["subject"],
        model=m["model"],
        version=m["version"],
        start_us=m["start_us"],
        end_us=m["end_us"],
        window=m["window"],
        summary=orjson.loads(m["summary_json"]),
        json_sha256=m["json_sha256"],
        html_sha256=m["html_sha256"],
        created_at=m["created_at"],
    )


def save_report(
    catalog: Catalog,
    artifacts: ArtifactStore,
    *,
    kind: str,
    subject: str,
    summary: Mapping[str, Any],
    json_bytes: bytes,
    html: str | None,
    model: str | None = None,
    version: int | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    window: str | None = None,
    report_id: str | None = None,
    created_at: int | None = None,
) -> StoredReport:
    """Store the blobs, then the row; returns the stored record."""
    json_blob = artifacts.put_bytes(json_bytes).sha256
    html_blob = None if html is None else artifacts.put_bytes(html.encode()).sha256
    values = {
        "id": report_id or new_id(),
        "kind": kind,
        "subject": subject[:250],
        "model": model,
        "version": version,
        "start_us": start_us,
        "end_us": end_us,
        "window": window,
        "summary_json": orjson.dumps(dict(summary)).decode(),
        "json_sha256": json_blob,
        "html_sha256": html_blob,
        "created_at": created_at or now_ms(),
    }
    with catalog.begin() as conn:
        conn.execute(monitor_reports.insert().values(**values))
        row = conn.execute(select(monitor_reports).where(monitor_reports.c.id == values["id"]))
        return _report(row.one())


def list_reports(
    catalog: Catalog, *, model: str | None = None, kind: str | None = None, limit: int = 50
) -> list[StoredReport]:
    """Stored reports, newest first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidValueError(
            f"limit must be a positive integer, got {limit!r:.40}", field="limit"
        )
    query = select(monitor_reports).order_by(monitor_reports.c.created_at.desc()).limit(limit)
    if model is not None:
        query = query.where(monitor_reports.c.model == model)
    if kind is not None:
        query = query.where(monitor_reports.c.kind == kind)
    with catalog.read() as conn:
        return [_report(row) for row in conn.execute(query)]


def get_report(catalog: Catalog, report_id: str) -> StoredReport:
    """One stored report by id (a unique prefix of at least 6 characters is enough)."""
    if not isinstance(report_id, str) or len(report_id) < 6:
        raise InvalidValueError(
            f"report id must be text of at least 6 characters, got {report_id!r:.40}",
            field="report_id",
        )
    query = select(monitor_reports).where(
        monitor_reports.c.id.startswith(report_id, autoescape=True)
    )
    with catalog.read() as conn:
        rows = list(conn.execute(query.limit(2)))
    if len(rows) != 1:
        what = "no stored report" if not rows else "more than one report"
        raise NotFoundError(
            f"{what} has an id starting with {report_id!r}; list them with weekend monitor list"
        )
    return _report(rows[0])


# -- alerts -------------------------------------------------------------------------------


def _alert(row: Any) -> Alert:
    m = row._mapping
    return Alert(
        id=m["id"],
        policy=m["policy"],
        subject=m["subject"],
        status=m["status"],
        severity=m["severity"],
        message=m["message"],
        evidence=orjson.loads(m["evidence_json"]),
        actions=orjson.loads(m["actions_json"]),
        report_id=m["report_id"],
        fired=m["fired"],
        opened_at=m["opened_at"],
        last_seen_at=m["last_seen_at"],
        cleared_at=m["cleared_at"],
    )


def open_alert(conn: Connection, policy: str, subject: str) -> Alert | None:
    """The open alert of ``policy`` on ``subject``, if any."""
    query = select(monitor_alerts).where(
        monitor_alerts.c.policy == policy,
        monitor_alerts.c.subject == subject,
        monitor_alerts.c.status == "open",
    )
    row = conn.execute(query.limit(1)).first()
    return None if row is None else _alert(row)


def insert_alert(
    conn: Connection,
    *,
    policy: str,
    subject: str,
    severity: str,
    message: str,
    evidence: Mapping[str, Any],
    report_id: str | None,
) -> Alert:
    now = now_ms()
    values = {
        "id": new_id(),
        "policy": policy,
        "subject": subject[:250],
        "status": "open",
        "severity": severity,
        "message": message,
        "evidence_json": orjson.dumps(dict(evidence)).decode(),
        "actions_json": "[]",
        "report_id": report_id,
        "fired": 1,
        "opened_at": now,
        "last_seen_at": now,
        "cleared_at": None,
    }
    conn.execute(monitor_alerts.insert().values(**values))
    return _alert(
        conn.execute(select(monitor_alerts).where(monitor_alerts.c.id == values["id"])).one()
    )


def touch_alert(
    conn: Connection, alert: Alert, evidence: Mapping[str, Any], report_id: str | None
) -> None:
    """The open alert fired again: one more firing, the latest evidence."""
    conn.execute(
        update(monitor_alerts)
        .where(monitor_alerts.c.id == alert.id)
        .values(
            fired=monitor_alerts.c.fired + 1,
            last_seen_at=now_ms(),
            evidence_json=orjson.dumps(dict(evidence)).decode(),
            report_id=report_id,
        )
    )


def clear_alert(conn: Connection, alert: Alert) -> None:
    conn.execute(
        update(monitor_alerts)
        .where(monitor_alerts.c.id == alert.id)
        .values(status="cleared", cleared_at=now_ms())
    )


def record_actions(catalog: Catalog, alert_id: str, actions: list[dict[str, Any]]) -> None:
    """What each action of an alert did (``[{"action": "webhook", "ok": true, ...}]``)."""
    with catalog.begin() as conn:
        conn.execute(
            update(monitor_alerts)
            .where(monitor_alerts.c.id == alert_id)
            .values(actions_json=orjson.dumps(actions).decode())
        )


def list_alerts(
    catalog: Catalog, *, status: str | None = None, subject: str | None = None, limit: int = 100
) -> list[Alert]:
    """Alerts, newest first (``status``: ``open`` or ``cleared``)."""
    if status not in (None, "open", "cleared"):
        raise InvalidValueError(
            f"status must be 'open' or 'cleared', got {status!r:.40}", field="status"
        )
    query = select(monitor_alerts).order_by(monitor_alerts.c.opened_at.desc()).limit(limit)
    if status is not None:
        query = query.where(monitor_alerts.c.status == status)
    if subject is not None:
        query = query.where(monitor_alerts.c.subject == subject)
    with catalog.read() as conn:
        return [_alert(row) for row in conn.execute(query)]


__all__ = [
    "Alert",
    "StoredReport",
    "clear_alert",
    "get_report",
    "insert_alert",
    "list_alerts",
    "list_reports",
    "open_alert",
    "record_actions",
    "save_report",
    "touch_alert",
]
