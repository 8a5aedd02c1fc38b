"""The artifact store beyond the shared contract: the local layout, repairs, a full disk,
remote stores, artifact names and run artifacts. The contract itself is checked for every
backend by the conformance suite (``tests/conformance/test_artifact_stores.py``)."""

from __future__ import annotations

import errno
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import open_ws
from weekend.artifacts import ArtifactStore
from weekend.artifacts._scratch import owner_tag
from weekend.core.errors import IntegrityError, InvalidNameError, InvalidValueError, NotFoundError
from weekend.core.hashing import CHUNK
from weekend.core.names import validate_artifact_name
from weekend.core.settings import init_project
from weekend.workspace import Workspace


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "store"))


def _root(store: ArtifactStore) -> Path:
    assert store.backend.local_root is not None
    return store.backend.local_root


def _blob_files(store: ArtifactStore) -> list[Path]:
    return sorted(p for p in (_root(store) / "blobs").rglob("*") if p.is_file())


def _tmp_files(store: ArtifactStore) -> list[Path]:
    tmp = _root(store) / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


def _corrupt(path: Path, offset: int = 0) -> None:
    """Flip one byte of a stored blob in place."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# -- the local store ------------------------------------------------------------------------


def test_blob_layout_is_the_hash(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"layout")
    path = store.local_path(blob.sha256)
    assert path == _root(store) / "blobs" / "sha256" / blob.sha256[:2] / blob.sha256[2:]
    assert path.read_bytes() == b"layout"
    assert store.exists(blob.sha256)
    assert not store.exists("0" * 64)


@pytest.mark.parametrize("how", ["bytes", "file", "staged"])
def test_writing_the_same_content_again_repairs_a_damaged_blob(
    store: ArtifactStore, tmp_path: Path, how: str
) -> None:
    data = b"0123456789" * 1000
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    blob = store.put_bytes(data)
    _corrupt(store.local_path(blob.sha256), offset=10)
    if how == "staged":
        with store.staged_file(source) as staged:
            again = staged.commit()
    else:
        again = store.put_bytes(data) if how == "bytes" else store.put_file(source)
    assert again == blob
    assert store.read_bytes(blob.sha256) == data
    assert _tmp_files(store) == []


def _disk_full(_fd: int) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_failed_put_file_leaves_nothing_behind(
    store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * (2 * CHUNK))
    monkeypatch.setattr("weekend.artifacts._local.os.fsync", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.put_file(source)
    with pytest.raises(OSError, match="No space left"):
        store.put_bytes(b"small")
    monkeypatch.undo()
    assert _blob_files(store) == []
    assert _tmp_files(store) == []
    blob = store.put_file(source)  # and the store still works
    assert store.read_bytes(blob.sha256) == source.read_bytes()


def test_clean_tmp_removes_leftovers_only(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"keep")
    (_root(store) / "tmp" / "dead.part").write_bytes(b"half")
    (_root(store) / "tmp" / "deep" / "x.part").parent.mkdir()
    (_root(store) / "tmp" / "deep" / "x.part").write_bytes(b"x")
    mine = _root(store) / "tmp" / f"{owner_tag()}.0123.part"  # this live process's write
    mine.write_bytes(b"in progress")
    assert store.clean_tmp() == 2
    (_root(store) / "tmp" / "deep").rmdir()
    assert _tmp_files(store) == [mine]
    assert store.read_bytes(blob.sha256) == b"keep"


def test_local_path_of_a_remote_store_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = ArtifactStore("memory://weekend-test-" + tmp_path.name)
    blob = remote.put_bytes(b"remote bytes")
    assert remote.read_bytes(blob.sha256) == b"remote bytes"
    assert remote.put_bytes(b"remote bytes") == blob
    with pytest.raises(NotFoundError, match="is not local"):
        remote.local_path(blob.sha256)
    out = remote.get_file(blob.sha256, tmp_path / "remote.txt")
    assert out.read_bytes() == b"remote bytes"
    (tmp_path / "tmpdir").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmpdir"))
    copy = remote.verified_path(blob.sha256)  # a copy in a scratch folder named for gc
    assert copy.read_bytes() == b"remote bytes"
    assert copy.parent.parent == tmp_path / "tmpdir"
    assert copy.parent.name.startswith(f"weekend-blob.{owner_tag()}.")
    remote.delete(blob.sha256)
    assert not remote.exists(blob.sha256)


# -- artifact names -------------------------------------------------------------------------

BAD_NAMES = [
    ("..", "'..' segment"),
    ("a/../b", "'..' segment"),
    ("./a", "'.' or '..' segment"),
    ("/etc/passwd", "is absolute"),
    ("C:\\x", "backslash"),
    ("C:/x", "is absolute"),
    ("s3://bucket/x", "is absolute"),
    ("a\\b", "backslash"),
    ("plot#frag", "'#'"),
    ("a;b", "';'"),
    ("%2e%2e/secret", "percent-encoding"),
    ("a\x00b", "NUL byte"),
    ("a//b", "empty"),
    ("a/", "empty"),
    ("", "must have 1 to 1024 characters, got 0"),
    ("x" * 1025, "must have 1 to 1024 characters, got 1025"),
    ("tab\there", "characters outside letters"),
    ("quote'd", "characters outside letters"),
]


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_bad_artifact_names_are_rejected(name: str, message: str) -> None:
    with pytest.raises(InvalidNameError, match=message):
        validate_artifact_name(name)


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace for the many small name checks (opening one costs a migration)."""
    workspace = open_ws(init_project(tmp_path_factory.mktemp("names")))
    yield workspace
    workspace.close()


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_bad_names_are_rejected_by_run_logging(
    shared_ws: Workspace, tmp_path: Path, name: str, message: str
) -> None:
    ws = shared_ws
    source = tmp_path / "file.txt"
    source.write_text("content")
    with ws.runs.start("names", system_info=False) as run:
        with pytest.raises(InvalidNameError, match=message):
            run.log_text("text", name)
        with pytest.raises(InvalidNameError, match=message):
            run.log_artifact(source, name)
        with pytest.raises(InvalidNameError, match=message):
            run.log_dict({"a": 1}, name)
    assert ws.runs.artifacts(run.id) == []
    assert _blob_files(ws.artifacts) == []
    assert _tmp_files(ws.artifacts) == []


