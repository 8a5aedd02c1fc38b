"""Tracking conformance: the same cases on every catalog backend (SQLite and PostgreSQL).

One parametrized fixture, ``ws``, hands each test a workspace on a new SQLite file or on a
PostgreSQL database (created once per module, emptied after every test).
"""

from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
import sqlalchemy as sa

from conftest import PG_ADMIN_URL, need_service
from weekend.catalog import Catalog
from weekend.catalog.tables import latest_metrics, metadata, metrics, params, tags
from weekend.core.errors import (
    ConflictError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    ParamConflictError,
)
from weekend.core.settings import init_project, load_settings
from weekend.tracking.runs import Run
from weekend.workspace import Workspace

OpenWs = Callable[[], Workspace]


@pytest.fixture(scope="module")
def pg_catalog_url() -> Iterator[str]:
    """One PostgreSQL database for this module, migrated once, dropped at the end."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    name = "wk_test_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        Catalog(url).dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_catalog(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:  # DELETE is quicker than TRUNCATE on tables this small
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The catalog URL override for one backend ('' means the project's SQLite default)."""
    if request.param == "sqlite":
        yield ""
        return
    url: str = request.getfixturevalue("pg_catalog_url")
    yield url
    _empty_catalog(url)


@pytest.fixture
def open_ws(backend: str, tmp_path: Path) -> Iterator[OpenWs]:
    """Open (another) workspace on the test's project and catalog; all closed at the end."""
    root = init_project(tmp_path / "project")
    env = {"WEEKEND_CATALOG_URL": backend} if backend else {}
    opened: list[Workspace] = []

    def make() -> Workspace:
        workspace = Workspace(load_settings(root, env=env))
        opened.append(workspace)
        return workspace

    yield make
    for workspace in reversed(opened):
        workspace.close()


@pytest.fixture
def ws(open_ws: OpenWs) -> Workspace:
    return open_ws()


def _count(ws: Workspace, table: sa.Table, run_id: str, **where: object) -> int:
    """Rows of ``table`` for a run, read through a fresh connection (not the writer's)."""
    stmt = sa.select(sa.func.count()).select_from(table).where(table.c.run_id == run_id)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    other = Catalog(ws.catalog.url, migrate=False)
    try:
        with other.read() as conn:
            return int(conn.execute(stmt).scalar_one())
    finally:
        other.dispose()


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# -- lifecycle ------------------------------------------------------------------------------


def test_start_and_finish_a_run(ws: Workspace) -> None:
    run = ws.runs.start("churn", name="baseline")
    assert isinstance(run, Run)
    record = ws.runs.get(run.id)
    assert (record.status, record.name, record.experiment) == ("running", "baseline", "churn")
    assert record.end_time is None
    assert record.parent_id is None
    assert record.host == socket.gethostname()
    with run:
        run.log_metric("auc", 0.9)
    assert run.status == "finished"
    record = ws.runs.get(run.id)
    assert record.status == "finished"
    assert record.error is None
    assert record.end_time is not None
    assert record.end_time >= record.start_time
    assert record.metrics == {"auc": 0.9}


def test_default_run_names_and_experiment(ws: Workspace) -> None:
    with ws.runs.start() as run:
        pass
    record = ws.runs.get(run.id)
    assert record.experiment == "default"
    assert record.name == f"run-{run.id[:8]}"
    assert len(run.id) == 32


def test_exception_marks_the_run_failed_and_propagates(ws: Workspace) -> None:
    run = ws.runs.start("churn")

    def train() -> None:
        with run:
            run.log_metric("loss", 0.5)
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError, match="division by zero"):
        train()
    record = ws.runs.get(run.id)
    assert record.status == "failed"
    assert record.error == "ZeroDivisionError: division by zero"
    assert record.metrics == {"loss": 0.5}  # what was logged before the failure is kept
    assert run.status == "failed"


