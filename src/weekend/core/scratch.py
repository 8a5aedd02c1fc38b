"""Scratch folders named after their writer, so that the garbage collector can tell a crashed
writer's leftovers from a live writer's work.

Every scratch folder weekend makes in the system's temporary folder is called
``weekend-<purpose>.<owner>.<random>``, where ``<owner>`` is ``<machine>-<pid>``
(:func:`weekend.core.process.owner_tag`). SIGKILL and power loss skip every ``finally``:
these names are what lets ``weekend gc`` clean up after them (``weekend.artifacts.gc``).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from weekend.core.errors import InvalidValueError
from weekend.core.process import owner_tag

_PURPOSE = re.compile(r"[a-z]{1,32}")


def scratch_prefix(purpose: str) -> str:
    """The ``mkdtemp`` prefix of a scratch folder for ``purpose`` (lowercase letters), for
    code that makes its folder itself (a DuckDB session's spill folder)."""
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise InvalidValueError(
            f"scratch purpose must be 1 to 32 lowercase letters, got {purpose!r:.80}"
        )
    return f"weekend-{purpose}.{owner_tag()}."


def new_scratch_dir(purpose: str) -> Path:
    """A new folder in the system's temporary folder, named for the garbage collector.

    The caller removes it (see :func:`scratch_dir`); what a crash leaves is collected by
    ``weekend gc`` once it is older than the grace period and its process is gone.
    """
    return Path(tempfile.mkdtemp(prefix=scratch_prefix(purpose)))


@contextlib.contextmanager
def scratch_dir(purpose: str) -> Iterator[Path]:
    """A scratch folder (:func:`new_scratch_dir`) removed when the block ends, however."""
    folder = new_scratch_dir(purpose)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["new_scratch_dir", "scratch_dir", "scratch_prefix"]
