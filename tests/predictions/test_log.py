"""The prediction log: records checked at the call, segments per model version, scans,
back-pressure, retries, personal data, closing; on SQLite and PostgreSQL catalogs."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from _log_project import lws, open_project, pws, record

from weekend.artifacts import ArtifactStore
from weekend.core.errors import (
    ConflictError,
    InvalidNameError,
    InvalidValueError,
    UserInputError,
)
from weekend.predictions import SCHEMA, PredictionLog
from weekend.workspace import Workspace

__all__ = ["lws", "pws"]

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until ``condition()`` holds (the timeout only bounds a hang; nothing is timed)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def quiet_log(ws: Workspace, **options: Any) -> PredictionLog:
    """A log that writes only when flushed (or at flush_rows)."""
    return ws.predictions.open_log(**{"flush_seconds": 3600.0, **options})


def test_records_round_trip_through_one_segment(pws: Workspace) -> None:
    log = quiet_log(pws)
    log.append([record(i, ts=T0 + dt.timedelta(seconds=i)) for i in range(3)])
    two_rows = {"request_id": "batch-1", "model": "flight-delay", "version": 1}
    log.append([{**two_rows, "in.seq": 10}, {**two_rows, "in.seq": 11, "row_key": "k-11"}])
    assert log.stats().buffered == 5
    (segment,) = log.flush()
    assert (segment.model, segment.version, segment.rows) == ("flight-delay", 1, 5)
    table = pws.predictions.scan("flight-delay", with_feedback=False)
    assert table.schema.names[: len(SCHEMA)] == SCHEMA.names
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    rows = table.to_pylist()
    assert [r["in.seq"] for r in rows] == [0, 1, 2, 10, 11]
    assert rows[1]["ts"] == T0 + dt.timedelta(seconds=1)
    assert rows[1]["in.carrier"] == "UA"
    assert rows[1]["out.proba.1"] == 0.75
    assert rows[1]["latency_us"] == 401
    assert rows[1]["alias"] == "champion"
    batch = rows[3:]
    assert [r["row"] for r in batch] == [0, 1]  # positions in the request, filled
    assert [r["route"] for r in batch] == ["primary", "primary"]  # the default route
    assert batch[1]["row_key"] == "k-11"
    assert batch[0]["alias"] is None
    assert batch[0]["ts"] > T0  # filled with the time of the append
    assert segment.min_ts == int(T0.timestamp() * 1e6)
    assert segment.max_ts == max(int(r["ts"].timestamp() * 1e6) for r in rows)
    assert log.stats().written == 5
    assert log.stats().buffered == 0


def test_one_segment_per_model_version_and_kinds_unified_across_versions(lws: Workspace) -> None:
    log = quiet_log(lws)
    log.append([record(0), record(1, version=2) | {"in.distance": "far"}, record(2, model="eta")])
    segments = log.flush()
    assert sorted((s.model, s.version) for s in segments) == [
        ("eta", 1),
        ("flight-delay", 1),
        ("flight-delay", 2),
    ]
    both = lws.predictions.scan("flight-delay", with_feedback=False)
    assert both.column("version").to_pylist() == [1, 2]
    # a float in version 1, a string in version 2: one column, as text
    assert both.schema.field("in.distance").type == pa.string()
    assert both.column("in.distance").to_pylist() == ["100", "far"]
    second = lws.predictions.scan("flight-delay", versions=[2], with_feedback=False)
    assert second.column("in.seq").to_pylist() == [1]
    assert lws.predictions.scan("eta", with_feedback=False).num_rows == 1
    assert lws.predictions.scan("nothing-logged").num_rows == 0


def test_scan_reads_a_half_open_time_window(lws: Workspace) -> None:
    log = quiet_log(lws, flush_rows=2)
    log.append([record(i, ts=T0 + dt.timedelta(hours=i)) for i in range(6)])
    log.flush()
    window = lws.predictions.scan("flight-delay", T0 + dt.timedelta(hours=1), "2024-05-01T15:00Z")
    assert window.column("in.seq").to_pylist() == [1, 2]
    naive = lws.predictions.scan("flight-delay", start=dt.datetime(2024, 5, 1, 16))
    assert naive.column("in.seq").to_pylist() == [4, 5]  # naive times are UTC
    with pytest.raises(InvalidValueError, match="start must be before end"):
        lws.predictions.scan("flight-delay", "2024-05-02", "2024-05-01")
    with pytest.raises(InvalidValueError, match="start must be a datetime or an ISO 8601"):
        lws.predictions.scan("flight-delay", "yesterday")
    with pytest.raises(InvalidNameError, match="model"):
        lws.predictions.scan("../etc")


BAD_RECORDS = [
    ({"request_id": None}, "records[1].request_id", "must be a string of 1 to 128"),
    ({"request_id": "x" * 129}, "records[1].request_id", "1 to 128 characters"),
    ({"model": "a/b"}, "records[1].model", "is not allowed"),
    ({"version": 0}, "records[1].version", "integer from 1"),
    ({"version": "1"}, "records[1].version", "integer from 1"),
    ({"route": "side"}, "records[1].route", "primary, canary, shadow"),
    ({"latency_us": -1}, "records[1].latency_us", "integer from 0"),
    ({"ts": "2024-05-01"}, "records[1].ts", "must be a datetime or microseconds"),
    ({"distance": 3.0}, "records[1].distance", "unknown column 'distance'"),
    ({"in.": 3.0}, "records[1].in.", "unknown column"),
    ({"in.x": [1, 2]}, "records[1].in.x", "must be null, a boolean, a number"),
    ({"in.x": 2**64}, "records[1].in.x", "integer within 64 bits"),
    ({"row_key": "a\x00b"}, "records[1].row_key", "NUL"),
]


@pytest.mark.parametrize(("change", "field", "match"), BAD_RECORDS)
def test_a_bad_record_is_refused_at_the_call_and_nothing_of_the_call_kept(
    lws: Workspace, change: dict[str, Any], field: str, match: str
) -> None:
    log = quiet_log(lws)
    bad = {**record(1), **change}
    with pytest.raises(UserInputError, match=match) as caught:
        log.append([record(0), bad, record(2)])
    assert caught.value.field == field
    assert log.stats().appended == 0
    assert log.flush() == []


def test_missing_identity_and_a_column_changing_kind_are_refused(lws: Workspace) -> None:
    log = quiet_log(lws)
    without = record(0)
    del without["version"]
    with pytest.raises(InvalidValueError, match=r"records\[0\]\.version is missing"):
        log.append([without])
    with pytest.raises(InvalidValueError, match="must be a list of dicts or a pyarrow Table"):
        log.append("not records")  # type: ignore[arg-type]
    log.append([record(0)])
    with pytest.raises(InvalidValueError, match="holds string values here but number") as caught:
        log.append([record(1) | {"in.distance": "far"}])
    assert caught.value.field == "records[0].in.distance"
    log.append([record(2) | {"in.distance": None}])  # null fits any kind
    log.append([record(3, version=2) | {"in.distance": "far"}])  # another version: its own
    assert sum(s.rows for s in log.flush()) == 3


def test_an_arrow_table_is_appended_as_it_is(lws: Workspace) -> None:
    log = quiet_log(lws)
    table = pa.table(
        {
            "request_id": ["t-0", "t-1", "t-2"],
            "model": ["flight-delay", "flight-delay", "eta"],
            "version": pa.array([3, 3, 1], pa.int64()),
            "in.distance": [1.0, 2.0, 3.0],
            "out.prediction": [0, 1, 1],
        }
    )
    log.append(table)
    assert sorted((s.model, s.version, s.rows) for s in log.flush()) == [
        ("eta", 1, 1),
        ("flight-delay", 3, 2),
    ]
    rows = lws.predictions.scan("flight-delay", with_feedback=False).to_pylist()
    assert [(r["request_id"], r["row"], r["route"]) for r in rows] == [
        ("t-0", 0, "primary"),
        ("t-1", 1, "primary"),
    ]
    with pytest.raises(InvalidValueError, match=r"records\.version must be int32"):
        log.append(table.set_column(2, "version", pa.array(["3", "3", "1"])))
    with pytest.raises(InvalidValueError, match="unknown column 'extra'"):
        log.append(table.append_column("extra", pa.array([1, 2, 3])))


def test_the_thread_writes_at_flush_rows_and_every_flush_seconds(lws: Workspace) -> None:
    by_size = quiet_log(lws, flush_rows=5)
    by_size.append([record(i) for i in range(4)])
    by_size.append([record(4)])
    wait_for(lambda: by_size.stats().written == 5, "a write at flush_rows")
    by_time = lws.predictions.open_log(flush_seconds=0.05)
    by_time.append([record(10, model="eta")])
    wait_for(lambda: by_time.stats().written == 1, "a write after flush_seconds")
    assert [s.rows for s in lws.predictions.segments("eta")] == [1]
    assert by_time.stats().lag_seconds == 0.0
    assert by_time.pending == 0


def test_a_full_buffer_drops_the_newest_calls_and_never_blocks(
    lws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """The catalog is locked by another writer: the log's thread waits on it, appends do not;
    beyond max_buffer_rows a call is dropped whole and counted."""
    log = quiet_log(lws, flush_rows=10, max_buffer_rows=20)
    database = lws.settings.catalog_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(database, isolation_level=None, timeout=60)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        log.append([record(i) for i in range(10)])  # reaches flush_rows: the thread writes
        wait_for(lambda: log.pending == 0, "the thread to take the buffer")
        log.append([record(i) for i in range(10, 25)])  # 15 waiting: accepted
        log.append([record(i) for i in range(25, 30)])  # 20 waiting: still accepted
        with caplog.at_level(logging.WARNING, logger="weekend.predictions"):
            log.append([record(30), record(31)])  # 22 > 20: dropped, both
            log.append([record(32)])  # dropped too; reported with the next warning
        stats = log.stats()
        assert (stats.appended, stats.buffered, stats.dropped_full) == (30, 20, 3)
        assert stats.written == 0  # the first write is still waiting for the lock
        assert "buffer is full" in caplog.text
        assert "dropped 2 rows" in caplog.text
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    log.flush()
    seqs = lws.predictions.scan("flight-delay", with_feedback=False).column("in.seq").to_pylist()
    assert sorted(seqs) == list(range(30))
    assert log.dropped == 3


def test_a_failed_write_keeps_its_rows_and_is_retried(lws: Workspace, tmp_path: Path) -> None:
    """The artifact store cannot write (a file sits where its tmp/ folder goes): the rows
    stay buffered, counted, and are written once the store works again."""
    root = tmp_path / "store"
    root.mkdir()
    (root / "tmp").write_text("not a folder")
    log = PredictionLog(lws.catalog, ArtifactStore(str(root)), flush_seconds=3600.0)
    log.append([record(i) for i in range(3)])
    with pytest.raises(OSError, match=r"Not a directory|File exists"):
        log.flush()
    stats = log.stats()
    assert (stats.buffered, stats.written, stats.failed_writes) == (3, 0, 1)
    assert stats.last_error is not None
    assert stats.oldest_buffered_us is not None
    log.append([record(3)])  # new rows join the kept ones
    (root / "tmp").unlink()
    assert sum(s.rows for s in log.flush()) == 4
    assert log.stats().buffered == 0
    log.close()


def test_inputs_are_dropped_or_hashed_before_anything_is_written(lws: Workspace) -> None:
    key = "pepper"
    log = quiet_log(lws, drop_inputs=["phone"], hash_inputs=["email", "row_key"], hash_key=key)
    log.append([record(0, row_key="cust-7") | {"in.email": "ada@example.com", "in.phone": "555"}])
    (segment,) = log.flush()
    row = lws.predictions.scan("flight-delay", with_feedback=False).to_pylist()[0]
    assert "in.phone" not in row
    expected = hmac.new(key.encode(), b"ada@example.com", hashlib.sha256).hexdigest()
    assert row["in.email"] == expected
    assert row["row_key"] == hmac.new(key.encode(), b"cust-7", hashlib.sha256).hexdigest()
    stored = lws.artifacts.read_bytes(segment.sha256)
    assert b"555" not in stored
    assert b"ada@example.com" not in stored
    unkeyed = quiet_log(lws, hash_inputs=["in.email"])
    unkeyed.append([record(1) | {"in.email": "bob@example.com"}])
    unkeyed.flush()
    last = lws.predictions.scan("flight-delay", with_feedback=False).to_pylist()[-1]
    assert last["in.email"] == hashlib.sha256(b"bob@example.com").hexdigest()
    with pytest.raises(InvalidValueError, match="both dropped and hashed"):
        quiet_log(lws, drop_inputs=["email"], hash_inputs=["in.email"])
    with pytest.raises(InvalidValueError, match=r"hash_inputs\[0\] must name an input"):
        quiet_log(lws, hash_inputs=["out.prediction"])


def test_options_come_from_the_settings_and_are_checked(project: Path) -> None:
    (project / "weekend.toml").write_text(
        '[predictions]\nflush_rows = 7\nflush_seconds = 2.5\ndrop_inputs = ["phone"]\n'
    )
    with open_project(project, {"WEEKEND_PREDICTIONS_MAX_BUFFER_ROWS": "70"}) as ws:
        log = ws.predictions.open_log(flush_seconds=1.0)
        assert (log.flush_rows, log.flush_seconds, log.max_buffer_rows) == (7, 1.0, 70)
        assert log.privacy.drop == ("in.phone",)
        with pytest.raises(InvalidValueError, match="unknown option 'flush_every'"):
            ws.predictions.open_log(flush_every=3)
        with pytest.raises(InvalidValueError, match=r"max_buffer_rows .* must be at least"):
            ws.predictions.open_log(max_buffer_rows=3)
        with pytest.raises(InvalidValueError, match="flush_seconds must be finite and > 0"):
            ws.predictions.open_log(flush_seconds=float("nan"))


def test_close_writes_the_rest_and_refuses_later_appends(lws: Workspace) -> None:
    log = quiet_log(lws)
    log.append([record(0)])
    log.close()
    log.close()  # idempotent
    assert lws.predictions.scan("flight-delay").num_rows == 1
    with pytest.raises(ConflictError, match="the prediction log is closed"):
        log.append([record(1)])
    other = quiet_log(lws)
    other.append([record(2)])
    lws.close()  # the workspace closes the logs it opened
    with open_project(lws.root) as again:
        assert again.predictions.scan("flight-delay").num_rows == 2


def test_the_buffer_is_written_when_the_interpreter_exits(lws: Workspace) -> None:
    child = textwrap.dedent(
        f"""
        from weekend.core.settings import load_settings
        from weekend.workspace import Workspace
        ws = Workspace(load_settings({str(lws.root)!r}))
        log = ws.predictions.open_log(flush_seconds=3600.0)
        log.append([{{"request_id": "at-exit", "model": "flight-delay", "version": 1}}])
        """
    )
    subprocess.run([sys.executable, "-c", child], check=True, timeout=120)
    rows = lws.predictions.scan("flight-delay").to_pylist()
    assert [r["request_id"] for r in rows] == ["at-exit"]


def test_concurrent_appends_are_all_written(lws: Workspace) -> None:
    log = lws.predictions.open_log(flush_seconds=0.01, flush_rows=50)

    def worker(start: int) -> None:
        for i in range(start, start + 200):
            log.append([record(i)])

    threads = [threading.Thread(target=worker, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    seqs = lws.predictions.scan("flight-delay").column("in.seq").to_pylist()
    assert sorted(seqs) == [n * 1000 + i for n in range(4) for i in range(200)]


def test_relation_is_the_scan_in_duckdb(lws: Workspace) -> None:
    log = quiet_log(lws)
    log.append([record(i) for i in range(4)])
    log.flush()
    relation = lws.predictions.relation("flight-delay")
    assert relation.aggregate('count(*), sum("in.seq")').fetchall() == [(4, 6)]
