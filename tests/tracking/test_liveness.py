"""Dead-run detection in one process, on SQLite and PostgreSQL: what identifies a run's owner,
when a PID check is trusted, and how a run wrongly marked killed recovers.

Several workspaces on one project stand for several processes: each has its own writer, and
only the owner's writer sends a run's heartbeats. (Real processes: test_reliability.py.)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from _catalogs import catalog_env_fixture  # noqa: F401 (the catalog_env fixture)

from weekend.catalog.tables import runs
from weekend.core.ids import now_ms
from weekend.core.process import process_start
from weekend.core.settings import init_project, load_settings
from weekend.workspace import Workspace

NO_BEATS = {"WEEKEND_TRACKING_HEARTBEAT_INTERVAL": "3600"}  # heartbeats only when sent here
Open = Callable[..., Workspace]


@pytest.fixture
def open_ws(catalog_env: dict[str, str], tmp_path: Path) -> Iterator[Open]:
    """Open a workspace on the test's project and catalog (extra ``WEEKEND_*`` as kwargs)."""
    root = init_project(tmp_path / "project")
    opened: list[Workspace] = []

    def make(**env: str) -> Workspace:
        workspace = Workspace(load_settings(root, env={**catalog_env, **NO_BEATS, **env}))
        opened.append(workspace)
        return workspace

    yield make
    for workspace in reversed(opened):
        workspace.close()


def _row(ws: Workspace, run_id: str) -> dict[str, object]:
    with ws.catalog.read() as conn:
        return dict(conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()._mapping)


def _set(ws: Workspace, run_id: str, **values: object) -> None:
    with ws.catalog.begin() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))


