"""The artifact store: content-addressed blobs, verified on every read.

A blob is stored once per content, under ``<root>/blobs/sha256/<2 hex>/<62 hex>``. Writes go
to a temporary key under ``<root>/tmp/`` named after the writing process
(``<machine>-<pid>.<random>.part``) and are renamed into place, so no partial file ever sits
under a final name. Every read hashes what it reads and raises :class:`IntegrityError` on a
mismatch, and writing a blob that already exists checks it (local stores), so that
registering the same content again repairs a damaged copy. Logical names
(``plots/roc.png``) never reach this layer: the catalog maps them to hashes, and only hashes
become storage keys.

The root is a local folder (default ``.weekend/artifacts``) or any fsspec URL
(``s3://bucket/prefix``); the bytes move through a backend chosen by the root's scheme
(:func:`register_artifact_backend` adds one). Object stores write whole objects atomically,
so the same temporary-then-rename discipline holds there through fsspec's ``mv``.

What a crash leaves (``tmp/`` files, blobs no catalog row refers to, scratch folders in the
system's temporary folder) is collected by :func:`weekend.artifacts.gc.collect_garbage`
(``weekend gc``): re-using a stored blob refreshes its modification time, so that a blob a
registration in progress relies on is always younger than the collector's grace period.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from weekend.artifacts._backend import (
    ArtifactBackend,
    StoredFile,
    artifact_backend_kinds,
    open_backend,
    register_artifact_backend,
)
from weekend.artifacts._fsspec import FsspecBackend
from weekend.artifacts._local import LocalBackend
from weekend.artifacts._scratch import (
    Leftover,
    Sweep,
    check_grace,
    held_by_live_owner,
    new_scratch_dir,
    owner_tag,
    scratch_dir,
    scratch_prefix,
    sweep_scratch,
)
from weekend.core.errors import IntegrityError, NotFoundError
from weekend.core.hashing import CHUNK, is_sha256, sha256_file

register_artifact_backend("file", LocalBackend)
register_artifact_backend("*", FsspecBackend)

REFRESH_S = 300.0
"""A stored blob that is written again is refreshed (touched, or written anew where the
backend cannot touch) when it is older than this: it is then younger than any grace period
of at least this long while the writer goes on to record it in the catalog."""

_BLOBS = "blobs/sha256"
_TMP = "tmp"


@dataclass(frozen=True)
class Blob:
    """A stored blob: its sha256 and size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True)
class Staged:
    """A file read into the store but not installed yet (see :meth:`ArtifactStore.staged_file`)."""

    sha256: str
    size: int
    commit: Callable[[], Blob]


