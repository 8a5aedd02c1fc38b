"""Crash leftovers and ``weekend gc``: real processes killed mid-registration, on SQLite and
PostgreSQL.

The child runs :data:`CHILD` with ``os.fsync`` wrapped: at the chosen fsync of a file in the
store's ``tmp/`` (the copy is written, not yet renamed into place) it prints the file's path
on stdout and blocks; the test reads that line from the pipe and kills it with SIGKILL, so
the kill always lands with the registration half done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from weekend.artifacts import ArtifactStore, new_scratch_dir, scratch_dir
from weekend.artifacts._scratch import owner_tag
from weekend.artifacts.gc import collect_garbage, parse_grace
from weekend.catalog.references import NOT_BLOB_COLUMNS, REFERENCE_COLUMNS
from weekend.catalog.tables import metadata
from weekend.core.errors import IntegrityError, InvalidValueError
from weekend.workspace import Workspace

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd")

HOUR = 3600.0

CHILD = r"""
import os, sys, threading
from pathlib import Path

project, store_tmp, what, stop_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
real_fsync = os.fsync
seen = 0

def fsync(fd):
    global seen
    path = os.readlink(f"/proc/self/fd/{fd}")
    if path.startswith(store_tmp):
        seen += 1
        if seen == stop_at:
            print(path, flush=True)
            threading.Event().wait()  # until SIGKILL
    real_fsync(fd)

os.fsync = fsync

import numpy as np
import pandas as pd
import weekend as wk

ws = wk.open(project)
rng = np.random.default_rng(7)
frame = pd.DataFrame({"x": np.arange(300_000), "y": rng.random(300_000)})
if what == "dataset":
    ws.datasets.register("flights", frame)
else:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(frame[["x"]].head(100), frame["y"].head(100))
    ws.models.register(model, "delays")
raise SystemExit("the registration finished before the kill")
"""


@pytest.fixture
def ws(ws_any: Workspace) -> Workspace:
    """Every workspace test here runs on both catalogs."""
    return ws_any


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder of the children and of this process, watched by the collector
    (never the machine's own: other processes' scratch lives there)."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _age(path: Path, seconds: float) -> None:
    """Set back the modification time of a file, or of a folder and everything in it."""
    when = time.time() - seconds
    items = [path, *path.rglob("*")] if path.is_dir() else [path]
    for item in items:
        os.utime(item, (when, when))


def _kill_mid_registration(
    root: Path, env: dict[str, str], scratch: Path, what: str, stop_at: int
) -> tuple[Path, int]:
    """Run a registration in a child and SIGKILL it at the ``stop_at``-th staged write.
    Returns the staged file it was writing and the child's pid."""
    store_tmp = root / ".weekend" / "artifacts" / "tmp"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WEEKEND_")}
    child_env.update(env, TMPDIR=str(scratch))
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(store_tmp), what, str(stop_at)],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()  # blocks until the child is in place
    if not line:
        _, err = process.communicate(timeout=60)
        pytest.fail(f"child exited with {process.returncode} before the kill:\n{err.decode()}")
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)  # reaped: a zombie would still answer kill(pid, 0)
    assert process.returncode == -signal.SIGKILL
    return Path(line), process.pid


def test_a_kill_mid_dataset_registration_leaves_a_tmp_file_that_gc_removes_after_the_grace(
    project: Path, catalog_env: dict[str, str], ws: Workspace, scratch: Path
) -> None:
    partial, pid = _kill_mid_registration(project, catalog_env, scratch, "dataset", stop_at=1)
    store = ws.artifacts
    tmp = project / ".weekend" / "artifacts" / "tmp"
    # the leftover: the staged copy of the data, named after the dead writer
    assert [p.name for p in tmp.iterdir()] == [partial.name]
    assert partial.name.startswith(owner_tag().rsplit("-", 1)[0] + f"-{pid}.")
    assert partial.stat().st_size > 100_000
    leftover_scratch = sorted(p.name for p in scratch.iterdir())
    assert leftover_scratch, "the kill should also leave the registration's scratch folders"
    assert all(name.startswith("weekend-") for name in leftover_scratch)

    # younger than the grace period: kept
    report = collect_garbage(ws.catalog, store, grace="1h", scratch_root=scratch)
    assert report.removed == []
    assert report.kept_recent >= 1 + len(leftover_scratch)
    assert partial.exists()

    _age(partial, 2 * HOUR)
    for item in scratch.iterdir():
        _age(item, 2 * HOUR)
    fresh = tmp / "0123abcd-999999999.fresh.part"  # another writer's, just written
    fresh.write_bytes(b"in progress")
    size = partial.stat().st_size
    dry = collect_garbage(ws.catalog, store, grace="1h", dry_run=True, scratch_root=scratch)
    assert dry.files == 1 + len(leftover_scratch)
    assert partial.exists()  # a dry run removes nothing

    report = collect_garbage(ws.catalog, store, grace=timedelta(hours=1), scratch_root=scratch)
    assert report.by_kind()["tmp"] == {"files": 1, "bytes": size}
    assert report.by_kind()["scratch"]["files"] == len(leftover_scratch)
    assert report.bytes >= size
    assert sorted(p.name for p in tmp.iterdir()) == [fresh.name]
    assert list(scratch.iterdir()) == []
    assert ws.datasets.list() == []  # and the catalog never saw the dataset


