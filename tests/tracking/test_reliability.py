"""Reliability with real processes: concurrent writers, SIGKILL mid-run, heartbeat timeouts.

Children run ``_child.py`` (beside this file) as a script, so they share nothing with the
test process but the project folder.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import weekend as wk
from weekend.artifacts import ArtifactStore
from weekend.catalog.tables import metrics, runs
from weekend.core.hashing import sha256_file
from weekend.core.ids import now_ms
from weekend.core.settings import init_project, load_settings
from weekend.workspace import Workspace

CHILD = Path(__file__).with_name("_child.py")
PROCESSES = 8
POINTS = 2000


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEEKEND_")}
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(
                f"child exited with {process.returncode} before {path.name}:\n{err.decode()}"
            )
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"child did not write {path.name} within {timeout} s")
        time.sleep(0.01)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)  # reap it: a zombie still answers kill(pid, 0)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture(autouse=True)
def _project_settings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``wk.open`` here must read the project's settings, not overrides of the caller."""
    for name in list(os.environ):
        if name.startswith("WEEKEND_") and name != "WEEKEND_REQUIRE_SERVICES":
            monkeypatch.delenv(name)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return init_project(tmp_path / "project")


def _workspace(root: Path, **env: str) -> Workspace:
    return Workspace(load_settings(root, env=env))


def _integrity_ok(root: Path) -> None:
    conn = sqlite3.connect(str(root / ".weekend" / "catalog.db"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


# -- concurrent writers ---------------------------------------------------------------------------


@pytest.mark.slow
def test_processes_logging_into_one_sqlite_catalog_lose_and_duplicate_nothing(
    root: Path, tmp_path: Path
) -> None:
    wk.open(root).close()  # the catalog exists before the children race on it
    go = tmp_path / "go"
    children = []
    for index in range(PROCESSES):
        ready, result = tmp_path / f"ready-{index}", tmp_path / f"result-{index}.json"
        process = _spawn(
            "log", str(root), str(index), str(POINTS), str(go), str(ready), str(result)
        )
        children.append((process, ready, result))
    for process, ready, _ in children:
        _wait_for(ready, process)
    go.touch()  # all start logging at the same moment
    expected = []
    for process, _, result in children:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        expected.append(json.loads(result.read_text()))

    _integrity_ok(root)
    with _workspace(root) as ws:
        with ws.catalog.read() as conn:
            counted = conn.execute(
                sa.select(metrics.c.run_id, metrics.c.key, sa.func.count()).group_by(
                    metrics.c.run_id, metrics.c.key
                )
            ).all()
            distinct_steps = conn.execute(
                sa.select(
                    metrics.c.run_id,
                    metrics.c.key,
                    sa.func.count(sa.distinct(metrics.c.step)),
                ).group_by(metrics.c.run_id, metrics.c.key)
            ).all()
        counts = {(r, k): n for r, k, n in counted}
        steps = {(r, k): n for r, k, n in distinct_steps}
        assert len({e["run_id"] for e in expected}) == PROCESSES
        for entry in expected:
            run_id = entry["run_id"]
            for key, n in entry["counts"].items():
                assert counts[(run_id, key)] == n, (run_id, key)
                assert steps[(run_id, key)] == n, (run_id, key)  # each step exactly once
            record = ws.runs.get(run_id)
            assert record.status == "finished"
            assert record.metrics["loss"] == entry["last_loss"]
            assert record.metrics["val"] == 149.0
            assert len(record.params) == entry["params"]
            assert record.tags["batch"] == "2"
        assert sum(counts.values()) == sum(sum(e["counts"].values()) for e in expected)
        assert [(e.name, e.runs) for e in ws.experiments.list()] == [("concurrent", PROCESSES)]


# -- a process killed in the middle of a run -------------------------------------------------------


@pytest.fixture
def killed_run(root: Path, tmp_path: Path) -> str:
    """The id of a run whose process was SIGKILLed while logging."""
    ready = tmp_path / "ready"
    process = _spawn("hold", str(root), str(ready))
    try:
        _wait_for(ready, process)
        time.sleep(0.05)  # let it get back into the middle of its writes
    finally:
        _kill(process)
    return ready.read_text()


@pytest.mark.slow
def test_sigkilled_run_stays_running_until_gc(root: Path, killed_run: str) -> None:
    _integrity_ok(root)
    with _workspace(root) as ws:
        record = ws.runs.get(killed_run)
        assert record.status == "running"
        assert record.params == {"lr": "0.1"}
        assert record.histories is not None
        steps = [p.step for p in record.histories["loss"]]
        assert len(steps) >= 200  # all that was flushed before the ready signal
        assert steps == list(range(len(steps)))  # a prefix, without holes or duplicates
        report = ws.runs.gc()
        assert report.killed == [killed_run]
        record = ws.runs.get(killed_run)
        assert record.status == "killed"
        assert record.error is not None
        assert "stopped sending heartbeats" in record.error
        assert record.end_time is not None
        assert record.end_time >= record.start_time
        assert ws.runs.gc().killed == []  # once is enough


@pytest.mark.slow
def test_opening_the_project_marks_a_dead_run_killed(root: Path, killed_run: str) -> None:
    with wk.open(root) as ws:
        assert ws.runs.get(killed_run).status == "killed"
    _integrity_ok(root)


def test_gc_marks_runs_of_other_hosts_killed_after_the_heartbeat_timeout(root: Path) -> None:
    slow_beats = {"WEEKEND_TRACKING_HEARTBEAT_INTERVAL": "3600"}
    last_beat = now_ms() - 600_000
    with _workspace(root, **slow_beats) as elsewhere:
        silent = elsewhere.runs.start("remote")
        alive = elsewhere.runs.start("remote")
        with elsewhere.catalog.begin() as conn:
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == silent.id)
                .values(host="another-host", pid=1, heartbeat_at=last_beat)
            )
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == alive.id)
                .values(host="another-host", pid=1, heartbeat_at=now_ms() + 60_000)
            )
        with _workspace(root, WEEKEND_TRACKING_HEARTBEAT_TIMEOUT="0.5", **slow_beats) as observer:
            report = observer.runs.gc()
            assert report.killed == [silent.id]
            record = observer.runs.get(silent.id)
            assert record.status == "killed"
            assert record.end_time == last_beat  # it ended when it was last heard of
            assert record.error is not None
            assert "heartbeats" in record.error
            assert observer.runs.get(alive.id).status == "running"
        with _workspace(root, WEEKEND_TRACKING_HEARTBEAT_TIMEOUT="3600", **slow_beats) as patient:
            assert patient.runs.gc().killed == []
        # the writer of a run that was declared dead does not bring it back
        silent.log_metric("late", 1.0)
        silent.end()
        alive.end()
        assert elsewhere.runs.get(silent.id).status == "killed"
        assert elsewhere.runs.get(alive.id).status == "finished"


