"""System information captured with every run: code version, interpreter, packages, host, user.

The identity of the process that owns a run (for dead-run detection) is
:mod:`weekend.core.process`'s.
"""

from __future__ import annotations

import getpass
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import orjson

from weekend.core.process import printable

PACKAGES = (
    "weekend",
    "numpy",
    "pandas",
    "pyarrow",
    "duckdb",
    "scikit-learn",
    "skops",
    "lightgbm",
    "xgboost",
    "torch",
)


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


@lru_cache(maxsize=8)
def system_tags(cwd: str) -> dict[str, str]:
    """Tags describing where a run ran. Computed once per process and folder."""
    tags = {
        "weekend.python": platform.python_version(),
        "weekend.platform": platform.platform(terse=True),
        "weekend.host": socket.gethostname(),
        "weekend.user": user_name(),
        "weekend.entry_point": Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "",
    }
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    tags["weekend.packages"] = orjson.dumps(versions, option=orjson.OPT_SORT_KEYS).decode()
    commit = _git(["rev-parse", "HEAD"], Path(cwd))
    if commit:
        tags["weekend.git.commit"] = commit
        status = _git(["status", "--porcelain", "--untracked-files=no"], Path(cwd))
        tags["weekend.git.dirty"] = "true" if status else "false"
        branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], Path(cwd))
        if branch:
            tags["weekend.git.branch"] = branch
    # argv and git may hand back bytes that are not UTF-8 (as surrogates): store them readable
    return {key: printable(value, 8000) for key, value in tags.items()}
