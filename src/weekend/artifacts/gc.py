"""The garbage collector: what crashes leave in the artifact store and the temporary folder.

A process killed while it writes can leave three kinds of garbage, and
:func:`collect_garbage` (``weekend gc``) removes each once it is older than a *grace period*
(one hour by default):

- ``tmp/`` files of the artifact store: a blob being copied in (a dataset's Parquet file,
  a model's files) when the writer died;
- blobs no catalog row refers to: written by a registration that died before it recorded
  them (or left when the rows referring to them were purged);
- scratch folders ``weekend-<purpose>.<owner>.<random>`` in the system's temporary folder
  (a dataset's Parquet conversion, DuckDB's spill files, a model package being saved).

The grace rule protects live writers. A temporary file or scratch folder whose writing
process is alive on this machine is never removed, whatever its age (its name says who wrote
it); one from another machine is judged by its age alone. A blob is removed only when nothing
refers to it **and** it was last written or re-used longer than the grace period ago: a
registration records its blob right after writing it (and re-using a stored blob refreshes
its time), so a registration that finishes within the grace period is never robbed of it.
Blobs are listed before the references are read, so a row committed in between refers to a
blob that is either listed as recent or seen as referenced.

Which blobs are referenced is the catalog's to say (``catalog.referenced_blobs()``, see
:mod:`weekend.catalog.references`): this module takes any object with that method, so that
the artifact store and the catalog stay independent of each other.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from weekend.artifacts import ArtifactStore, Leftover, Sweep, sweep_scratch
from weekend.core.errors import InvalidValueError

DEFAULT_GRACE = "1h"


class BlobReferences(Protocol):
    """What knows which blobs are in use: a :class:`~weekend.catalog.Catalog`."""

    def referenced_blobs(self) -> set[str]:
        """The sha256 of every blob something refers to."""
        ...


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_grace(value: object) -> float:
    """Seconds of a grace period given as seconds, a timedelta or text like ``"90m"``,
    ``"1h"``, ``"1h30m"`` or ``"2d"``."""
    if isinstance(value, timedelta):
        seconds: Any = value.total_seconds()
    elif isinstance(value, str):
        text = value.strip().lower()
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise InvalidValueError(
                f"grace must be a duration like 30s, 90m, 1h or 2d (units s, m, h, d), "
                f"got {value!r:.80}"
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        seconds = value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise InvalidValueError(
            f"grace must be a non-negative duration (seconds, a timedelta or text like '1h'), "
            f"got {value!r:.80}"
        )
    if seconds == float("inf"):
        raise InvalidValueError("grace must be finite; to keep everything, do not collect")
    return float(seconds)


@dataclass
class GcReport:
    """What :func:`collect_garbage` removed (or would remove, with ``dry_run``) and kept."""

    grace_s: float
    dry_run: bool
    removed: list[Leftover] = field(default_factory=list)
    kept_recent: int = 0
    kept_live: int = 0
    kept_referenced: int = 0

    @property
    def files(self) -> int:
        """How many files and folders were freed."""
        return len(self.removed)

    @property
    def bytes(self) -> int:
        """How many bytes were freed."""
        return sum(item.size for item in self.removed)

    def by_kind(self) -> dict[str, dict[str, int]]:
        """Files and bytes freed per kind: ``tmp``, ``scratch`` and ``blob``."""
        out = {kind: {"files": 0, "bytes": 0} for kind in ("tmp", "scratch", "blob")}
        for item in self.removed:
            out[item.kind]["files"] += 1
            out[item.kind]["bytes"] += item.size
        return out

    def _add(self, sweep: Sweep) -> None:
        self.removed.extend(sweep.removed)
        self.kept_recent += sweep.kept_recent
        self.kept_live += sweep.kept_live

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "grace_s": self.grace_s,
            "freed": {"files": self.files, "bytes": self.bytes, **self.by_kind()},
            "kept": {
                "recent": self.kept_recent,
                "live_writer": self.kept_live,
                "referenced_blobs": self.kept_referenced,
            },
            "removed": [
                {"kind": i.kind, "location": i.location, "size": i.size, "age_s": i.age_s}
                for i in self.removed
            ],
        }


def collect_garbage(
    catalog: BlobReferences,
    artifacts: ArtifactStore,
    *,
    grace: float | timedelta | str = DEFAULT_GRACE,
    dry_run: bool = False,
    scratch_root: str | Path | None = None,
) -> GcReport:
    """Remove crash leftovers older than ``grace``: ``tmp/`` files of ``artifacts``, blobs
    that no row of ``catalog`` refers to, and weekend's scratch folders in ``scratch_root``
    (the system's temporary folder by default). ``dry_run`` lists without removing."""
    if not isinstance(dry_run, bool):
        raise InvalidValueError(f"dry_run must be True or False, got {dry_run!r:.80}")
    grace_s = parse_grace(grace)
    now = time.time()
    cutoff = now - grace_s
    report = GcReport(grace_s=grace_s, dry_run=dry_run)
    report._add(artifacts.sweep_tmp(grace_s, dry_run=dry_run, now=now))
    report._add(sweep_scratch(grace_s, root=scratch_root, dry_run=dry_run, now=now))
    # listed before the references are read (see the module docstring)
    candidates = []
    for digest, found in artifacts.blobs():
        if found.mtime is None or found.mtime >= cutoff:
            report.kept_recent += 1
        else:
            candidates.append((digest, found))
    if not candidates:
        return report
    referenced = catalog.referenced_blobs()
    for digest, found in candidates:
        if digest in referenced:
            report.kept_referenced += 1
        elif dry_run or artifacts.remove_blob_if_older(digest, cutoff):
            location = f"{artifacts.root}/{found.key}"
            report.removed.append(Leftover("blob", location, found.size, now - (found.mtime or 0)))
        else:
            report.kept_recent += 1  # re-used while we looked
    return report


__all__ = ["DEFAULT_GRACE", "BlobReferences", "GcReport", "collect_garbage", "parse_grace"]