def test_long_exception_messages_are_cut(ws: Workspace) -> None:
    with pytest.raises(ValueError, match=r"x{100}"), ws.runs.start("churn") as run:
        raise ValueError("x" * 10_000)
    error = ws.runs.get(run.id).error
    assert error is not None
    assert error.startswith("ValueError: xxx")
    assert len(error) == 4000


def test_keyboard_interrupt_marks_the_run_killed(ws: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt), ws.runs.start("churn") as run:
        raise KeyboardInterrupt
    record = ws.runs.get(run.id)
    assert (record.status, record.error) == ("killed", "KeyboardInterrupt")


def test_end_is_idempotent_and_checks_the_status(ws: Workspace) -> None:
    run = ws.runs.start("churn")
    with pytest.raises(InvalidValueError, match="status must be one of finished, failed, killed"):
        run.end("done")
    run.end("killed", "stopped by hand")
    run.end("finished")  # no-op
    record = ws.runs.get(run.id)
    assert (record.status, record.error) == ("killed", "stopped by hand")


def test_logging_to_a_finished_run_is_a_conflict(ws: Workspace, tmp_path: Path) -> None:
    with ws.runs.start("churn") as run:
        run.log_metric("loss", 1.0)
    (tmp_path / "f.txt").write_text("x")
    attempts: list[Callable[[], object]] = [
        lambda: run.log_metric("loss", 2.0),
        lambda: run.log_metrics({"loss": 2.0}),
        lambda: run.log_param("lr", 0.1),
        lambda: run.set_tag("t", "v"),
        lambda: run.log_batch([("loss", 1.0, 5)]),
        lambda: run.log_text("late", "late.txt"),
        lambda: run.log_artifact(tmp_path / "f.txt"),
        lambda: run.start_child(),
    ]
    for attempt in attempts:
        with pytest.raises(ConflictError, match=f"run {run.id} is finished; it no longer accepts"):
            attempt()
    record = ws.runs.get(run.id)
    assert record.metrics == {"loss": 1.0}
    assert record.params == {}
    assert record.artifacts == []
    assert record.histories is not None
    assert len(record.histories["loss"]) == 1


def test_nested_runs(ws: Workspace) -> None:
    with ws.runs.start("tuning", name="sweep") as parent:
        with parent.start_child("trial-0", params={"depth": 3}) as child0:
            child0.log_metric("auc", 0.8)
        with ws.runs.start("tuning", parent=parent, name="trial-1") as child1:
            pass
        with ws.runs.start("tuning", parent=parent.id, name="trial-2") as child2:
            pass
    for child in (child0, child1, child2):
        record = ws.runs.get(child.id)
        assert record.parent_id == parent.id
        assert record.experiment == "tuning"
    assert ws.runs.get(child0.id).params == {"depth": "3"}
    assert ws.runs.get(parent.id).parent_id is None
    with pytest.raises(NotFoundError, match="run 'nope' does not exist"):
        ws.runs.start("tuning", parent="nope")