def test_a_kill_mid_model_registration_leaves_an_unreferenced_blob_that_gc_removes(
    project: Path, catalog_env: dict[str, str], ws: Workspace, scratch: Path
) -> None:
    # killed while staging the package's second file: the first is a blob already
    partial, _ = _kill_mid_registration(project, catalog_env, scratch, "model", stop_at=2)
    store = ws.artifacts
    [(orphan, _)] = list(store.blobs())
    assert ws.catalog.referenced_blobs() == set()
    assert any(p.name.startswith("weekend-package.") for p in scratch.iterdir())

    report = collect_garbage(ws.catalog, store, grace="1h", scratch_root=scratch)
    assert report.removed == []
    assert store.exists(orphan)  # a registration in progress would still record it

    _age(store.local_path(orphan), 2 * HOUR)
    _age(partial, 2 * HOUR)
    for item in scratch.iterdir():
        _age(item, 2 * HOUR)
    report = collect_garbage(ws.catalog, store, grace="1h", scratch_root=scratch)
    kinds = report.by_kind()
    assert (kinds["blob"]["files"], kinds["tmp"]["files"]) == (1, 1)
    assert kinds["scratch"]["files"] >= 1
    assert not store.exists(orphan)
    assert list(store.blobs()) == []
    assert list(scratch.iterdir()) == []


def _train_and_register(ws: Workspace) -> dict[str, str]:
    """One of each kind of reference: a dataset version, a run artifact, a model package."""
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0) * 2})
    version = ws.datasets.register("points", frame)
    with ws.runs.start("train", system_info=False) as run:
        run.log_text("notes", "notes.txt")
    model = ws.models.register(LinearRegression().fit(frame[["x"]], frame["y"]), "line")
    [artifact] = ws.runs.artifacts(run.id)
    return {
        "dataset": version.content_hash,
        "artifact": artifact["sha256"],
        "model": model.manifest["flavor.json"]["sha256"],
        "run": run.id,
    }


def test_unreferenced_old_blobs_go_and_referenced_ones_stay(ws: Workspace, scratch: Path) -> None:
    refs = _train_and_register(ws)
    store = ws.artifacts
    referenced = ws.catalog.referenced_blobs()
    assert {refs["dataset"], refs["artifact"], refs["model"]} <= referenced
    assert referenced == {digest for digest, _ in store.blobs()}
    orphan = store.put_bytes(b"written by a registration that died").sha256
    recent = store.put_bytes(b"written by a registration still running").sha256
    for digest, _ in list(store.blobs()):
        if digest != recent:
            _age(store.local_path(digest), 2 * HOUR)

    report = collect_garbage(ws.catalog, store, grace="1h", scratch_root=scratch)
    assert [item.kind for item in report.removed] == ["blob"]
    assert report.removed[0].location.endswith(orphan[2:])
    assert report.bytes == len(b"written by a registration that died")
    assert report.kept_referenced == len(referenced)
    assert not store.exists(orphan)
    assert store.exists(recent)
    # everything referenced still reads, verified
    assert len(ws.datasets.load("points")) == 50
    assert ws.runs.read_artifact(refs["run"], "notes.txt") == b"notes"
    assert ws.models.load("line/1") is not None


def test_reusing_an_old_blob_refreshes_it_so_a_registration_in_progress_keeps_it(
    ws: Workspace, scratch: Path
) -> None:
    store = ws.artifacts
    blob = store.put_bytes(b"content an earlier, purged run had")
    _age(store.local_path(blob.sha256), 2 * HOUR)
    # a new registration writes the same content: the blob is not copied, but refreshed
    assert store.put_bytes(b"content an earlier, purged run had") == blob
    assert time.time() - store.local_path(blob.sha256).stat().st_mtime < 60
    report = collect_garbage(ws.catalog, store, grace="1h", scratch_root=scratch)
    assert report.removed == []
    assert store.exists(blob.sha256)


def test_a_live_writers_files_are_kept_whatever_their_age(
    ws: Workspace, tmp_path: Path, scratch: Path
) -> None:
    store = ws.artifacts
    with store.staged_file(_file(tmp_path / "data.bin", b"x" * 1000)) as staged:
        [staging] = store.tmp_files()
        _age(ws.artifacts.backend.local_root / staging.key, 2 * HOUR)  # type: ignore[operator]
        with scratch_dir("register") as mine:
            (mine / "data.parquet").write_bytes(b"...")
            _age(mine, 2 * HOUR)
            report = collect_garbage(ws.catalog, store, grace=0, scratch_root=mine.parent)
            assert report.removed == []
            assert report.kept_live == 2  # this process wrote both and is alive
            assert mine.exists()
        blob = staged.commit()
    assert store.read_bytes(blob.sha256) == b"x" * 1000


