"""Scratch files named after their writer, so that the garbage collector can tell a crashed
writer's leftovers from a live writer's work.

Every temporary file of the artifact store (``tmp/<owner>.<random>.part``) and every scratch
folder weekend makes in the system's temporary folder (``weekend-<purpose>.<owner>.<random>``)
carries an *owner tag*: ``<machine>-<pid>``, where ``machine`` is 8 hex digits of the hash of
the machine id (or host name). A leftover is removed only when it is older than the grace
period **and** its owner is not a live process on this machine: the owner check can only
keep more than the grace period alone would, never less (another machine's, or an unknown
owner's leftovers are judged by their age).

SIGKILL and power loss skip every ``finally``: these names are what lets ``weekend gc``
clean up after them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from weekend.core.errors import InvalidValueError
from weekend.core.process import machine_tag, owner_tag, pid_alive
from weekend.core.scratch import new_scratch_dir, scratch_dir, scratch_prefix

_OWNER = re.compile(r"(?P<machine>[0-9a-f]{8})-(?P<pid>[0-9]{1,10})")
_SCRATCH = re.compile(rf"weekend-(?P<purpose>[a-z]+)\.{_OWNER.pattern}\.[A-Za-z0-9_]+")
# Names of weekend's scratch folders before they carried an owner: judged by age alone.
_LEGACY = re.compile(r"weekend-(register|package|duckdb|validate|features)-[a-z0-9_]{8}")

LeftoverKind = Literal["tmp", "scratch", "blob"]


def held_by_live_owner(name: str) -> bool:
    """Whether the owner tag in ``name`` is a process alive on this machine."""
    match = _OWNER.search(name)
    if match is None or match["machine"] != machine_tag():
        return False
    return pid_alive(int(match["pid"])) is True


@dataclass(frozen=True)
class Leftover:
    """A file or folder the garbage collector removed (or would remove, in a dry run)."""

    kind: LeftoverKind
    location: str
    size: int
    age_s: float


@dataclass
class Sweep:
    """What one sweep removed and how many candidates it kept (too recent, or a live
    writer's)."""

    removed: list[Leftover] = field(default_factory=list)
    kept_recent: int = 0
    kept_live: int = 0


def check_grace(grace_s: object) -> float:
    """A grace period in seconds: a finite, non-negative number."""
    if isinstance(grace_s, bool) or not isinstance(grace_s, int | float) or not grace_s >= 0:
        raise InvalidValueError(
            f"grace must be a non-negative number of seconds, got {grace_s!r:.80}"
        )
    if grace_s == float("inf"):
        raise InvalidValueError("grace must be finite; to keep everything, do not collect")
    return float(grace_s)


def _tree_size_and_mtime(path: Path) -> tuple[int, float]:
    """Total size and newest modification time of a file or of everything in a folder."""
    info = path.lstat()
    if not path.is_dir() or path.is_symlink():
        return info.st_size, info.st_mtime
    size, newest = 0, info.st_mtime
    for folder, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            with contextlib.suppress(FileNotFoundError):
                item = (Path(folder) / name).lstat()
                newest = max(newest, item.st_mtime)
                if name in files:
                    size += item.st_size
    return size, newest


def sweep_scratch(
    grace_s: float,
    *,
    root: str | Path | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> Sweep:
    """Remove weekend's scratch folders in ``root`` (the system's temporary folder) whose
    newest file is older than ``grace_s`` seconds and whose process is gone."""
    grace = check_grace(grace_s)
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    now = time.time() if now is None else now
    sweep = Sweep()
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except FileNotFoundError:
        return sweep
    for entry in entries:
        owned = _SCRATCH.fullmatch(entry.name) is not None
        if not owned and _LEGACY.fullmatch(entry.name) is None:
            continue
        path = Path(entry.path)
        try:
            size, newest = _tree_size_and_mtime(path)
        except FileNotFoundError:
            continue
        age = now - newest
        if age < grace:
            sweep.kept_recent += 1
            continue
        if owned and held_by_live_owner(entry.name):
            sweep.kept_live += 1
            continue
        if not dry_run:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        sweep.removed.append(Leftover("scratch", str(path), size, age))
    return sweep


__all__ = [
    "Leftover",
    "LeftoverKind",
    "Sweep",
    "check_grace",
    "held_by_live_owner",
    "machine_tag",
    "new_scratch_dir",
    "owner_tag",
    "scratch_dir",
    "scratch_prefix",
    "sweep_scratch",
]