def test_resume_continues_steps_and_refuses_ended_runs(open_ws: OpenWs) -> None:
    first, second = open_ws(), open_ws()
    run = first.runs.start("churn")
    run.log_metric("loss", 1.0)
    run.log_metric("loss", 0.5)
    run.flush()
    again = second.runs.resume(run.id)
    again.log_metric("loss", 0.25)
    again.end()
    history = first.runs.metric_history(run.id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    with pytest.raises(ConflictError, match="is finished; only running runs resume"):
        second.runs.resume(run.id)
    with pytest.raises(NotFoundError, match=r"run '0+' does not exist"):
        second.runs.resume("0" * 32)


def test_unknown_runs_are_not_found(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="run 'missing' does not exist"):
        ws.runs.get("missing")
    with pytest.raises(NotFoundError, match="run 'missing' does not exist"):
        ws.runs.metric_history("missing", "loss")
    with pytest.raises(NotFoundError, match="run 'missing' does not exist"):
        ws.runs.artifacts("missing")
    with pytest.raises(NotFoundError, match="run 'missing' does not exist"):
        ws.runs.delete(["missing"])


# -- params, tags, metrics ---------------------------------------------------------------------


def test_params_tags_and_metrics_round_trip(ws: Workspace) -> None:
    with ws.runs.start("churn", params={"lr": 0.1, "model": "gbm"}, tags={"team": "a"}) as run:
        run.log_params(
            {
                "depth": 6,
                "early_stop": True,
                "seed": None,
                "layers": [64, 32],
                "opts": {"a": 1},
                "n": np.int64(7),
            }
        )
        run.set_tag("team", "b")  # tags may change
        run.set_tags({"stage": "dev", "note": "first try"})
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1))
        run.log_metrics({"auc": 0.7, "f1": 0.6}, step=3)
        run.log_metric("auc", np.float32(0.75), step=4)
        run.log_metric("count", np.int64(12))
    record = ws.runs.get(run.id)
    assert record.params == {
        "lr": "0.1",
        "model": "gbm",
        "depth": "6",
        "early_stop": "True",
        "seed": "None",
        "layers": "[64,32]",
        "opts": '{"a":1}',
        "n": "7",
    }
    assert {k: v for k, v in record.tags.items() if not k.startswith("weekend.")} == {
        "team": "b",
        "stage": "dev",
        "note": "first try",
    }
    assert record.metrics == {"loss": 0.2, "auc": 0.75, "f1": 0.6, "count": 12.0}
    assert record.histories is not None
    assert [(p.step, p.value) for p in record.histories["loss"]] == [
        (s, 1.0 / (s + 1)) for s in range(5)
    ]
    timestamps = [p.timestamp for p in record.histories["loss"]]
    assert timestamps == sorted(set(timestamps))  # every point has its own instant
    assert [(p.step, p.value) for p in record.histories["auc"]] == [(3, 0.7), (4, 0.75)]
    assert ws.runs.metric_history(run.id, "f1")[0].step == 3
    assert ws.runs.metric_history(run.id, "never-logged") == []
    as_dict = record.to_dict()
    assert as_dict["params"]["lr"] == "0.1"
    assert as_dict["histories"]["auc"][0][0] == 3


def test_nan_and_infinities_are_stored_faithfully(ws: Workspace) -> None:
    values = [0.5, math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]
    with ws.runs.start("churn") as run:
        for value in values:
            run.log_metric("x", value)
        run.log_metric("last_nan", 1.0)
        run.log_metric("last_nan", math.nan)
        run.log_metric("last_inf", math.inf)
        run.log_metric("last_ninf", -math.inf)
        run.log_batch([("batch_nan", math.nan, 0), ("batch_inf", math.inf, 0)])
    record = ws.runs.get(run.id)
    assert record.histories is not None
    stored = [p.value for p in record.histories["x"]]
    assert len(stored) == len(values)
    assert all(_same(a, b) for a, b in zip(stored, values, strict=True)), stored
    assert math.isnan(record.metrics["last_nan"])
    assert record.metrics["last_inf"] == math.inf
    assert record.metrics["last_ninf"] == -math.inf
    assert math.isnan(record.metrics["batch_nan"])
    assert record.metrics["batch_inf"] == math.inf
    assert record.metrics["x"] == 5e-324
    assert _count(ws, metrics, run.id, key="x", is_nan=True) == 1
    assert _count(ws, latest_metrics, run.id, key="last_nan", is_nan=True) == 1