def test_scratch_folders_are_named_for_gc_and_removed_after_use(scratch: Path) -> None:
    with scratch_dir("register") as folder:
        assert folder.name.startswith(f"weekend-register.{owner_tag()}.")
        (folder / "part").write_bytes(b"1")
    assert not folder.exists()
    other = new_scratch_dir("duckdb")
    assert other.is_dir()
    other.rmdir()
    with pytest.raises(InvalidValueError, match="scratch purpose must be 1 to 32 lowercase"):
        new_scratch_dir("../x")


def test_only_weekends_own_names_are_touched(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "shared-tmp"
    folder.mkdir()
    for name in ("weekend", "weekendish-1", "other-tool-123", "weekend-register.zz"):
        (folder / name).mkdir()
    legacy = folder / "weekend-register-abc_1234"  # named before scratch carried an owner
    legacy.mkdir()
    for item in folder.iterdir():
        _age(item, 2 * HOUR)
    report = collect_garbage(ws.catalog, ws.artifacts, grace="1h", scratch_root=folder)
    assert [Path(i.location).name for i in report.removed] == [legacy.name]
    assert sorted(p.name for p in folder.iterdir()) == [
        "other-tool-123",
        "weekend",
        "weekend-register.zz",
        "weekendish-1",
    ]


def test_an_unreadable_manifest_stops_gc_before_any_blob_goes(ws: Workspace, scratch: Path) -> None:
    from weekend.catalog.tables_registry import model_versions

    _train_and_register(ws)
    orphan = ws.artifacts.put_bytes(b"orphan").sha256
    _age(ws.artifacts.local_path(orphan), 2 * HOUR)
    with ws.catalog.begin() as conn:
        conn.execute(sa.update(model_versions).values(manifest_json="not json"))
    with pytest.raises(IntegrityError, match=r"manifest of model version \w+ cannot be read"):
        collect_garbage(ws.catalog, ws.artifacts, grace="1h", scratch_root=scratch)
    assert ws.artifacts.exists(orphan)


def test_every_column_that_may_hold_a_blob_hash_is_read_by_the_collector() -> None:
    import weekend.catalog.tables_features
    import weekend.catalog.tables_registry  # noqa: F401

    suspicious = {
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if any(word in column.name for word in ("sha256", "hash", "blob", "manifest"))
    }
    unknown = suspicious - set(REFERENCE_COLUMNS) - set(NOT_BLOB_COLUMNS)
    assert not unknown, (
        f"columns {sorted(unknown)} may refer to blobs: register a reference source in "
        "weekend.catalog.references (or list them in NOT_BLOB_COLUMNS)"
    )
    assert set(REFERENCE_COLUMNS) <= suspicious  # and the list names real columns


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600.0), ("90m", 5400.0), ("1h30m", 5400.0), ("2d", 172800.0), ("0s", 0.0)],
)
def test_grace_durations(text: str, seconds: float) -> None:
    assert parse_grace(text) == seconds


@pytest.mark.parametrize("bad", ["1 hour", "h", "-1h", "", "1h 30m", -5, float("nan"), True])
def test_bad_grace_is_refused(bad: object) -> None:
    with pytest.raises(InvalidValueError, match="grace must be"):
        parse_grace(bad)


def test_the_cli_reports_what_it_freed(project: Path, scratch: Path) -> None:
    from weekend.cli import app

    store = ArtifactStore(str(project / ".weekend" / "artifacts"))
    orphan = store.put_bytes(b"x" * 2048).sha256
    _age(store.local_path(orphan), 2 * HOUR)
    runner = CliRunner()
    dry = runner.invoke(app, ["gc", "--project", str(project), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert '"dry_run": true' in dry.output
    assert store.exists(orphan)
    done = runner.invoke(app, ["gc", "--project", str(project), "--grace", "30m"])
    assert done.exit_code == 0, done.output
    assert "freed 1 file(s), 2.0 KiB" in done.output
    assert "unreferenced blobs" in done.output
    assert not store.exists(orphan)
    bad = runner.invoke(app, ["gc", "--project", str(project), "--grace", "soon"])
    assert bad.exit_code == 2  # a user error: a message, no traceback
    assert "grace must be a duration like 30s, 90m, 1h or 2d" in bad.output


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_the_operations_page_runs_as_written(
    tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from _doc_pages import DOCS, run_page, shown_outputs

    work = tmp_path / "docs"
    work.mkdir()
    with run_page(DOCS / "operations.md", work, monkeypatch) as page:
        outputs = shown_outputs(page.code)
        assert outputs == ["0 0"]
        assert page.printed == "0 0"
        assert page.namespace["report"].dry_run
