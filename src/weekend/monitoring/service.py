"""``ws.monitor``: monitoring served traffic, comparing tables, stored reports and alerts.

::

    report = ws.monitor.report("flight-delay@champion", start="2013-06-01", window="1d")
    report.drifted                 # drifting features of the latest window
    report.to_frame()              # one row per window
    ws.monitor.compare("flights/1", "flights/7").drifted
    ws.monitor.list()              # stored reports, newest first
    ws.monitor.alerts(status="open")

A report is stored (its JSON twin and its HTML page in the artifact store, a row in the
catalog) and the alert policies run on it unless ``store=False``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from weekend.core.errors import ConfigurationError
from weekend.core.ids import new_id, now_ms
from weekend.monitoring import _store
from weekend.monitoring._alerts import AlertPolicy, apply_policies
from weekend.monitoring._compare import DriftReport, compare_tables
from weekend.monitoring._effects import BINS
from weekend.monitoring._report import ServedReport
from weekend.monitoring._served import served_report
from weekend.monitoring.stats import DEFAULT_FDR

if TYPE_CHECKING:
    from weekend.artifacts import ArtifactStore
    from weekend.catalog import Catalog
    from weekend.core.settings import Settings
    from weekend.data import Datasets
    from weekend.predictions import PredictionLogs
    from weekend.registry import Models

Alert = _store.Alert
StoredReport = _store.StoredReport


class Monitor:
    """Monitoring of a project (``ws.monitor``)."""

    def __init__(
        self,
        catalog: Catalog,
        artifacts: ArtifactStore,
        settings: Settings,
        *,
        datasets: Datasets,
        models: Models | None = None,
        predictions: PredictionLogs | None = None,
    ) -> None:
        self.catalog = catalog
        self.artifacts = artifacts
        self.settings = settings
        self.datasets = datasets
        self._models = models
        self._predictions = predictions
        self._policies: list[AlertPolicy] = []

    def __repr__(self) -> str:
        return f"Monitor({self.artifacts.root!r})"

    # -- served traffic -------------------------------------------------------------------
    def report(
        self,
        model_ref: str,
        start: object = None,
        end: object = None,
        *,
        window: object = "1d",
        reference: object = None,
        fdr: float = DEFAULT_FDR,
        min_effect: Mapping[str, float | tuple[str, float]] | None = None,
        store: bool = True,
        html: bool = True,
        alerts: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> ServedReport:
        """The served traffic of ``model_ref`` (``"name@alias"``, ``"name/3"``) in
        ``[start, end)``, cut in windows (``"1d"``, ``"6h"`` ... or a row count): per-feature
        drift against the version's reference (or ``reference``, any table), prediction
        drift, data quality, volume and latency, realized and estimated performance.
        ``progress(done, total)`` is called after each window."""
        if self._models is None or self._predictions is None:
            raise ConfigurationError("this Monitor has no models or prediction logs to read")
        version = self._models.get(model_ref)
        report = served_report(
            version,
            predictions=self._predictions,
            artifacts=self.artifacts,
            datasets=self.datasets,
            settings=self.settings,
            start=start,
            end=end,
            window=window,
            reference=reference,
            fdr=fdr,
            min_effect=min_effect,
            progress=progress,
        )
        if not store:
            return report
        report = report.with_id(new_id(), now_ms())
        stored = self._store_served(report, html)
        if alerts:
            apply_policies(self.catalog, self.policies(), report.ref, report, stored.id)
        return report

    def _store_served(self, report: ServedReport, html: bool) -> StoredReport:
        page = None
        if html:
            from weekend.monitoring._report_html import served_html

            page = served_html(report)
        latest = report.latest
        summary = {
            "rows": report.rows,
            "windows": len(report.windows),
            "drifted": report.drifted,
            "label_coverage": None if latest is None else latest.label_coverage,
        }
        return _store.save_report(
            self.catalog,
            self.artifacts,
            kind="served",
            subject=report.ref,
            summary=summary,
            json_bytes=report.to_json(),
            html=page,
            model=report.model,
            version=report.version,
            start_us=report.start_us,
            end_us=report.end_us,
            window=report.window,
            report_id=report.id,
            created_at=report.created_at,
        )

    # -- two tables ------------------------------------------------------------------------
    def compare(
        self,
        reference: Any,
        current: Any,
        *,
        columns: Sequence[str] | None = None,
        kinds: Mapping[str, Any] | None = None,
        fdr: float = DEFAULT_FDR,
        min_effect: Mapping[str, float | tuple[str, float]] | None = None,
        bins: int = BINS,
        store: bool = False,
        html: bool = True,
    ) -> DriftReport:
        """Which columns drift from ``reference`` to ``current``.

        Either side is a DataFrame, an Arrow table, a file or folder, or a dataset reference
        (``"flights/1"``); the reference may also be a model version
        (``ws.models.get("flight-delay@champion")``: its reference sample and training
        profile). ``kinds`` overrides a column's kind (``numeric``, ``categorical``,
        ``binary``); ``fdr`` is the false discovery rate across columns; ``min_effect`` the
        per-column minimum effect size (``docs/monitoring.md``, "Statistics"). With
        ``store``, the report (JSON twin and HTML page) is stored and the alert policies run.
        """
        report = compare_tables(
            reference,
            current,
            datasets=self.datasets,
            artifacts=self.artifacts,
            columns=columns,
            kinds=kinds,
            fdr=fdr,
            min_effect=min_effect,
            bins=bins,
        )
        if store:
            page = None
            if html:
                from weekend.monitoring._report_html import compare_html

                page = compare_html(report)
            subject = f"{report.reference} vs {report.current}"
            summary = {"drifted": report.drifted, "n_current": report.n_current}
            body = orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2)
            stored = _store.save_report(
                self.catalog, self.artifacts, kind="data", subject=subject,
                summary=summary, json_bytes=body, html=page,
            )  # fmt: skip
            apply_policies(self.catalog, self.policies(), subject, report, stored.id)
        return report

    def html(self, report: ServedReport | DriftReport) -> str:
        """The self-contained HTML page of a report (Plotly's JavaScript inline)."""
        from weekend.monitoring._report_html import compare_html, served_html

        return served_html(report) if isinstance(report, ServedReport) else compare_html(report)

    # -- stored reports --------------------------------------------------------------------
    def list(
        self, *, model: str | None = None, kind: str | None = None, limit: int = 50
    ) -> builtins.list[StoredReport]:
        """Stored reports, newest first (of ``model``; ``kind``: ``served`` or ``data``)."""
        return _store.list_reports(self.catalog, model=model, kind=kind, limit=limit)

    def get(self, report_id: str) -> StoredReport:
        """One stored report by id (or a unique prefix of it)."""
        return _store.get_report(self.catalog, report_id)

    def read_json(self, report: StoredReport | str) -> dict[str, Any]:
        """A stored report's JSON twin, verified against its digest."""
        found = report if isinstance(report, StoredReport) else self.get(report)
        data: dict[str, Any] = orjson.loads(self.artifacts.read_bytes(found.json_sha256))
        return data

    def read_html(self, report: StoredReport | str) -> str:
        """A stored report's HTML page (``NotFoundError`` if it was stored without one)."""
        from weekend.core.errors import NotFoundError

        found = report if isinstance(report, StoredReport) else self.get(report)
        if found.html_sha256 is None:
            raise NotFoundError(f"report {found.id} was stored without its HTML page")
        return self.artifacts.read_bytes(found.html_sha256).decode()

    # -- alerts ----------------------------------------------------------------------------
    def policies(self) -> builtins.list[AlertPolicy]:
        """The alert policies: ``[[monitor.alerts]]`` of ``weekend.toml``, then those added
        with :meth:`add_policy`."""
        section = self.settings.values.get("monitor", {})
        entries = section.get("alerts", []) if isinstance(section, Mapping) else []
        if not isinstance(entries, list):
            raise ConfigurationError(
                "[monitor] alerts must be an array of tables ([[monitor.alerts]])"
            )
        return [AlertPolicy.from_dict(e) for e in entries] + self._policies

    def add_policy(self, policy: AlertPolicy | Mapping[str, Any]) -> AlertPolicy:
        """Add an alert policy for this workspace's reports (a policy or its table)."""
        made = policy if isinstance(policy, AlertPolicy) else AlertPolicy.from_dict(policy)
        self._policies = [p for p in self._policies if p.name != made.name] + [made]
        return made

    def alerts(
        self, *, status: str | None = None, subject: str | None = None, limit: int = 100
    ) -> builtins.list[Alert]:
        """Alerts, newest first (``status``: ``open`` or ``cleared``)."""
        return _store.list_alerts(self.catalog, status=status, subject=subject, limit=limit)


__all__ = ["Monitor"]
