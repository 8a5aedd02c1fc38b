"""The local backend of the artifact store: a folder on this machine's file system."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from weekend.artifacts._backend import ArtifactBackend, StoredFile


class LocalBackend(ArtifactBackend):
    """Files under a local folder (``/path``, ``relative/path`` or ``file:///path``).

    Folders are created on first write. Writes are flushed and ``fsync``-ed before they
    return, and renames are ``os.replace``, atomic on POSIX and Windows.
    """

    rename_keeps_mtime = True

    def __init__(self, root: str) -> None:
        self.root = root
        self.local_root = Path(root.removeprefix("file://"))

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.local_root)!r})"

    def _path(self, key: str) -> Path:
        assert self.local_root is not None
        return self.local_root / key

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with open(path, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return size

    def rename(self, src: str, dst: str) -> None:
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(src), target)

    def open(self, key: str) -> IO[bytes]:
        return open(self._path(key), "rb")

    def stat(self, key: str) -> StoredFile | None:
        try:
            info = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return StoredFile(key, info.st_size, info.st_mtime)

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def list(self, prefix: str) -> Iterator[StoredFile]:
        base = self._path(prefix)
        for folder, _dirs, files in os.walk(base):
            for name in files:
                path = Path(folder) / name
                try:
                    info = path.stat()
                except FileNotFoundError:  # removed while we looked
                    continue
                key = f"{prefix}/{path.relative_to(base).as_posix()}"
                yield StoredFile(key, info.st_size, info.st_mtime)

    def touch(self, key: str) -> bool:
        try:
            os.utime(self._path(key))
        except FileNotFoundError:
            return False
        return True


__all__ = ["LocalBackend"]
