"""Reliability with real processes: concurrent writers, SIGKILL mid-write, dead-run detection
across "machines" sharing a catalog, heartbeat timeouts.

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
from _catalogs import catalog_env_fixture  # noqa: F401 (the catalog_env fixture)
from _child import HELD

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


def _spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Run ``_child.py`` with the caller's environment minus ``WEEKEND_*``, plus ``env``."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WEEKEND_")}
    child_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        env=child_env,
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


# -- a process killed in the middle of a write ----------------------------------------------------


@pytest.fixture
def killed_run(root: Path, tmp_path: Path, catalog_env: dict[str, str]) -> str:
    """The id of a run whose process was SIGKILLed inside a write transaction: the child
    signals from between that transaction's INSERT and its COMMIT."""
    ready = tmp_path / "ready"
    process = _spawn("hold", str(root), str(ready), env=catalog_env)
    try:
        _wait_for(ready, process)
    finally:
        _kill(process)
    return ready.read_text()


@pytest.mark.slow
def test_a_kill_mid_write_loses_only_the_uncommitted_batch(
    root: Path, catalog_env: dict[str, str], killed_run: str
) -> None:
    if not catalog_env:
        _integrity_ok(root)
    with _workspace(root, **catalog_env) as ws:
        record = ws.runs.get(killed_run)
        assert record.status == "running"
        assert record.params == {"lr": "0.1"}
        assert record.histories is not None
        # exactly what was committed before the interrupted write: no hole, no duplicate,
        # nothing of the write the kill landed in
        assert [p.step for p in record.histories["loss"]] == list(range(HELD))
        assert record.metrics["loss"] == HELD - 1


@pytest.mark.slow
def test_a_dead_local_process_run_is_marked_killed(
    root: Path, catalog_env: dict[str, str], killed_run: str
) -> None:
    with _workspace(root, **catalog_env) as ws:
        assert ws.runs.get(killed_run).stale  # seen at once, heartbeat still fresh
        report = ws.runs.gc()
        assert report.killed == [killed_run]
        record = ws.runs.get(killed_run)
        assert (record.status, record.stale) == ("killed", False)
        assert record.error is not None
        assert "ended without ending the run" in record.error
        assert record.end_time is not None
        assert record.end_time >= record.start_time
        assert ws.runs.gc().killed == []  # once is enough


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


@pytest.mark.slow
def test_opening_the_project_writes_nothing(
    root: Path, catalog_env: dict[str, str], killed_run: str
) -> None:
    """Opening and reading write nothing, even with a dead run to clean up: a read-only
    catalog (PostgreSQL here) opens and reads fine. Starting a run cleans up."""
    if catalog_env:
        read_only = catalog_env["WEEKEND_CATALOG_URL"] + (
            "?options=-c%20default_transaction_read_only%3Don"
        )
        with Workspace(load_settings(root, env={"WEEKEND_CATALOG_URL": read_only})) as ws:
            _read_everything(ws, killed_run)
            with ws.catalog.begin() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
                conn.execute(sa.update(runs).values(pid=1))  # the catalog is read-only indeed
    else:
        observer = sqlite3.connect(str(root / ".weekend" / "catalog.db"))
        try:
            before = _data_version(observer)
            with wk.open(root) as ws:
                _read_everything(ws, killed_run)
            assert _data_version(observer) == before  # no other connection committed
            with wk.open(root) as ws:
                ws.runs.start("other").end()
            assert _data_version(observer) != before  # (the check does see commits)
        finally:
            observer.close()
    with _workspace(root, **catalog_env) as ws:
        ws.runs.start("other").end()  # starting a run is a write: it cleans up
        assert ws.runs.get(killed_run).status == "killed"


def _read_everything(ws: Workspace, run_id: str) -> None:
    record = ws.runs.get(run_id)
    assert (record.status, record.stale) == ("running", True)
    assert [r.id for r in ws.runs.search("attributes.status = 'running'")] == [run_id]
    assert ws.runs.search()[0].stale
    assert [e.name for e in ws.experiments.list()] == ["doomed"]
    assert ws.runs.metric_history(run_id, "loss")[-1].step == HELD - 1


