"""Feedback joined onto scans (by request id and row, or by row key; the last label wins),
checked before anything is stored, written in grouped transactions; retention (prune) and
``weekend gc`` keeping every registered segment."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from _log_project import lws, pws, record

from weekend.core.errors import InvalidNameError, InvalidValueError, UserInputError
from weekend.workspace import Workspace

__all__ = ["lws", "pws"]

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def logged(ws: Workspace) -> None:
    """req-0 .. req-3 (req-3 with a row key), a 2-row request and its shadow twin."""
    log = ws.predictions.open_log(flush_seconds=3600.0)
    log.append([record(i, ts=T0) for i in range(3)] + [record(3, ts=T0, row_key="order-3")])
    pair = [record(10, ts=T0, request_id="pair"), record(11, ts=T0, request_id="pair")]
    log.append(pair)
    log.append([{**r, "route": "shadow", "version": 2} for r in pair])
    log.close()


def labels_by_seq(ws: Workspace, **scan: Any) -> dict[tuple[int, str], Any]:
    rows = ws.predictions.scan("flight-delay", **scan).to_pylist()
    return {(r["in.seq"], r["route"]): r["feedback.label"] for r in rows}


def test_labels_join_by_request_and_row_or_by_row_key(pws: Workspace) -> None:
    logged(pws)
    stored = pws.predictions.feedback(
        "flight-delay",
        [
            {"request_id": "req-0", "label": 1},
            {"request_id": "req-1", "label": 0},
            {"request_id": "req-1", "label": 1},  # later: wins
            {"request_id": "pair", "row": 1, "label": 1},
            {"row_key": "order-3", "label": 0, "ts": "2024-05-02T08:00:00Z"},
            {"request_id": "never-predicted", "label": 1},  # kept, joins nothing
        ],
    )
    assert stored == 6
    assert pws.predictions.feedback("flight-delay", {"request_id": "req-2", "label": 0}) == 1
    assert labels_by_seq(pws) == {
        (0, "primary"): 1,
        (1, "primary"): 1,
        (2, "primary"): 0,
        (3, "primary"): 0,
        (10, "primary"): None,
        (11, "primary"): 1,
        (10, "shadow"): None,
        (11, "shadow"): 1,  # the shadow's row of the same request gets the label too
    }
    rows = pws.predictions.scan("flight-delay").to_pylist()
    by_key = next(r for r in rows if r["row_key"] == "order-3")
    assert by_key["feedback.ts"] == dt.datetime(2024, 5, 2, 8, tzinfo=dt.UTC)
    bare = pws.predictions.scan("flight-delay", with_feedback=False)
    assert "feedback.label" not in bare.column_names
    assert len(pws.predictions.labels("flight-delay")) == 7
    assert pws.predictions.labels("another-model") == []


def test_labels_of_mixed_kinds_are_text_and_no_labels_are_nulls(lws: Workspace) -> None:
    logged(lws)
    no_labels = lws.predictions.scan("flight-delay")
    assert no_labels.column("feedback.label").null_count == no_labels.num_rows
    lws.predictions.feedback("flight-delay", [{"request_id": "req-0", "label": "late"}])
    lws.predictions.feedback("flight-delay", [{"row_key": "order-3", "label": 2.5}])
    labels = labels_by_seq(lws)
    assert (labels[(0, "primary")], labels[(3, "primary")]) == ("late", "2.5")


BAD_FEEDBACK = [
    ({"label": 1}, "items[1].request_id", "exactly one of them"),
    ({"request_id": "a", "row_key": "b", "label": 1}, "items[1].request_id", "exactly one"),
    ({"request_id": "a"}, "items[1].label", "is missing: give the label"),
    ({"request_id": "a", "label": None}, "items[1].label", "is missing"),
    ({"request_id": "a", "label": float("nan")}, "items[1].label", "finite number"),
    ({"request_id": "a", "label": [1]}, "items[1].label", "a string, a number or true/false"),
    ({"request_id": "a", "label": 2**63}, "items[1].label", "within 64 bits"),
    ({"request_id": "a", "label": "x" * 1001}, "items[1].label", "1 to 1000 characters"),
    ({"request_id": "", "label": 1}, "items[1].request_id", "1 to 128 characters"),
    ({"request_id": "a\x00", "label": 1}, "items[1].request_id", "NUL"),
    ({"request_id": "a", "row": -1, "label": 1}, "items[1].row", "position in its request"),
    ({"row_key": "k", "row": 2, "label": 1}, "items[1].row", "row goes with request_id"),
    ({"request_id": "a", "label": 1, "ts": "soon"}, "items[1].ts", "ISO 8601"),
    ({"request_id": "a", "label": 1, "score": 3}, "items[1].score", "unknown field 'score'"),
    ("a label", "items[1]", "must be an object"),
]


@pytest.mark.parametrize(("item", "field", "match"), BAD_FEEDBACK)
def test_a_bad_label_refuses_the_call_before_anything_is_stored(
    lws: Workspace, item: Any, field: str, match: str
) -> None:
    good = {"request_id": "req-0", "label": 1}
    with pytest.raises(InvalidValueError, match=match) as caught:
        lws.predictions.feedback("flight-delay", [good, item])
    assert caught.value.field == field
    assert lws.predictions.labels() == []


def test_a_single_label_names_its_field_alone_and_calls_are_bounded(lws: Workspace) -> None:
    with pytest.raises(InvalidValueError, match="is missing") as caught:
        lws.predictions.feedback("flight-delay", {"request_id": "req-0"})
    assert caught.value.field == "label"
    with pytest.raises(InvalidValueError, match="at most 10000 labels"):
        lws.predictions.feedback("flight-delay", [{"row_key": "k", "label": 1}] * 10_001)
    with pytest.raises(InvalidValueError, match="at least one label"):
        lws.predictions.feedback("flight-delay", [])
    with pytest.raises(InvalidNameError, match="model"):
        lws.predictions.feedback("no/such", {"row_key": "k", "label": 1})
    assert isinstance(caught.value, UserInputError)


def test_concurrent_feedback_calls_are_all_stored(lws: Workspace) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(25):
                lws.predictions.feedback(
                    "flight-delay", [{"row_key": f"{n}-{i}-{j}", "label": j} for j in range(3)]
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    keys = {label.row_key for label in lws.predictions.labels("flight-delay")}
    assert len(keys) == 6 * 25 * 3


def test_prune_removes_whole_old_segments_their_blobs_and_old_labels(lws: Workspace) -> None:
    log = lws.predictions.open_log(flush_seconds=3600.0)
    old = T0 - dt.timedelta(days=100)
    log.append([record(0, ts=old), record(1, ts=old)])
    log.flush()
    log.append([record(2, ts=old), record(3, ts=T0)])  # straddles any cutoff between
    log.flush()
    log.append([record(4, model="eta", ts=old)])
    log.flush()
    lws.predictions.feedback(
        "flight-delay",
        [
            {"request_id": "req-0", "label": 1, "ts": old.isoformat()},
            {"request_id": "req-3", "label": 1, "ts": T0.isoformat()},
        ],
    )
    (first,) = [
        s for s in lws.predictions.segments("flight-delay") if s.rows == 2 and s.max_ts == s.min_ts
    ]
    report = lws.predictions.prune(T0 - dt.timedelta(days=1), model="flight-delay")
    assert (report.segments, report.rows, report.blobs, report.feedback) == (1, 2, 1, 1)
    assert not lws.artifacts.exists(first.sha256)
    seqs = lws.predictions.scan("flight-delay").column("in.seq").to_pylist()
    assert seqs == [2, 3]  # the straddling segment stays whole
    assert lws.predictions.scan("eta").num_rows == 1  # another model: untouched
    everything = lws.predictions.prune("0s")
    assert everything.segments == 2
    assert lws.predictions.segments() == []
    with pytest.raises(InvalidValueError, match="older_than must be a duration like 12h"):
        lws.predictions.prune("ninety days")
    with pytest.raises(InvalidValueError, match="finite, non-negative"):
        lws.predictions.prune(-5)


def test_gc_keeps_every_registered_segment(lws: Workspace) -> None:
    log = lws.predictions.open_log(flush_seconds=3600.0)
    log.append([record(i) for i in range(3)])
    (segment,) = log.flush()
    report = lws.gc(grace=0)
    assert report.kept_referenced >= 1
    assert lws.artifacts.exists(segment.sha256)
    assert lws.predictions.scan("flight-delay").num_rows == 3
