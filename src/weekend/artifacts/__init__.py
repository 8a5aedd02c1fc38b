"""The artifact store: content-addressed blobs on fsspec, verified on every read.

A blob is stored once per content, under ``<root>/blobs/sha256/<2 hex>/<62 hex>``. Writes go
to a temporary name under ``<root>/tmp/`` and are renamed into place, so no partial file ever
sits under a final name. Every read hashes what it reads and raises :class:`IntegrityError`
on a mismatch, and writing a blob that already exists checks it (local stores), so that
registering the same content again repairs a damaged copy. Logical names
(``plots/roc.png``) never reach this layer: the catalog maps them to hashes, and only hashes
become storage keys.

The root is a local folder (default ``.weekend/artifacts``) or any fsspec URL
(``s3://bucket/prefix``); object stores write whole objects atomically, so the same
temporary-then-rename discipline holds there through fsspec's ``mv``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from weekend.core.errors import IntegrityError, NotFoundError
from weekend.core.hashing import CHUNK, is_sha256, sha256_file


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
    """Content-addressed blob storage under one root (a folder or an fsspec URL)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self.local = "://" not in root or root.startswith("file://")
        if self.local:
            self._base = Path(root.removeprefix("file://"))
            (self._base / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            (self._base / "tmp").mkdir(parents=True, exist_ok=True)
            self._fs: Any = None
        else:
            import fsspec

            self._fs, path = fsspec.core.url_to_fs(root)
            self._remote_base = path.rstrip("/")

    # -- keys -----------------------------------------------------------------------------
    def _key(self, sha256: str) -> str:
        if not is_sha256(sha256):
            raise IntegrityError(f"not a sha256 digest: {sha256!r}")
        return f"blobs/sha256/{sha256[:2]}/{sha256[2:]}"

    def local_path(self, sha256: str) -> Path:
        """The file of a blob in a local store (not verified; use :meth:`verified_path`)."""
        if not self.local:
            raise NotFoundError(f"artifact store {self.root} is not local; use get_file()")
        return self._base / self._key(sha256)

    # -- writing --------------------------------------------------------------------------
    def _intact(self, digest: str) -> bool:
        """Whether a local blob exists with the right content. A damaged one is then replaced
        by the writer that brings the right bytes (a remote blob is trusted to exist)."""
        path = self._base / self._key(digest)
        return path.exists() and sha256_file(path) == digest

    def put_bytes(self, data: bytes) -> Blob:
        digest = hashlib.sha256(data).hexdigest()
        if self._intact(digest) if self.local else self.exists(digest):
            return Blob(digest, len(data))
        if self.local:
            self._install_local(digest, lambda handle: handle.write(data))
        else:
            self._install_remote(digest, data)
        return Blob(digest, len(data))

    def put_file(self, path: str | Path) -> Blob:
        """Store a file, streaming: hashed while copied to a temporary name, then renamed."""
        if not self.local:
            return self.put_bytes(Path(path).read_bytes())
        with self.staged_file(path) as staged:
            return staged.commit()

    @contextlib.contextmanager
    def staged_file(self, path: str | Path) -> Iterator[Staged]:
        """Read ``path`` once: hashed and, in a local store, copied to a temporary name in
        the store, for the caller to look the hash up before deciding. ``commit()`` installs
        the blob (as :meth:`put_file` would); leaving the block without it leaves nothing."""
        if not self.local:
            yield Staged(sha256_file(path), Path(path).stat().st_size, lambda: self.put_file(path))
            return
        tmp = self._base / "tmp" / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as src, open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            sha = digest.hexdigest()

            def commit() -> Blob:
                if not self._intact(sha):
                    final = self._base / self._key(sha)
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, final)
                return Blob(sha, size)

            yield Staged(sha, size, commit)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _install_local(self, digest: str, write: Any) -> None:
        final = self._base / self._key(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._base / "tmp", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _install_remote(self, digest: str, data: bytes) -> None:
        tmp = f"{self._remote_base}/tmp/{uuid.uuid4().hex}.part"  # noqa: S108 - inside the store
        final = f"{self._remote_base}/{self._key(digest)}"
        self._fs.pipe_file(tmp, data)
        try:
            self._fs.mv(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                if self._fs.exists(tmp):
                    self._fs.rm(tmp)

    # -- reading --------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        if self.local:
            return (self._base / self._key(sha256)).exists()
        return bool(self._fs.exists(f"{self._remote_base}/{self._key(sha256)}"))

    @contextlib.contextmanager
    def _open(self, sha256: str) -> Iterator[IO[bytes]]:
        try:
            if self.local:
                handle: IO[bytes] = open(self._base / self._key(sha256), "rb")  # noqa: SIM115
            else:
                handle = self._fs.open(f"{self._remote_base}/{self._key(sha256)}", "rb")
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
        """A local file holding the blob, verified (local stores return the blob itself)."""
        if self.local:
            self.verify(sha256)
            return self._base / self._key(sha256)
        target = Path(tempfile.mkdtemp(prefix="weekend-")) / sha256
        self.get_file(sha256, target)
        return target

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
            os.replace(tmp, dest)
            return dest
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def delete(self, sha256: str) -> None:
        """Remove a blob (callers make sure nothing in the catalog refers to it)."""
        if self.local:
            with contextlib.suppress(FileNotFoundError):
                (self._base / self._key(sha256)).unlink()
        else:
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm(f"{self._remote_base}/{self._key(sha256)}")

    def clean_tmp(self) -> int:
        """Remove leftovers of interrupted writes; returns how many were removed."""
        if not self.local:
            return 0
        removed = 0
        for item in (self._base / "tmp").iterdir():
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)
            removed += 1
        return removed


def _mismatch(expected: str, actual: str) -> str:
    return (
        f"artifact blob {expected} is corrupted: its content hashes to {actual}. "
        "It was altered after it was stored; restore it from a backup or log it again."
    )


__all__ = ["ArtifactStore", "Blob"]