def test_a_run_records_who_owns_it(open_ws: Open, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = open_ws()
    row = _row(ws, ws.runs.start("owner").id)
    assert (row["host"], row["pid"]) == (socket.gethostname(), os.getpid())
    files = [Path(p) for p in ("/etc/machine-id", "/var/lib/dbus/machine-id")]
    ids = [f.read_text().strip() for f in files if f.is_file()]
    assert row["machine_id"] == next((i for i in ids if i), "host:" + socket.gethostname())
    assert row["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert row["pid_namespace"] == os.readlink("/proc/self/ns/pid")
    assert row["process_start"] == process_start(os.getpid())
    assert row["lost"] is False
    monkeypatch.setenv("WEEKEND_MACHINE_ID", "container-7")
    monkeypatch.setenv("WEEKEND_PID_NAMESPACE", "pid:[7]")
    row = _row(ws, ws.runs.start("owner").id)
    assert (row["machine_id"], row["pid_namespace"]) == ("container-7", "pid:[7]")


def test_cleanup_leaves_live_runs_alone(open_ws: Open) -> None:
    first, second = open_ws(), open_ws()
    run = first.runs.start("local")
    # same machine, this (live) process, fresh heartbeat: not dead
    assert second.runs.gc().killed == []
    assert not second.runs.get(run.id).stale
    # the owning workspace never kills its own active runs, however old the heartbeat
    _set(first, run.id, heartbeat_at=0)
    assert first.runs.gc().killed == []
    run.end()
    assert first.runs.get(run.id).status == "finished"


def test_a_reused_pid_does_not_keep_a_dead_run_alive(open_ws: Open) -> None:
    """The run's PID is alive (this process), but it started at another time: the process
    that owned the run is gone and the PID was given to another."""
    owner, observer = open_ws(), open_ws()
    run = owner.runs.start("reuse")
    start = _row(owner, run.id)["process_start"]
    assert isinstance(start, int)
    _set(owner, run.id, process_start=start - 1)
    assert observer.runs.get(run.id).stale
    assert observer.runs.gc().killed == [run.id]
    record = observer.runs.get(run.id)
    assert record.status == "killed"
    assert record.error is not None
    assert "the pid now belongs to another process" in record.error


@pytest.mark.parametrize("column", ["host", "machine_id", "boot_id", "pid_namespace"])
def test_a_pid_is_checked_only_when_the_whole_identity_matches(open_ws: Open, column: str) -> None:
    """A run whose PID names no process here, recorded by an owner that differs in any part
    of its identity, is judged by its heartbeat only."""
    owner, observer = open_ws(), open_ws()
    run = owner.runs.start("elsewhere")
    _set(owner, run.id, pid=(1 << 22) + 1, **{column: "other"})
    assert not observer.runs.get(run.id).stale
    assert observer.runs.gc().killed == []
    if column != "host":  # the others are NULL in runs of an older weekend: no PID check
        _set(owner, run.id, **{column: None})
        assert observer.runs.gc().killed == []
    assert observer.runs.get(run.id).status == "running"
    _set(owner, run.id, heartbeat_at=now_ms() - 3_600_000)
    assert observer.runs.gc().killed == [run.id]


def test_a_wrongly_killed_run_recovers_on_its_next_heartbeat(open_ws: Open) -> None:
    owner = open_ws()
    observer = open_ws(WEEKEND_TRACKING_HEARTBEAT_TIMEOUT="60")
    run = owner.runs.start("partition")
    run.log_metric("loss", 1.0)
    _set(owner, run.id, heartbeat_at=now_ms() - 600_000)  # silent for 10 minutes
    assert observer.runs.gc().killed == [run.id]
    assert observer.runs.get(run.id).status == "killed"
    owner.runs._writer._beat()  # the heartbeat the owner's writer sends every interval
    record = observer.runs.get(run.id)
    assert (record.status, record.end_time, record.error) == ("running", None, None)
    assert _row(owner, run.id)["lost"] is False
    run.log_metric("loss", 0.5)
    run.end()
    record = observer.runs.get(run.id)
    assert (record.status, record.error) == ("finished", None)
    assert [p.value for p in observer.runs.metric_history(run.id, "loss")] == [1.0, 0.5]


@pytest.mark.parametrize(("exit_with", "status"), [(None, "finished"), (ValueError, "failed")])
def test_a_wrongly_killed_run_that_ends_normally_gets_its_real_status(
    open_ws: Open, exit_with: type[Exception] | None, status: str
) -> None:
    owner, observer = open_ws(), open_ws(WEEKEND_TRACKING_HEARTBEAT_TIMEOUT="1")
    run = owner.runs.start("partition")
    _set(owner, run.id, heartbeat_at=now_ms() - 600_000)
    assert observer.runs.gc().killed == [run.id]
    if exit_with is None:
        run.end()
    else:
        with pytest.raises(exit_with), run:
            raise exit_with("late failure")
    record = observer.runs.get(run.id)
    assert record.status == status
    assert record.end_time is not None
    assert record.end_time >= record.start_time
    assert (record.error is None) == (exit_with is None)
    assert _row(owner, run.id)["lost"] is False


def test_a_run_ended_on_purpose_is_not_revived(open_ws: Open) -> None:
    """Only a kill by cleanup is undone: a run its owner (or a resumer) ended stays ended."""
    owner, resumer = open_ws(), open_ws()
    run = owner.runs.start("ended")
    resumed = resumer.runs.resume(run.id)  # the resumer's writer now heartbeats it too
    resumed.end("killed", "stopped by hand")
    owner.runs._writer._beat()
    run.end()
    record = owner.runs.get(run.id)
    assert (record.status, record.error) == ("killed", "stopped by hand")


def test_starting_a_run_cleans_up_and_reading_does_not(open_ws: Open) -> None:
    owner = open_ws()
    dead = owner.runs.start("sweep")
    _set(owner, dead.id, heartbeat_at=now_ms() - 600_000)
    owner.runs._writer.unregister(dead.id)  # as if its process had died
    reader = open_ws()
    assert reader.runs.get(dead.id).stale
    assert reader.runs.get(dead.id).status == "running"
    assert [r.id for r in reader.runs.search() if r.stale] == [dead.id]
    starter = open_ws()
    starter.runs.start("sweep").end()
    record = starter.runs.get(dead.id)
    assert (record.status, record.stale) == ("killed", False)
