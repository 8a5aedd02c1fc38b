"""The fsspec backend of the artifact store: any URL fsspec knows (``s3://``, ``gs://``,
``abfs://``, ``memory://`` ...).

``fsspec`` is imported when such a store is first used. Object stores write whole objects
atomically, so writing to a temporary key and renaming it (fsspec's ``mv``, a server-side
copy on object stores) keeps the store's discipline: no partial object under a final key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from weekend.artifacts._backend import ArtifactBackend, StoredFile

# Where file systems put the modification time in ``info()`` (local, S3, GCS, Azure, memory).
_TIME_KEYS = ("mtime", "LastModified", "last_modified", "updated", "modified", "created")


class FsspecBackend(ArtifactBackend):
    """Files under an fsspec URL."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self._fs: Any = None
        self._base = ""

    def __repr__(self) -> str:
        return f"FsspecBackend({self.root!r})"

    @property
    def fs(self) -> Any:
        """The fsspec file system, made on first use."""
        if self._fs is None:
            import fsspec

            self._fs, path = fsspec.core.url_to_fs(self.root)
            self._base = str(path).rstrip("/")
        return self._fs

    def _path(self, key: str) -> str:
        if self._fs is None:
            _ = self.fs
        return f"{self._base}/{key}"

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        parent = path.rpartition("/")[0]
        with contextlib.suppress(FileExistsError):
            self.fs.makedirs(parent, exist_ok=True)
        size = 0
        with self.fs.open(path, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                size += len(chunk)
        return size

    def rename(self, src: str, dst: str) -> None:
        self.fs.mv(self._path(src), self._path(dst))

    def open(self, key: str) -> IO[bytes]:
        handle: IO[bytes] = self.fs.open(self._path(key), "rb")
        return handle

    def stat(self, key: str) -> StoredFile | None:
        try:
            info = self.fs.info(self._path(key))
        except FileNotFoundError:
            return None
        if info.get("type") == "directory":
            return None
        return StoredFile(key, int(info.get("size") or 0), self._mtime(key, info))

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._path(key))

    def list(self, prefix: str) -> Iterator[StoredFile]:
        base = self._path(prefix)
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        for path, info in sorted(found.items()):
            if info.get("type") == "directory" or not str(path).startswith(base + "/"):
                continue
            key = f"{prefix}/{str(path)[len(base) + 1 :]}"
            yield StoredFile(key, int(info.get("size") or 0), self._mtime(key, info))

    def touch(self, key: str) -> bool:
        if not self.fs.exists(self._path(key)):
            return False
        try:
            self.fs.touch(self._path(key), truncate=False)
        except (NotImplementedError, ValueError, OSError):
            return False  # S3 and memory:// cannot: the store writes the blob again
        return True

    def _mtime(self, key: str, info: Mapping[str, Any]) -> float | None:
        for name in _TIME_KEYS:
            if info.get(name) is not None:
                return _seconds(info[name])
        try:
            return _seconds(self.fs.modified(self._path(key)))
        except (NotImplementedError, FileNotFoundError, OSError):
            return None


def _seconds(value: object) -> float | None:
    """Seconds since the epoch from what file systems report (a datetime, a number, ISO)."""
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return when.timestamp()
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return _seconds(dt.datetime.fromisoformat(value))
    return None


__all__ = ["FsspecBackend"]