def test_latest_metric_is_highest_step_then_latest_timestamp(ws: Workspace) -> None:
    with ws.runs.start("churn") as run:
        run.log_metric("a", 1.0, step=5)
        run.flush()
        run.log_metric("a", 2.0, step=3)  # later, but an earlier step
        run.flush()
        assert ws.runs.get(run.id).metrics["a"] == 1.0
        run.log_metric("a", 3.0, step=5)  # same step, later: wins
        run.flush()
        assert ws.runs.get(run.id).metrics["a"] == 3.0
        # explicit timestamps: an older point at the same step does not win
        run.log_metric("b", 10.0, step=2, timestamp=2_000_000_000.0)
        run.log_metric("b", 20.0, step=2, timestamp=1_000_000_000.0)
        # within one batch, order of arrival does not matter either
        run.log_batch([("c", 9.0, 7), ("c", 1.0, 1), ("c", 5.0, 7, 1.0), ("c", 2.0, 2)])
        # the default step continues after the highest one seen
        run.log_metric("c", 0.0)
    record = ws.runs.get(run.id)
    assert record.metrics["a"] == 3.0
    assert record.metrics["b"] == 10.0
    assert record.metrics["c"] == 0.0
    assert ws.runs.metric_history(run.id, "c")[-1].step == 8
    assert [p.value for p in ws.runs.metric_history(run.id, "b")] == [20.0, 10.0]  # by timestamp


def test_latest_metric_across_batches_ignores_older_steps(ws: Workspace) -> None:
    with ws.runs.start("churn") as run:
        run.log_batch([("m", 1.0, 10)])
        run.log_batch([("m", 2.0, 9), ("m", 3.0, 8)])
        assert ws.runs.get(run.id).metrics["m"] == 1.0
        run.log_batch([("m", 4.0, 11, 1.0)])  # higher step wins despite an old timestamp
    assert ws.runs.get(run.id).metrics["m"] == 4.0


def test_params_are_immutable(ws: Workspace) -> None:
    with ws.runs.start("churn", params={"lr": 0.1, "depth": 3}) as run:
        run.log_param("lr", 0.1)  # the same value again is fine
        run.log_param("depth", "3")  # same text
        with pytest.raises(
            ParamConflictError,
            match=r"param 'lr' of run \w+ is already '0.1'; params are immutable, "
            r"it cannot become '0.2'",
        ):
            run.log_param("lr", 0.2)
        with pytest.raises(ParamConflictError, match="'depth'"):
            run.log_params({"new_key": 1, "depth": 4})  # all or nothing
        run.log_param("new_key", 2)  # so new_key is still free
    record = ws.runs.get(run.id)
    assert record.params == {"lr": "0.1", "depth": "3", "new_key": "2"}
    assert record.status == "finished"


def test_param_conflict_found_at_flush(open_ws: OpenWs) -> None:
    first, second = open_ws(), open_ws()
    run = first.runs.start("churn")
    late = second.runs.resume(run.id)  # knows no params yet
    run.log_param("lr", 0.1)
    run.flush()
    late.log_param("lr", 0.2)  # not known to conflict until it is written
    late.log_param("batch", 32)  # a separate, valid param in the same flush
    with pytest.raises(ParamConflictError, match=r"param 'lr' .* is already '0\.1'"):
        late.flush()
    late.flush()  # the error is reported once
    run.end()
    record = first.runs.get(run.id)
    assert record.params == {"lr": "0.1", "batch": "32"}
    assert record.status == "finished"


def test_param_conflict_at_flush_fails_the_run(open_ws: OpenWs) -> None:
    first, second = open_ws(), open_ws()
    run = first.runs.start("churn")
    late = second.runs.resume(run.id)
    run.log_param("lr", 0.1)
    run.flush()
    with pytest.raises(ParamConflictError, match="params are immutable"), late:
        late.log_param("lr", 0.2)
    record = first.runs.get(run.id)
    assert record.status == "failed"
    assert record.error is not None
    assert record.error.startswith("ParamConflictError: param 'lr'")
    assert record.params == {"lr": "0.1"}


