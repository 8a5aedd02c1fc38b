"""Where an artifact store's bytes go: the backend contract and the registry of kinds.

:class:`~weekend.artifacts.ArtifactStore` owns everything about content addressing (keys are
hashes, every read is verified, writes go to a temporary key and are renamed into place); a
backend only moves bytes under one root. Its keys are ``/``-separated paths relative to the
root, made by the store and never by users (``blobs/sha256/ab/cdef...``, ``tmp/<name>.part``).

A backend is chosen by the scheme of the store's root: a root without ``://`` (or with
``file://``) is a local folder, and every other scheme goes to fsspec unless a backend was
registered for it::

    register_artifact_backend("mystore", MyBackend)   # roots "mystore://..." now use it

The constructor takes the root and stores configuration only; the conformance checks in
:mod:`weekend.testing` (``artifact_store_checks``) say what a backend must do.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from weekend.core.errors import ConfigurationError


@dataclass(frozen=True)
class StoredFile:
    """A file under a backend's root: its key, size in bytes and modification time.

    ``mtime`` is in seconds since the epoch, or ``None`` when the backend cannot tell (such a
    file is never old enough for the garbage collector).
    """

    key: str
    size: int
    mtime: float | None


class ArtifactBackend(abc.ABC):
    """Moves bytes under one root. Implementations keep configuration in the constructor
    and implement the verbs below; missing files raise :class:`FileNotFoundError`."""

    root: str
    local_root: Path | None = None
    """The folder of a backend on the local file system (``None`` for remote ones)."""
    rename_keeps_mtime: bool = False
    """Whether :meth:`rename` keeps the file's modification time (``os.replace`` does; an
    object store's copy does not). The garbage collector relies on it where it holds."""

    @abc.abstractmethod
    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write ``chunks`` to a new file at ``key`` (parents are created) and return its size.

        The file is durable when this returns. On failure a partial file may remain: the
        store only writes temporary keys this way and removes them itself.
        """

    @abc.abstractmethod
    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``, replacing it; readers see the old or the new file whole."""

    @abc.abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """A binary file object to read ``key`` from the start."""

    @abc.abstractmethod
    def stat(self, key: str) -> StoredFile | None:
        """The file at ``key``, or ``None`` when there is none."""

    @abc.abstractmethod
    def remove(self, key: str) -> None:
        """Remove the file at ``key``; a missing file is not an error."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[StoredFile]:
        """Every file under the folder ``prefix`` (recursively); none when it is absent."""

    @abc.abstractmethod
    def touch(self, key: str) -> bool:
        """Set the modification time of ``key`` to now without changing it. ``False`` when
        the file is missing or the backend cannot do that (the store then writes it again)."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None


BackendFactory = Callable[[str], ArtifactBackend]
_BACKENDS: dict[str, BackendFactory] = {}
_FALLBACK = "*"


def register_artifact_backend(scheme: str, factory: BackendFactory) -> None:
    """Use ``factory(root)`` for artifact roots ``<scheme>://...``.

    ``"file"`` is the scheme of local folders (roots without ``://`` too) and ``"*"`` the
    backend of every scheme nothing was registered for. Registering a scheme again replaces
    its backend.
    """
    if not isinstance(scheme, str) or not scheme or "://" in scheme:
        raise ConfigurationError(
            f"an artifact backend scheme must be a non-empty name like 's3', got {scheme!r:.80}"
        )
    if not callable(factory):
        raise ConfigurationError(
            f"the factory of artifact backend {scheme!r} must be callable, "
            f"got {type(factory).__name__}"
        )
    _BACKENDS[scheme] = factory


def artifact_backend_kinds() -> list[str]:
    """The registered schemes, sorted (``"*"`` is the fallback for every other scheme)."""
    return sorted(_BACKENDS)


def scheme_of(root: str) -> str:
    """``"file"`` for a local folder, else the URL scheme of ``root``."""
    return root.partition("://")[0] if "://" in root else "file"


def open_backend(root: str) -> ArtifactBackend:
    """The backend registered for the scheme of ``root``."""
    if not isinstance(root, str) or not root:
        raise ConfigurationError(
            f"artifact root must be a folder or a URL, got {type(root).__name__} {root!r:.80}"
        )
    scheme = scheme_of(root)
    factory = _BACKENDS.get(scheme) or _BACKENDS.get(_FALLBACK)
    if factory is None:
        raise ConfigurationError(
            f"no artifact backend handles {scheme!r} roots; registered: {artifact_backend_kinds()}"
        )
    return factory(root)


__all__ = [
    "ArtifactBackend",
    "BackendFactory",
    "StoredFile",
    "artifact_backend_kinds",
    "open_backend",
    "register_artifact_backend",
    "scheme_of",
]