# -- dead-run detection across machines -----------------------------------------------------------

UNUSED_PID_BASE = 1 << 22  # above Linux's largest pid_max: no process here has such a pid


def _unused_pid(offset: int) -> int:
    limit = int(Path("/proc/sys/kernel/pid_max").read_text()) if Path("/proc").is_dir() else 0
    return max(limit, UNUSED_PID_BASE) + 1 + offset


@pytest.mark.slow
@pytest.mark.parametrize("differs", ["machine", "pid-namespace"])
def test_two_machines_sharing_a_catalog_never_kill_each_others_live_runs(
    root: Path, tmp_path: Path, catalog_env: dict[str, str], differs: str
) -> None:
    """Two "machines" (two processes that report different machine ids, or different PID
    namespaces as containers on one host do) with the same host name share one catalog.
    Each records its run's PID; on the other machine that PID names no process (simulated by
    rewriting it to one that does not exist here). Each runs dead-run cleanup: neither run
    may be killed, since their heartbeats are fresh."""
    _workspace(root, **catalog_env).close()  # the catalog exists before the children start
    go = tmp_path / "go"
    children = []
    for name in ("a", "b"):
        env = {
            **catalog_env,
            "WEEKEND_TRACKING_HEARTBEAT_INTERVAL": "0.1",
            "WEEKEND_TRACKING_HEARTBEAT_TIMEOUT": "600",
        }
        if differs == "machine":
            env["WEEKEND_MACHINE_ID"] = f"machine-{name}"
        else:
            env["WEEKEND_PID_NAMESPACE"] = f"pid:[{name}]"
        ready, result = tmp_path / f"ready-{name}", tmp_path / f"result-{name}.json"
        process = _spawn("live", str(root), str(ready), str(go), str(result), env=env)
        children.append((process, ready, result))
    run_ids = []
    for process, ready, _ in children:
        _wait_for(ready, process)
        run_ids.append(ready.read_text())
    with _workspace(root, **catalog_env) as ws, ws.catalog.begin() as conn:
        for offset, run_id in enumerate(run_ids):
            conn.execute(sa.update(runs).where(runs.c.id == run_id).values(pid=_unused_pid(offset)))
    go.touch()
    for process, _, result in children:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        assert json.loads(result.read_text())["killed"] == []
    with _workspace(root, **catalog_env) as ws:
        for run_id in run_ids:
            record = ws.runs.get(run_id)
            assert (record.status, record.error) == ("finished", None)


@pytest.mark.slow
def test_a_dead_run_of_another_machine_waits_for_the_heartbeat_timeout(
    root: Path, tmp_path: Path, catalog_env: dict[str, str]
) -> None:
    ready = tmp_path / "ready"
    env = {**catalog_env, "WEEKEND_MACHINE_ID": "elsewhere"}
    process = _spawn("hold", str(root), str(ready), env=env)
    try:
        _wait_for(ready, process)
    finally:
        _kill(process)
    run_id = ready.read_text()
    with _workspace(root, **catalog_env) as ws:
        assert not ws.runs.get(run_id).stale  # its pid means nothing here
        assert ws.runs.gc().killed == []
        last_beat = now_ms() - 600_000
        with ws.catalog.begin() as conn:
            conn.execute(sa.update(runs).where(runs.c.id == run_id).values(heartbeat_at=last_beat))
        assert ws.runs.get(run_id).stale
        assert ws.runs.gc().killed == [run_id]
        record = ws.runs.get(run_id)
        assert record.status == "killed"
        assert record.end_time == last_beat  # it ended when it was last heard of
        assert record.error is not None
        assert "stopped sending heartbeats: none for 600 s" in record.error


# -- the artifact store when a writer is killed ---------------------------------------------------


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