def test_log_batch_writes_before_returning(ws: Workspace) -> None:
    with ws.runs.start("churn", system_info=False) as run:
        run.log_batch(
            [("loss", 0.5, 0), ("loss", 0.4, 1), ("acc", 0.9, 1, 1_700_000_000.5)],
            params={"lr": 0.01},
            tags={"stage": "batch"},
        )
        # read through another connection while the run is still open
        assert _count(ws, metrics, run.id) == 3
        assert _count(ws, latest_metrics, run.id) == 2
        assert _count(ws, params, run.id) == 1
        assert _count(ws, tags, run.id) == 1
    history = ws.runs.metric_history(run.id, "acc")
    assert history[0].timestamp == 1_700_000_000_500_000  # microseconds


def test_retried_batch_with_explicit_timestamps_is_stored_once(ws: Workspace) -> None:
    batch = [("loss", 1.0 / (i + 1), i, 1_700_000_000.0 + i) for i in range(100)]
    with ws.runs.start("churn") as run:
        run.log_batch(batch)
        run.log_batch(batch)  # e.g. a retry after a timeout
        run.log_batch(batch[50:])
    assert _count(ws, metrics, run.id) == 100
    history = ws.runs.metric_history(run.id, "loss")
    assert [p.step for p in history] == list(range(100))
    assert ws.runs.get(run.id).metrics["loss"] == 1.0 / 100


def test_bad_batch_items_log_nothing(ws: Workspace) -> None:
    with ws.runs.start("churn", system_info=False) as run:
        with pytest.raises(InvalidValueError, match=r"metrics\[1\] must be \(key, value, step\)"):
            run.log_batch([("ok", 1.0, 0), ("short", 1.0)], params={"p": 1}, tags={"t": 1})  # type: ignore[list-item]  # deliberately wrong
        with pytest.raises(InvalidValueError, match="metric 'v' must be a real number, got str"):
            run.log_batch([("ok", 1.0, 0), ("v", "abc", 1)], params={"p": 1})  # type: ignore[list-item]  # deliberately wrong
        with pytest.raises(InvalidValueError, match="timestamp of metric 'ok' must be finite"):
            run.log_batch([("ok", 1.0, 0, math.nan)], tags={"t": 1})
        with pytest.raises(InvalidValueError, match="param 'p' has a value of 6001 characters"):
            run.log_batch([("ok", 1.0, 0)], params={"p": "x" * 6001}, tags={"t": 1})
        run.flush()
    record = ws.runs.get(run.id)
    assert record.params == {}
    assert record.tags == {}
    assert record.metrics == {}


# -- bad input ---------------------------------------------------------------------------------


BAD_EXPERIMENT_NAMES = [
    ("../escape", "experiment name '../escape' is not allowed"),
    ("", "experiment name must have 1 to 128 characters, got 0"),
    ("e" * 129, "experiment name must have 1 to 128 characters, got 129"),
    ("a/b", "is not allowed"),
    ("x;drop", "is not allowed"),
]
BAD_METRIC_VALUES = [
    ("abc", "metric 'loss' must be a real number, got str 'abc'"),
    (None, "metric 'loss' must be a real number, got NoneType None"),
    ([1.0], "metric 'loss' must be a real number, got list"),
    (1 + 2j, "metric 'loss' must be a real number, got complex"),
]
BAD_STEPS = [1.5, "3", True, np.float64(2.0)]
BAD_KEYS = ["", " loss", "a;b", "k" * 251, "new\nline"]


def test_invalid_experiment_names(ws: Workspace) -> None:
    for name, message in BAD_EXPERIMENT_NAMES:
        with pytest.raises(InvalidNameError, match=message):
            ws.runs.start(name)
        with pytest.raises(InvalidNameError, match=message):
            ws.experiments.create(name)
    assert ws.experiments.list() == []


