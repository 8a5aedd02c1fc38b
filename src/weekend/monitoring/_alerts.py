"""Alert policies: a condition on a report's latest window, and what to do when it holds.

A policy comes from ``weekend.toml`` or the SDK::

    [[monitor.alerts]]
    name = "inputs-drift"
    when = "drift_share"        # drift_share | feature | metric_drop | missing_rate | volume
    threshold = 0.3
    actions = ["log", { webhook = "http://127.0.0.1:9000/hook" }, { pipeline = "retrain" }]

Conditions, read on the latest window of a served-traffic report (``drift_share`` also on a
comparison of two tables):

- ``drift_share``: the share of drifting features is at least ``threshold`` (default 0.3);
- ``feature``: the named ``feature`` drifts;
- ``metric_drop``: ``metric`` (``source`` ``realized`` or ``estimated``) fell by at least
  ``threshold`` below its value in the reference period (the first window);
- ``missing_rate``: the share of missing input values exceeds ``threshold``;
- ``volume``: fewer rows than ``min_rows`` or more than ``max_rows``.

Actions: ``log`` (a warning on the ``weekend.monitoring`` logger), ``webhook`` (POST of the
alert as JSON, retried ``retries`` times with doubling back-off on a network error or a
5xx answer), ``pipeline`` (the intent to run the named pipeline is recorded on the alert;
the pipelines package acts on it). Alerts are deduplicated: one open alert per policy and
subject; it fires its actions when it opens, counts later firings, and clears when a report
no longer meets the condition.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from weekend.core.errors import ConfigurationError, InvalidValueError
from weekend.monitoring._store import (
    Alert,
    clear_alert,
    insert_alert,
    open_alert,
    record_actions,
    touch_alert,
)

if TYPE_CHECKING:
    from weekend.catalog import Catalog
    from weekend.monitoring._compare import DriftReport
    from weekend.monitoring._report import ServedReport

logger = logging.getLogger("weekend.monitoring")
CONDITIONS = ("drift_share", "feature", "metric_drop", "missing_rate", "volume")
_DEFAULTS = {"drift_share": 0.3, "metric_drop": 0.05, "missing_rate": 0.1}
_HIGHER_IS_WORSE = ("mae", "rmse", "mse", "log_loss", "ece")


@dataclass(frozen=True)
class Action:
    """``log``, ``webhook`` (``target`` is its URL) or ``pipeline`` (``target``: its name)."""

    type: str
    target: str = ""
    retries: int = 3
    timeout: float = 5.0


@dataclass(frozen=True)
class AlertPolicy:
    """A condition on a report and the actions taken when it starts to hold."""

    name: str
    when: str
    threshold: float | None = None
    feature: str | None = None
    metric: str | None = None
    source: str = "realized"
    min_rows: int | None = None
    max_rows: int | None = None
    model: str | None = None
    severity: str = "warning"
    actions: tuple[Action, ...] = field(default_factory=lambda: (Action("log"),))

    def __post_init__(self) -> None:
        where = f"alert policy {self.name!r}"
        if not isinstance(self.name, str) or not 0 < len(self.name) <= 128:
            raise InvalidValueError(f"an alert policy needs a name (text), got {self.name!r:.40}")
        if self.when not in CONDITIONS:
            raise InvalidValueError(
                f"{where}: when must be one of {', '.join(CONDITIONS)}, got {self.when!r:.40}",
                field="when",
            )
        needs = {"feature": "feature", "metric_drop": "metric"}.get(self.when)
        if needs is not None and not getattr(self, needs):
            raise InvalidValueError(
                f"{where}: when = {self.when!r} needs {needs} = '...'", field=needs
            )
        if self.when == "volume" and self.min_rows is None and self.max_rows is None:
            raise InvalidValueError(
                f"{where}: when = 'volume' needs min_rows or max_rows", field="min_rows"
            )
        if self.source not in ("realized", "estimated"):
            raise InvalidValueError(
                f"{where}: source must be 'realized' or 'estimated', got {self.source!r:.40}",
                field="source",
            )
        if self.threshold is None and self.when in _DEFAULTS:
            object.__setattr__(self, "threshold", _DEFAULTS[self.when])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertPolicy:
        """A policy from a ``[[monitor.alerts]]`` table (see the module documentation)."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"[[monitor.alerts]] entries must be tables, got {data!r:.60}")
        known = {f for f in cls.__dataclass_fields__ if f != "actions"} | {"actions"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(
                f"[[monitor.alerts]] {data.get('name', '?')!r}: unknown key {unknown[0]!r}; "
                f"known: {', '.join(sorted(known))}"
            )
        values = {k: v for k, v in data.items() if k != "actions"}
        actions = tuple(parse_action(a) for a in data.get("actions", ["log"]))
        return cls(**values, actions=actions)


def parse_action(value: object) -> Action:
    """``"log"``, ``{"webhook": url, "retries": 3, "timeout": 5}`` or ``{"pipeline": name}``."""
    if value == "log":
        return Action("log")
    if isinstance(value, Mapping) and "webhook" in value:
        url = value["webhook"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidValueError(
                f"webhook must be an http(s) URL, got {url!r:.60}", field="webhook"
            )
        retries, timeout = value.get("retries", 3), value.get("timeout", 5.0)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise InvalidValueError(
                f"webhook retries must be 0 to 10, got {retries!r:.20}", field="retries"
            )
        return Action("webhook", url, retries, float(timeout))
    if isinstance(value, Mapping) and isinstance(value.get("pipeline"), str) and value["pipeline"]:
        return Action("pipeline", value["pipeline"])
    raise InvalidValueError(
        "an alert action is 'log', {webhook = 'http://...'} or {pipeline = 'name'}, "
        f"got {value!r:.60}",
        field="actions",
    )


def _metric_value(window: Any, metric: str, source: str) -> float | None:
    if source == "realized":
        value = window.realized.get(metric)
        return None if value is None else float(value)
    if window.estimated is None or metric not in window.estimated.metrics:
        return None
    return float(window.estimated.metrics[metric].value)


def _metric_drop(policy: AlertPolicy, report: ServedReport) -> tuple[bool, dict[str, Any]]:
    metric = str(policy.metric)
    values = [_metric_value(w, metric, policy.source) for w in report.windows]
    known = [v for v in values if v is not None]
    if len(known) < 2 or values[-1] is None:
        return False, {
            "metric": metric,
            "source": policy.source,
            "value": values[-1] if values else None,
        }
    baseline, current = known[0], known[-1]
    drop = current - baseline if metric in _HIGHER_IS_WORSE else baseline - current
    evidence = {
        "metric": metric,
        "source": policy.source,
        "baseline": baseline,
        "value": current,
        "drop": drop,
    }
    return drop >= float(policy.threshold or 0.0), evidence


def evaluate(
    policy: AlertPolicy, report: ServedReport | DriftReport
) -> tuple[bool, dict[str, Any]]:
    """Whether ``policy``'s condition holds on ``report`` (its latest window), and the
    evidence: the values it read."""
    from weekend.monitoring._report import ServedReport

    if not isinstance(report, ServedReport):
        if policy.when not in ("drift_share", "feature"):
            return False, {"note": f"{policy.when} applies to served traffic only"}
        evidence = {"share_drifted": report.share_drifted, "drifted": report.drifted}
        if policy.when == "feature":
            return policy.feature in report.drifted, evidence
        return report.share_drifted >= float(policy.threshold or 0.0), evidence
    window = report.latest
    if window is None:
        return False, {"note": "no window"}
    base = {"window_start": window.start_us, "window_end": window.end_us, "rows": window.rows}
    if policy.when == "drift_share":
        ev = {**base, "share_drifted": window.share_drifted, "drifted": window.drifted}
        return window.share_drifted >= float(policy.threshold or 0.0), ev
    if policy.when == "feature":
        ev = {**base, "feature": policy.feature, "drifted": window.drifted}
        if window.drift is not None and policy.feature in window.drift.names:
            column = window.drift[str(policy.feature)].to_dict()
            column.pop("distribution", None)
            ev["column"] = column
        return policy.feature in window.drifted, ev
    if policy.when == "missing_rate":
        share = window.missing_share
        return share > float(policy.threshold or 0.0), {**base, "missing_share": share}
    if policy.when == "volume":
        low = policy.min_rows is not None and window.rows < policy.min_rows
        high = policy.max_rows is not None and window.rows > policy.max_rows
        return low or high, {**base, "min_rows": policy.min_rows, "max_rows": policy.max_rows}
    fired, evidence = _metric_drop(policy, report)
    return fired, {**base, **evidence}


def _message(policy: AlertPolicy, subject: str, evidence: Mapping[str, Any]) -> str:
    shown = {
        k: v
        for k, v in evidence.items()
        if k
        in (
            "share_drifted",
            "drifted",
            "feature",
            "metric",
            "drop",
            "value",
            "missing_share",
            "rows",
        )
    }
    return f"{policy.name} on {subject}: {policy.when} ({orjson.dumps(shown).decode()[:300]})"


def post_json(
    url: str, body: Mapping[str, Any], retries: int = 3, timeout: float = 5.0
) -> dict[str, Any]:
    """POST ``body`` as JSON; retried on a network error or a 5xx. Returns what happened."""
    data = orjson.dumps(dict(body))
    last = ""
    for attempt in range(retries + 1):
        request = urllib.request.Request(  # noqa: S310 (http(s) checked by parse_action)
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return {"ok": True, "status": answer.status, "attempts": attempt + 1}
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code < 500:
                return {"ok": False, "status": exc.code, "attempts": attempt + 1, "error": last}
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if attempt < retries:
            time.sleep(0.2 * 2**attempt)
    return {"ok": False, "attempts": retries + 1, "error": last}


def run_actions(policy: AlertPolicy, alert: Alert) -> list[dict[str, Any]]:
    """Take the policy's actions for a newly opened alert; returns what each did."""
    done: list[dict[str, Any]] = []
    for action in policy.actions:
        if action.type == "log":
            logger.warning("alert %s", alert.message)
            done.append({"action": "log", "ok": True})
        elif action.type == "webhook":
            body = {"type": "weekend.alert", **alert.to_dict()}
            done.append(
                {
                    "action": "webhook",
                    "url": action.target,
                    **post_json(action.target, body, action.retries, action.timeout),
                }
            )
        else:
            done.append({"action": "pipeline", "pipeline": action.target, "status": "requested"})
    return done


def apply_policies(
    catalog: Catalog,
    policies: Sequence[AlertPolicy],
    subject: str,
    report: ServedReport | DriftReport,
    report_id: str | None,
) -> list[Alert]:
    """Evaluate every policy that applies to ``subject``; open, update or clear its alert;
    returns the alerts opened now (their actions taken)."""
    opened: list[tuple[AlertPolicy, Alert]] = []
    model = subject.split("/")[0]
    for policy in policies:
        if policy.model is not None and policy.model != model:
            continue
        fired, evidence = evaluate(policy, report)
        with catalog.begin() as conn:
            current = open_alert(conn, policy.name, subject)
            if fired and current is not None:
                touch_alert(conn, current, evidence, report_id)
            elif fired:
                message = _message(policy, subject, evidence)
                alert = insert_alert(
                    conn,
                    policy=policy.name,
                    subject=subject,
                    severity=policy.severity,
                    message=message,
                    evidence=evidence,
                    report_id=report_id,
                )
                opened.append((policy, alert))
            elif current is not None:
                clear_alert(conn, current)
    for policy, alert in opened:
        record_actions(catalog, alert.id, run_actions(policy, alert))
    return [alert for _, alert in opened]


__all__ = [
    "CONDITIONS",
    "Action",
    "AlertPolicy",
    "apply_policies",
    "evaluate",
    "parse_action",
    "post_json",
    "run_actions",
]