class ArtifactStore:
    """Content-addressed blob storage under one root (a folder or an URL)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or root
        self.backend: ArtifactBackend = open_backend(root)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root!r})"

    @property
    def local(self) -> bool:
        """Whether the blobs are files on this machine."""
        return self.backend.local_root is not None

    # -- keys -----------------------------------------------------------------------------
    def _key(self, sha256: str) -> str:
        if not isinstance(sha256, str) or not is_sha256(sha256):
            raise IntegrityError(f"not a sha256 digest: {sha256!r}")
        return f"{_BLOBS}/{sha256[:2]}/{sha256[2:]}"

    def local_path(self, sha256: str) -> Path:
        """The file of a blob in a local store (not verified; use :meth:`verified_path`)."""
        if self.backend.local_root is None:
            raise NotFoundError(f"artifact store {self.root} is not local; use get_file()")
        return self.backend.local_root / self._key(sha256)

    # -- writing --------------------------------------------------------------------------
    def _present(self, digest: str) -> bool:
        """Whether the blob is stored (intact, in a local store), refreshed for the writer
        that re-uses it. A damaged or unrefreshable one is then written again."""
        key = self._key(digest)
        local = self.backend.local_root
        if local is not None:
            path = local / key
            if not (path.exists() and sha256_file(path) == digest):
                return False
            # touched after the check: a collector that moved it away in between makes
            # this fail, and the blob is written anew
            return self.backend.touch(key)
        found = self.backend.stat(key)
        if found is None:
            return False
        if found.mtime is not None and time.time() - found.mtime < REFRESH_S:
            return True
        return self.backend.touch(key)

    def _tmp_key(self, suffix: str = "part") -> str:
        return f"{_TMP}/{owner_tag()}.{uuid.uuid4().hex}.{suffix}"

    def put_bytes(self, data: bytes) -> Blob:
        digest = hashlib.sha256(data).hexdigest()
        if not self._present(digest):
            tmp = self._tmp_key()
            try:
                self.backend.write(tmp, [data])
                self.backend.rename(tmp, self._key(digest))
            finally:
                self.backend.remove(tmp)
        return Blob(digest, len(data))

    def put_file(self, path: str | Path) -> Blob:
        """Store a file, streaming: hashed while copied to a temporary key, then renamed."""
        with self.staged_file(path) as staged:
            return staged.commit()

    @contextlib.contextmanager
    def staged_file(self, path: str | Path) -> Iterator[Staged]:
        """Read ``path`` once: hashed while copied to a temporary key in the store, for the
        caller to look the hash up before deciding. ``commit()`` installs the blob (as
        :meth:`put_file` would); leaving the block without it leaves nothing."""
        tmp = self._tmp_key()
        digest = hashlib.sha256()

        def chunks(source: IO[bytes]) -> Iterator[bytes]:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                yield chunk

        try:
            with open(path, "rb") as source:
                size = self.backend.write(tmp, chunks(source))
            sha = digest.hexdigest()

            def commit() -> Blob:
                if not self._present(sha):
                    final = self._key(sha)
                    self.backend.rename(tmp, final)
                    # the rename may keep the time of the copy, which can be long ago when
                    # the caller profiled the data first: the blob's age starts now
                    self.backend.touch(final)
                return Blob(sha, size)

            yield Staged(sha, size, commit)
        finally:
            self.backend.remove(tmp)

    # -- reading --------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        return self.backend.exists(self._key(sha256))

    @contextlib.contextmanager
    def _open(self, sha256: str) -> Iterator[IO[bytes]]:
        try:
            handle = self.backend.open(self._key(sha256))
        except FileNotFoundError:
            raise IntegrityError(
                f"artifact blob {sha256} is missing from the store at {self.root}"
            ) from None
        with handle:
            yield handle

    def read_bytes(self, sha256: str) -> bytes:
        """The content of a blob, verified against its hash."""
        with self._open(sha256) as handle:
            data = handle.read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise IntegrityError(_mismatch(sha256, actual))
        return data

    def verify(self, sha256: str) -> None:
        """Hash a stored blob and raise :class:`IntegrityError` if it was altered."""
        digest = hashlib.sha256()
        with self._open(sha256) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise IntegrityError(_mismatch(sha256, digest.hexdigest()))

    def verified_path(self, sha256: str) -> Path:
        """A local file holding the blob, verified (local stores return the blob itself;
        remote ones a copy in a scratch folder that ``weekend gc`` removes once this process
        has ended)."""
        if self.backend.local_root is not None:
            self.verify(sha256)
            return self.backend.local_root / self._key(sha256)
        return self.get_file(sha256, new_scratch_dir("blob") / sha256)

    def get_file(self, sha256: str, dest: str | Path) -> Path:
        """Copy a blob to ``dest`` atomically, verifying its hash; nothing is left on mismatch."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        try:
            with self._open(sha256) as src, open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
            if digest.hexdigest() != sha256:
                raise IntegrityError(_mismatch(sha256, digest.hexdigest()))
            tmp.replace(dest)
            return dest
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, sha256: str) -> None:
        """Remove a blob (callers make sure nothing in the catalog refers to it)."""
        self.backend.remove(self._key(sha256))

    # -- garbage ------------------------------------------------------------------------
    def blobs(self) -> Iterator[tuple[str, StoredFile]]:
        """Every stored blob: its sha256 and file (size, modification time)."""
        for found in self.backend.list(_BLOBS):
            parts = found.key.split("/")
            digest = "".join(parts[-2:]) if len(parts) == 4 else ""
            if is_sha256(digest) and parts[2] == digest[:2]:
                yield digest, found

    def tmp_files(self) -> list[StoredFile]:
        """The files under ``tmp/``: writes in progress, or leftovers of interrupted ones."""
        return list(self.backend.list(_TMP))

    def sweep_tmp(
        self, grace_s: float, *, dry_run: bool = False, now: float | None = None
    ) -> Sweep:
        """Remove ``tmp/`` files older than ``grace_s`` seconds whose writing process is not
        alive on this machine (see :mod:`weekend.artifacts._scratch` for the naming)."""
        grace = check_grace(grace_s)
        now = time.time() if now is None else now
        sweep = Sweep()
        for found in self.tmp_files():
            age = now - found.mtime if found.mtime is not None else None
            if age is None or age < grace:
                sweep.kept_recent += 1
                continue
            if held_by_live_owner(found.key.rpartition("/")[2]):
                sweep.kept_live += 1
                continue
            if not dry_run:
                self.backend.remove(found.key)
            sweep.removed.append(Leftover("tmp", f"{self.root}/{found.key}", found.size, age))
        return sweep

    def clean_tmp(self) -> int:
        """Remove every leftover of an interrupted write (of a process that is gone)."""
        return len(self.sweep_tmp(0.0).removed)

    def remove_blob_if_older(self, sha256: str, older_than: float) -> bool:
        """Remove a blob last written or refreshed before ``older_than`` (seconds since the
        epoch); the caller made sure nothing refers to it. Returns whether it was removed.

        The blob is first moved to a temporary key and its time read again: a writer that
        re-used the content between the two looks refreshed it (the blob is put back), or
        finds it gone and writes it anew. Where a rename does not keep the modification time
        (object stores), the second look is not possible and only the first one protects.
        """
        key = self._key(sha256)
        found = self.backend.stat(key)
        if found is None or found.mtime is None or found.mtime >= older_than:
            return False
        held = self._tmp_key("gc")
        try:
            self.backend.rename(key, held)
        except FileNotFoundError:
            return False
        moved = self.backend.stat(held)
        if self.backend.rename_keeps_mtime and (moved is None or moved.mtime != found.mtime):
            if moved is not None:
                self.backend.rename(held, key)
            return False
        self.backend.remove(held)
        return True


def _mismatch(expected: str, actual: str) -> str:
    return (
        f"artifact blob {expected} is corrupted: its content hashes to {actual}. "
        "It was altered after it was stored; restore it from a backup or log it again."
    )


__all__ = [
    "REFRESH_S",
    "ArtifactBackend",
    "ArtifactStore",
    "Blob",
    "FsspecBackend",
    "Leftover",
    "LocalBackend",
    "Staged",
    "StoredFile",
    "Sweep",
    "artifact_backend_kinds",
    "new_scratch_dir",
    "register_artifact_backend",
    "scratch_dir",
    "scratch_prefix",
    "sweep_scratch",
]
