"""ws.monitor.report: windows over the prediction log, drift, quality, performance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _traffic import DAY0, FEATURES, Traffic, serve
from sklearn.metrics import roc_auc_score

from conftest import open_ws
from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.workspace import Workspace


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    ws = open_ws(project)
    yield ws
    ws.close()


@pytest.fixture
def traffic(ws: Workspace) -> Traffic:
    return serve(ws, np.random.default_rng(12))


def test_daily_windows_find_the_shifted_feature(ws: Workspace, traffic: Traffic) -> None:
    report = ws.monitor.report(
        "flight-delay@champion", window="1d", reference=traffic.train[FEATURES], store=False
    )
    assert [w.rows for w in report.windows] == [600, 600, 600, 600]
    assert report.windows[0].start_us == int(DAY0.timestamp() * 1_000_000)
    assert report.windows[0].drifted == []
    assert report.windows[1].drifted == []
    assert report.windows[2].drifted == ["distance"]
    assert report.drifted == ["distance"]
    assert report.windows[2].share_drifted == pytest.approx(1 / 3)
    # the scores follow distance: prediction drift against the first window
    assert report.windows[1].prediction_drift is not None
    assert report.windows[1].prediction_drift.drifted == []
    assert report.windows[3].prediction_drift is not None
    assert "score" in report.windows[3].prediction_drift.drifted


def test_realized_performance_and_label_coverage(ws: Workspace, traffic: Traffic) -> None:
    report = ws.monitor.report(
        "flight-delay/1", window="1d", reference=traffic.train[FEATURES], store=False
    )
    for window, day in zip(report.windows, traffic.days, strict=True):
        labelled = day[day["labelled"]]
        assert window.label_coverage == pytest.approx(len(labelled) / len(day))
        expected = roc_auc_score(labelled["delayed"], labelled["score"])
        assert window.realized["roc_auc"] == pytest.approx(expected)
        accuracy = ((labelled["score"] >= 0.5).astype(int) == labelled["delayed"]).mean()
        assert window.realized["accuracy"] == pytest.approx(accuracy)
        assert window.estimated is not None
        estimated = window.estimated["roc_auc"]
        assert estimated.lower <= estimated.value <= estimated.upper
        # covariate shift only: the estimate stays near the realized value (measured on
        # half of 600 rows, so within a few of its standard errors; the 0.02 accuracy of
        # the estimator itself is the simulation's, in test_stats)
        assert abs(estimated.value - expected) < 5 * max(estimated.std, 0.025)


def test_labels_arriving_later_backfill_the_windows(ws: Workspace) -> None:
    traffic = serve(ws, np.random.default_rng(3), shifts=(0.0, 0.0), label_share=0.0)
    before = ws.monitor.report("flight-delay@champion", store=False)
    assert [w.label_coverage for w in before.windows] == [0.0, 0.0]
    assert before.windows[0].realized == {}
    day = traffic.days[1]
    ws.predictions.feedback(
        "flight-delay",
        [
            {"request_id": r, "row": 0, "label": int(y)}
            for r, y in zip(day["request_id"], day["delayed"], strict=True)
        ],
    )
    after = ws.monitor.report("flight-delay@champion", store=False)
    assert after.windows[0].label_coverage == 0.0
    assert after.windows[1].label_coverage == 1.0
    assert after.windows[1].realized["roc_auc"] == pytest.approx(
        roc_auc_score(day["delayed"], day["score"])
    )


def test_windows_by_count_and_a_time_range(ws: Workspace, traffic: Traffic) -> None:
    report = ws.monitor.report(
        "flight-delay@champion",
        window=500,
        reference=traffic.train[FEATURES],
        store=False,
    )
    assert [w.rows for w in report.windows] == [500, 500, 500, 500, 400]
    ranged = ws.monitor.report(
        "flight-delay@champion",
        start="2013-06-02",
        end="2013-06-03T12:00:00Z",
        window="12h",
        reference=traffic.train[FEATURES],
        store=False,
    )
    # 2 June: 600 rows over 10 hours; 3 June until noon: 12 hours of 60 rows an hour
    assert [w.rows for w in ranged.windows] == [600, 600]
    assert ranged.rows == 1200


def test_data_quality_against_the_signature_and_profile(ws: Workspace, traffic: Traffic) -> None:
    log = ws.predictions.open_log()
    base = {"model": "flight-delay", "version": 1, "row": 0}
    ts = DAY0.replace(day=9)
    rows = [
        ("q1", "ZZ", 1e7, 8, "primary"),
        ("q2", None, None, 9, "primary"),
        ("q3", "AA", 500.0, 10, "primary"),
        ("q4", "AA", 500.0, 10, "shadow"),
    ]
    log.append(
        [
            {**base, "request_id": r, "ts": ts, "route": route}
            | {"in.carrier": c, "in.distance": d, "in.dep_hour": h}
            for r, c, d, h, route in rows
        ]
    )
    log.close()
    report = ws.monitor.report(
        "flight-delay@champion", start="2013-06-09", end="2013-06-10", store=False
    )
    (window,) = report.windows
    assert window.rows == 3  # the shadow row was never answered
    assert window.quality["carrier"]["missing"] == 1
    assert window.quality["distance"]["missing"] == 1
    assert window.quality["distance"]["out_of_range"] == 1
    assert window.quality["dep_hour"]["out_of_range"] == 0
    assert window.quality["carrier"]["new_categories"] == 1
    assert window.quality["distance"]["type_errors"] == 0
    assert window.missing_share == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)


def test_bad_calls_name_their_field(ws: Workspace, traffic: Traffic) -> None:
    with pytest.raises(InvalidValueError, match="window must be a duration such as '1d'"):
        ws.monitor.report("flight-delay@champion", window="daily", store=False)
    with pytest.raises(InvalidValueError, match="start must be before end"):
        ws.monitor.report("flight-delay@champion", start="2013-06-03", end="2013-06-02")
    with pytest.raises(InvalidValueError, match="start must be a datetime or ISO 8601"):
        ws.monitor.report("flight-delay@champion", start="yesterday")
    with pytest.raises(NotFoundError, match="no logged predictions between"):
        ws.monitor.report("flight-delay@champion", start="2014-01-01", end="2014-02-01")
    with pytest.raises(NotFoundError):
        ws.monitor.report("no-such-model@champion")
    assert ws.monitor.list() == []  # nothing stored by a refused call