def test_bad_metric_values_and_steps_name_the_key(ws: Workspace) -> None:
    with ws.runs.start("churn") as run:
        for value, message in BAD_METRIC_VALUES:
            with pytest.raises(InvalidValueError, match=message):
                run.log_metric("loss", value)  # type: ignore[arg-type]  # deliberately wrong
            with pytest.raises(InvalidValueError, match=message):
                run.log_metrics({"loss": value})  # type: ignore[dict-item]  # deliberately wrong
        for step in BAD_STEPS:
            with pytest.raises(InvalidValueError, match="step of metric 'loss' must be an integer"):
                run.log_metric("loss", 1.0, step=step)  # type: ignore[arg-type]  # deliberately wrong
            with pytest.raises(InvalidValueError, match="step of metric 'loss' must be an integer"):
                run.log_batch([("loss", 1.0, step)])  # type: ignore[list-item]  # deliberately wrong
        run.log_metric("loss", 1.0)  # nothing above advanced the step
        run.log_metric("loss", 2.0, step=np.int64(4))
    assert [p.step for p in ws.runs.metric_history(run.id, "loss")] == [0, 4]


def test_over_long_param_values_write_nothing(ws: Workspace) -> None:
    with ws.runs.start("churn", system_info=False) as run:
        with pytest.raises(
            InvalidValueError,
            match=r"param 'notes' has a value of 6001 characters; at most 6000 are allowed",
        ):
            run.log_params({"ok": 1, "notes": "x" * 6001})
        run.log_param("edge", "y" * 6000)  # the limit itself is fine
        with pytest.raises(InvalidValueError, match="tag 'big' has a value of 8001 characters"):
            run.set_tags({"small": 1, "big": "z" * 8001})
    record = ws.runs.get(run.id)
    assert record.params == {"edge": "y" * 6000}
    assert record.tags == {}


def test_bad_params_or_tags_at_start_leave_no_run(ws: Workspace) -> None:
    with pytest.raises(InvalidValueError, match="param 'notes' has a value of 6001"):
        ws.runs.start("churn", params={"notes": "x" * 6001})
    with pytest.raises(InvalidNameError, match="tag key 'bad;key' is not allowed"):
        ws.runs.start("churn", tags={"bad;key": 1})
    with pytest.raises(NotFoundError, match="run 'no-parent' does not exist"):
        ws.runs.start("churn", parent="no-parent")
    assert [e.runs for e in ws.experiments.list()] in ([], [0])
    assert ws.runs.gc().killed == []


def test_invalid_keys(ws: Workspace) -> None:
    with ws.runs.start("churn") as run:
        for key in BAD_KEYS:
            with pytest.raises(InvalidNameError, match="metric key"):
                run.log_metric(key, 1.0)
            with pytest.raises(InvalidNameError, match="param key"):
                run.log_param(key, 1)
            with pytest.raises(InvalidNameError, match="tag key"):
                run.set_tag(key, 1)
            with pytest.raises(InvalidNameError, match="metric key"):
                run.log_batch([(key, 1.0, 0)])
        with pytest.raises(InvalidNameError, match="metric key must be a string, got int"):
            run.log_metric(7, 1.0)  # type: ignore[arg-type]  # deliberately wrong
    assert ws.runs.get(run.id).metrics == {}


def test_invalid_run_names(ws: Workspace) -> None:
    with pytest.raises(InvalidValueError, match="run name must be 1 to 250 characters"):
        ws.runs.start("churn", name="n" * 251)
    with pytest.raises(InvalidValueError, match="run name must be 1 to 250 characters"):
        ws.runs.start("churn", name="")


def test_bad_timestamps(ws: Workspace) -> None:
    with ws.runs.start("churn") as run:
        for bad in (math.inf, "yesterday"):
            with pytest.raises(
                InvalidValueError, match="timestamp of metric 'loss' must be finite"
            ):
                run.log_metric("loss", 1.0, timestamp=bad)  # type: ignore[arg-type]  # deliberately wrong