def test_a_bad_file_name_inside_a_folder_is_rejected(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "fine.txt").write_text("ok")
    (folder / "bad#name.txt").write_text("no")
    with (
        ws.runs.start("names", system_info=False) as run,
        pytest.raises(InvalidNameError, match="'#'"),
    ):
        run.log_artifact(folder)
    assert ws.runs.artifacts(run.id) == []  # the catalog records all files or none


# -- artifacts of runs ----------------------------------------------------------------------


def test_log_folder_keeps_its_structure(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01\x02")
    (folder / "sub" / "config.json").write_text('{"depth": 3}')
    (folder / "sub" / "copy.bin").write_bytes(b"\x00\x01\x02")  # same content, stored once
    with ws.runs.start("art", system_info=False) as run:
        assert run.log_artifact(folder) == "model"
        assert run.log_artifacts(folder, "again") == "again"
        run.log_artifact(folder / "weights.bin", "single/w.bin")
    names = [a["name"] for a in ws.runs.artifacts(run.id)]
    assert names == [
        "again/sub/config.json",
        "again/sub/copy.bin",
        "again/weights.bin",
        "model/sub/config.json",
        "model/sub/copy.bin",
        "model/weights.bin",
        "single/w.bin",
    ]
    assert ws.runs.read_artifact(run.id, "model/sub/config.json") == b'{"depth": 3}'
    assert ws.runs.read_artifact(run.id, "single/w.bin") == b"\x00\x01\x02"
    assert len(_blob_files(ws.artifacts)) == 2
    out = ws.runs.download_artifact(run.id, "model/weights.bin", tmp_path / "dl" / "w.bin")
    assert out.read_bytes() == b"\x00\x01\x02"
    with pytest.raises(NotFoundError, match="has no artifact named 'model/nothing'"):
        ws.runs.read_artifact(run.id, "model/nothing")


def test_missing_artifact_path_is_a_clear_error(ws: Workspace, tmp_path: Path) -> None:
    run = ws.runs.start("art", system_info=False)
    with pytest.raises(InvalidValueError, match=r"artifact path .*nope\.txt' does not exist"):
        run.log_artifact(tmp_path / "nope.txt")
    run.end()


def test_relogging_a_name_points_it_at_the_new_content(ws: Workspace) -> None:
    with ws.runs.start("art", system_info=False) as run:
        run.log_text("v1", "notes.txt")
        run.log_text("v2", "notes.txt")
    assert ws.runs.read_artifact(run.id, "notes.txt") == b"v2"
    [entry] = ws.runs.artifacts(run.id)
    assert entry["kind"] == "text"
    assert entry["size"] == 2


def test_run_reads_are_verified(ws: Workspace, tmp_path: Path) -> None:
    with ws.runs.start("art", system_info=False) as run:
        run.log_text("precious", "notes.txt")
    [entry] = ws.runs.artifacts(run.id)
    _corrupt(ws.artifacts.local_path(entry["sha256"]))
    with pytest.raises(IntegrityError, match="is corrupted"):
        ws.runs.read_artifact(run.id, "notes.txt")
    with pytest.raises(IntegrityError, match="is corrupted"):
        ws.runs.download_artifact(run.id, "notes.txt", tmp_path / "notes.txt")
    assert not (tmp_path / "notes.txt").exists()


def test_log_table_round_trips_through_parquet(ws: Workspace) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    frame = pd.DataFrame(
        {
            "origin": ["JFK", "LGA", "EWR"],
            "dep_delay": [1.5, np.nan, -3.0],
            "flights": np.array([10, 20, 30], dtype="int64"),
        }
    )
    with ws.runs.start("art", system_info=False) as run:
        run.log_table(frame, "tables/delays.parquet")
    [entry] = ws.runs.artifacts(run.id)
    assert entry["kind"] == "table"
    table = pq.read_table(io.BytesIO(ws.runs.read_artifact(run.id, "tables/delays.parquet")))
    assert table.column_names[:3] == ["origin", "dep_delay", "flights"]
    pd.testing.assert_frame_equal(table.to_pandas(), frame)


def test_log_figure_matplotlib_png_and_plotly_json(ws: Workspace) -> None:
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1, 2], [2, 1, 3])
    plot = go.Figure(data=[go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="delay")])
    with ws.runs.start("art", system_info=False) as run:
        run.log_figure(figure, "plots/line.png")
        run.log_figure(plot, "plots/line.plotly.json")
        with pytest.raises(
            InvalidValueError, match="expects a matplotlib or Plotly figure, got dict"
        ):
            run.log_figure({"not": "a figure"}, "plots/bad.png")
    kinds = {a["name"]: a["kind"] for a in ws.runs.artifacts(run.id)}
    assert kinds == {"plots/line.png": "png", "plots/line.plotly.json": "plotly"}
    png = ws.runs.read_artifact(run.id, "plots/line.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    payload = json.loads(ws.runs.read_artifact(run.id, "plots/line.plotly.json"))
    assert payload["data"][0]["type"] == "scatter"
    assert payload["data"][0]["name"] == "delay"


def test_log_dict_is_json(ws: Workspace) -> None:
    with ws.runs.start("art", system_info=False) as run:
        run.log_dict({"features": ["a", "b"], "n": np.int64(3)}, "meta/info.json")
    data = json.loads(ws.runs.read_artifact(run.id, "meta/info.json"))
    assert data == {"features": ["a", "b"], "n": 3}
