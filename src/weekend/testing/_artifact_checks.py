"""Conformance checks of artifact stores: content addressing, verified reads, staged writes,
the backend verbs and what the garbage collector relies on. Each check takes a fresh, empty
:class:`~weekend.artifacts.ArtifactStore` (its backend chosen by the root's scheme)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from weekend.artifacts import ArtifactStore, Blob
from weekend.core.errors import IntegrityError
from weekend.core.hashing import CHUNK
from weekend.testing._checks import raises


def _key(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256[2:]}"


def _damage(store: ArtifactStore, sha256: str, data: bytes) -> None:
    """Overwrite a stored blob behind the store's back (what a faulty disk does)."""
    store.backend.write(_key(sha256), [data])


def _digests(store: ArtifactStore) -> list[str]:
    return sorted(digest for digest, _ in store.blobs())


def check_the_same_bytes_are_stored_once(store: ArtifactStore) -> None:
    first = store.put_bytes(b"hello weekend")
    second = store.put_bytes(b"hello weekend")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "same.txt").write_bytes(b"hello weekend")
        third = store.put_file(Path(folder) / "same.txt")
    assert first == second == third == Blob(hashlib.sha256(b"hello weekend").hexdigest(), 13)
    other = store.put_bytes(b"hello weekend!")
    assert other.sha256 != first.sha256
    assert _digests(store) == sorted([first.sha256, other.sha256])
    assert store.exists(first.sha256)
    assert not store.exists("0" * 64)
    assert store.tmp_files() == []


def check_an_empty_blob(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"")
    assert blob.size == 0
    assert store.read_bytes(blob.sha256) == b""


def check_put_file_streams_a_file_larger_than_one_chunk(store: ArtifactStore) -> None:
    data = os.urandom(3 * CHUNK + 12345)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "big.bin"
        source.write_bytes(data)
        blob = store.put_file(source)
        assert source.read_bytes() == data  # the source is left alone
        assert blob == Blob(hashlib.sha256(data).hexdigest(), len(data))
        assert store.read_bytes(blob.sha256) == data
        assert store.verified_path(blob.sha256).read_bytes() == data
        copy = store.get_file(blob.sha256, Path(folder) / "out" / "nested" / "copy.bin")
        assert copy.read_bytes() == data
        assert sorted(p.name for p in copy.parent.iterdir()) == ["copy.bin"]
    assert store.tmp_files() == []


def check_one_changed_byte_fails_every_read(store: ArtifactStore) -> None:
    data = b"0123456789" * 1000
    blob = store.put_bytes(data)
    _damage(store, blob.sha256, data[:5000] + b"X" + data[5001:])
    with raises(IntegrityError, match=f"artifact blob {blob.sha256} is corrupted"):
        store.read_bytes(blob.sha256)
    with raises(IntegrityError, match="altered after it was stored"):
        store.verified_path(blob.sha256)
    with raises(IntegrityError, match="is corrupted"):
        store.verify(blob.sha256)
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "dest" / "file.bin"
        with raises(IntegrityError, match="is corrupted"):
            store.get_file(blob.sha256, dest)
        assert not dest.exists()
        assert list(dest.parent.iterdir()) == []  # no temporary file either
        keep = Path(folder) / "keep.txt"
        keep.write_bytes(b"previous")
        with raises(IntegrityError):
            store.get_file(blob.sha256, keep)
        assert keep.read_bytes() == b"previous"


def check_truncated_and_missing_blobs(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"will be truncated")
    _damage(store, blob.sha256, b"will be")
    with raises(IntegrityError, match="is corrupted"):
        store.read_bytes(blob.sha256)
    store.delete(blob.sha256)
    store.delete(blob.sha256)  # deleting twice is fine
    assert not store.exists(blob.sha256)
    with raises(IntegrityError, match="is missing from the store"):
        store.read_bytes(blob.sha256)


def check_keys_must_be_sha256_digests(store: ArtifactStore) -> None:
    for digest in ("../../etc/passwd", "ABC", "g" * 64, "0" * 63):
        with raises(IntegrityError, match="not a sha256 digest"):
            store.read_bytes(digest)
        with raises(IntegrityError, match="not a sha256 digest"):
            store.exists(digest)