# -- delete, purge, experiments -------------------------------------------------------------------


def test_delete_hides_and_purge_removes(ws: Workspace) -> None:
    kept, deleted, purged = (ws.runs.start("churn") for _ in range(3))
    for run in (kept, deleted, purged):
        with run:
            run.log_metric("loss", 1.0)
            run.log_param("p", 1)
            run.log_text("hello", "notes.txt")
    assert ws.runs.delete(deleted.id) == 1
    assert ws.runs.delete([purged.id], purge=True) == 1
    assert ws.runs.get(deleted.id).status == "finished"  # hidden, still readable
    with pytest.raises(NotFoundError):
        ws.runs.get(purged.id)
    for table in (metrics, latest_metrics, params, tags):
        assert _count(ws, table, purged.id) == 0
    assert [e.runs for e in ws.experiments.list()] == [1]
    report = ws.runs.gc(purge_deleted=True)
    assert report.purged == [deleted.id]
    assert report.killed == []
    with pytest.raises(NotFoundError):
        ws.runs.get(deleted.id)
    assert ws.runs.get(kept.id).params == {"p": "1"}
    assert ws.runs.read_artifact(kept.id, "notes.txt") == b"hello"
    with pytest.raises(NotFoundError, match="does not exist"):
        ws.runs.delete(deleted.id)


def test_experiments_list_with_counts(ws: Workspace) -> None:
    created = ws.experiments.create("churn", description="who leaves")
    assert created.name == "churn"
    assert created.description == "who leaves"
    assert ws.experiments.create("churn").id == created.id  # create is idempotent
    for _ in range(3):
        ws.runs.start("churn").end()
    ws.runs.start("delays").end()
    ws.experiments.create("empty")
    listed = {e.name: e for e in ws.experiments.list()}
    assert {name: e.runs for name, e in listed.items()} == {"churn": 3, "delays": 1, "empty": 0}
    assert listed["churn"].id == created.id
    assert listed["churn"].to_dict()["description"] == "who leaves"
    assert ws.experiments.get("delays").name == "delays"
    with pytest.raises(NotFoundError, match="experiment 'nope' does not exist"):
        ws.experiments.get("nope")


def test_two_workspaces_create_the_same_experiment_once(open_ws: OpenWs) -> None:
    first, second = open_ws(), open_ws()
    a = first.runs.start("shared")
    b = second.runs.start("shared")
    assert a.experiment_id == b.experiment_id
    a.end()
    b.end()
    assert [(e.name, e.runs) for e in first.experiments.list()] == [("shared", 2)]


# -- system tags ---------------------------------------------------------------------------------


def test_system_tags(ws: Workspace) -> None:
    with ws.runs.start("churn") as run:
        pass
    found = ws.runs.get(run.id).tags
    assert found["weekend.python"] == platform.python_version()
    assert found["weekend.host"] == socket.gethostname()
    assert found["weekend.user"]
    packages = orjson.loads(found["weekend.packages"])
    assert packages["numpy"] == np.__version__
    assert "weekend" in packages
    assert list(packages) == sorted(packages)
    with ws.runs.start("churn", system_info=False) as bare:
        pass
    assert ws.runs.get(bare.id).tags == {}


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)}
    out = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_git_commit_is_recorded_in_a_repository(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('train')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    commit = _git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("print('changed')\n")  # uncommitted change
    monkeypatch.chdir(repo)
    for name in [n for n in os.environ if n.startswith("WEEKEND_")]:
        monkeypatch.delenv(name)
    if backend:
        monkeypatch.setenv("WEEKEND_CATALOG_URL", backend)
    import weekend as wk

    with wk.init() as ws:
        with ws.runs.start("churn") as run:
            pass
        found = ws.runs.get(run.id).tags
    assert found["weekend.git.commit"] == commit
    assert found["weekend.git.branch"] == "main"
    assert found["weekend.git.dirty"] == "true"
