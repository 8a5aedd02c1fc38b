"""A serving process killed with SIGKILL while it logs: every segment registered before the
kill is readable, holds a prefix of what was appended, and nothing is half-registered.

The child appends one record at a time (``in.seq`` counting up) to a log that writes every
20 ms. It is killed at one of three moments:

- ``blob``: while a segment's Parquet bytes are being written (at the fsync of its file in the
  store's ``tmp/``: the child prints the path and blocks there);
- ``row``: inside the catalog transaction that registers a segment (at its INSERT);
- ``anytime``: once three segments are registered, wherever the child is.

Stopping the child at a chosen point (it prints a line and waits to be killed) makes the
first two land on the exact step, not on a guess of the time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _log_project import open_project

from weekend.core.settings import init_project

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd")

CHILD = textwrap.dedent(
    r"""
    import os, sys, threading, time
    from sqlalchemy import event
    from weekend.core.settings import load_settings
    from weekend.workspace import Workspace

    root, stage, stop_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ws = Workspace(load_settings(root))
    store_tmp = os.path.join(ws.artifacts.root, "tmp")
    seen = 0

    def stop_here(what):
        global seen
        seen += 1
        if seen == stop_at:
            print(what, flush=True)
            threading.Event().wait()  # until SIGKILL

    if stage == "blob":
        real_fsync = os.fsync
        def fsync(fd):
            if os.readlink(f"/proc/self/fd/{fd}").startswith(store_tmp):
                stop_here(os.readlink(f"/proc/self/fd/{fd}"))
            real_fsync(fd)
        os.fsync = fsync
    elif stage == "row":
        @event.listens_for(ws.catalog.engine, "before_cursor_execute")
        def before(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("INSERT INTO PREDICTION_SEGMENTS"):
                stop_here("inserting")

    log = ws.predictions.open_log(flush_seconds=0.02, max_buffer_rows=10_000_000)
    print("started", flush=True)
    seq = 0
    while True:
        log.append([{"request_id": f"r{seq}", "model": "m", "version": 1, "in.seq": seq,
                     "out.prediction": seq % 2}])
        seq += 1
        time.sleep(0.0005)
    """
)


def _segments(root: Path, env: dict[str, str]) -> int:
    with open_project(root, env) as ws:
        return len(ws.predictions.segments("m"))


def _run_and_kill(root: Path, env: dict[str, str], stage: str, stop_at: int) -> str:
    child_env = {**os.environ, **env}
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), stage, str(stop_at)],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "started"
        if stage == "anytime":
            deadline = time.monotonic() + 120
            while _segments(root, env) < 3:
                assert time.monotonic() < deadline, "the child never registered 3 segments"
                time.sleep(0.01)
            where = "after 3 segments"
        else:
            where = process.stdout.readline().strip()  # blocks until the child stops there
            assert where, "the child ended before reaching the stop"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    return where


@pytest.mark.parametrize("stage", ["blob", "row", "anytime"])
@pytest.mark.parametrize(
    "catalog", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_killed_writer_leaves_only_whole_registered_segments(
    stage: str, catalog: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = init_project(tmp_path / "project")
    env = {}
    if catalog == "postgresql":
        env["WEEKEND_CATALOG_URL"] = request.getfixturevalue("postgres_url")
    with open_project(root, env):  # the catalog migrated before the child opens it
        pass
    stop_at = 4
    where = _run_and_kill(root, env, stage, stop_at)

    with open_project(root, env) as ws:
        segments = ws.predictions.segments("m")
        if stage != "anytime":  # the stopped write is the only one missing
            assert len(segments) == stop_at - 1, where
        else:
            assert len(segments) >= 3
        table = ws.predictions.scan("m")  # reads and verifies every registered blob
        seqs = table.column("in.seq").to_pylist()
        assert sorted(seqs) == list(range(len(seqs))), "registered rows are a prefix, once each"
        assert len(seqs) == sum(segment.rows for segment in segments) > 0
        leftovers = list((Path(ws.artifacts.root) / "tmp").glob("*"))
        if stage == "blob":  # the half-written file is in tmp/, under no final name
            assert [p.name for p in leftovers] == [Path(where).name]
        report = ws.gc(grace=0)  # crash leftovers go; registered segments stay
        if stage in ("blob", "row"):
            assert report.files >= 1
        assert ws.predictions.scan("m").column("in.seq").to_pylist() == seqs
        assert not list((Path(ws.artifacts.root) / "tmp").glob("*"))