def check_a_staged_file_is_stored_only_when_committed(store: ArtifactStore) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "data.bin"
        source.write_bytes(b"abc" * 50_000)
        with store.staged_file(source) as staged:
            assert len(store.tmp_files()) == 1  # the copy waits under tmp/
            assert not store.exists(staged.sha256)
        assert store.tmp_files() == []  # left without commit: nothing stored
        assert not store.exists(staged.sha256)
        with store.staged_file(source) as staged:
            blob = staged.commit()
        assert blob == store.put_file(source)
        assert store.read_bytes(blob.sha256) == source.read_bytes()
    assert store.tmp_files() == []


def check_a_missing_source_leaves_nothing_behind(store: ArtifactStore) -> None:
    with tempfile.TemporaryDirectory() as folder:
        with raises(FileNotFoundError):
            store.put_file(Path(folder) / "missing.bin")
        with raises(IsADirectoryError):
            store.put_file(folder)
    assert _digests(store) == []
    assert store.tmp_files() == []


def check_blobs_are_listed_with_size_and_time(store: ArtifactStore) -> None:
    before = time.time()
    blobs = [store.put_bytes(b"a" * n) for n in (1, 10, 100)]
    listed = dict(store.blobs())
    assert sorted(listed) == sorted(b.sha256 for b in blobs)
    for blob in blobs:
        found = listed[blob.sha256]
        assert found.size == blob.size
        # a time is optional (the collector then never removes the blob), but if known, right
        assert found.mtime is None or before - 5 <= found.mtime <= time.time() + 5


def check_old_leftovers_under_tmp_are_swept_and_fresh_ones_kept(store: ArtifactStore) -> None:
    store.backend.write("tmp/ffffffff-1.crashed.part", [b"half a file"])
    kept = store.sweep_tmp(3600.0)
    assert kept.removed == []
    assert kept.kept_recent == 1
    later = time.time() + 7200.0
    dry = store.sweep_tmp(3600.0, dry_run=True, now=later)
    assert [item.size for item in dry.removed] == [len(b"half a file")]
    assert len(store.tmp_files()) == 1
    swept = store.sweep_tmp(3600.0, now=later)
    assert [item.kind for item in swept.removed] == ["tmp"]
    assert store.tmp_files() == []


def check_a_blob_is_removed_only_when_older_than_asked(store: ArtifactStore) -> None:
    blob = store.put_bytes(b"unreferenced")
    assert not store.remove_blob_if_older(blob.sha256, older_than=time.time() - 3600)
    assert store.exists(blob.sha256)
    assert store.remove_blob_if_older(blob.sha256, older_than=time.time() + 3600)
    assert not store.exists(blob.sha256)
    assert not store.remove_blob_if_older(blob.sha256, older_than=time.time() + 3600)
    assert store.tmp_files() == []


def check_the_backend_verbs(store: ArtifactStore) -> None:
    backend = store.backend
    assert backend.stat("tmp/none") is None
    assert not backend.exists("tmp/none")
    assert list(backend.list("nowhere")) == []
    assert backend.touch("tmp/none") is False
    backend.remove("tmp/none")  # a missing file is not an error
    with raises(FileNotFoundError):
        backend.open("tmp/none")
    assert backend.write("tmp/a/one", [b"12", b"345"]) == 5
    backend.write("tmp/two", [b"x"])
    found = backend.stat("tmp/a/one")
    assert found is not None
    assert (found.key, found.size) == ("tmp/a/one", 5)
    assert sorted(f.key for f in backend.list("tmp")) == ["tmp/a/one", "tmp/two"]
    backend.rename("tmp/a/one", "tmp/two")  # replaces
    with backend.open("tmp/two") as handle:
        assert handle.read() == b"12345"
    assert backend.stat("tmp/a/one") is None
    assert isinstance(backend.touch("tmp/two"), bool)
    backend.remove("tmp/two")
    assert [f.key for f in backend.list("tmp")] == []


__all__: list[str] = []