def test_gc_leaves_live_runs_alone(root: Path) -> None:
    with _workspace(root) as first, _workspace(root) as second:
        run = first.runs.start("local")
        # same host, this (live) process, fresh heartbeat: not dead
        assert second.runs.gc().killed == []
        # the owning workspace never kills its own active runs, however old the heartbeat
        with first.catalog.begin() as conn:
            conn.execute(sa.update(runs).where(runs.c.id == run.id).values(heartbeat_at=0))
        assert first.runs.gc().killed == []
        run.end()
        assert first.runs.get(run.id).status == "finished"


# -- the artifact store when a writer is killed ----------------------------------------------------


@pytest.mark.slow
def test_killed_put_file_leaves_no_partial_blob(tmp_path: Path) -> None:
    store_root = tmp_path / "store"
    fifo = tmp_path / "stream.fifo"
    os.mkfifo(fifo)
    ready = tmp_path / "ready"
    process = _spawn("put", str(store_root), str(fifo), str(ready))
    try:
        _wait_for(ready, process)
    finally:
        _kill(process)

    store = ArtifactStore(str(store_root))
    blobs = [p for p in (store_root / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 3  # the complete ones, and nothing of the interrupted one
    for blob in blobs:
        name = blob.parent.name + blob.name
        assert sha256_file(blob) == name
        store.verify(name)
    leftovers = [p for p in store_root.rglob("*") if p.is_file() and p not in blobs]
    assert leftovers, "the kill should have interrupted a write in progress"
    assert all(p.parent == store_root / "tmp" and p.suffix == ".part" for p in leftovers)
    assert sum(p.stat().st_size for p in leftovers) >= 1 << 20  # it was in the middle
    assert store.clean_tmp() == len(leftovers)
    assert list((store_root / "tmp").iterdir()) == []
