"""System information captured with every run: code version, interpreter, packages, host, user,
and the identity of the process that owns it (for dead-run detection).

A process is identified by more than its host name and PID, which repeat across containers
with host networking, cloned VMs and CI runners sharing one catalog: the machine id, the boot
id, the PID namespace and the process start time. ``WEEKEND_MACHINE_ID`` and
``WEEKEND_PID_NAMESPACE`` override the first and the third; they exist for tests and for
containers whose image carries a copied ``/etc/machine-id``.
"""

from __future__ import annotations

import getpass
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

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


MACHINE_ID_ENV = "WEEKEND_MACHINE_ID"
PID_NAMESPACE_ENV = "WEEKEND_PID_NAMESPACE"
_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


@dataclass(frozen=True)
class ProcessIdentity:
    """Where a process runs, and which process it is, as far as this system can tell.

    An empty ``boot_id`` or ``pid_namespace`` and a ``None`` start mean "unknown" (no
    ``/proc``, as on macOS or Windows): a PID check is then never trusted.
    """

    host: str
    pid: int
    machine_id: str
    boot_id: str
    pid_namespace: str
    start: int | None  # clock ticks after boot (field 22 of /proc/<pid>/stat)

    def knows_pids_of(self, owner: Mapping[str, Any]) -> bool:
        """True when a PID recorded by ``owner`` (a row with ``host``, ``machine_id``,
        ``boot_id`` and ``pid_namespace``) names a process here: same host name, machine,
        boot and PID namespace, all of them known."""
        return (
            bool(self.boot_id and self.pid_namespace)
            and owner["host"] == self.host
            and owner["machine_id"] == self.machine_id
            and owner["boot_id"] == self.boot_id
            and owner["pid_namespace"] == self.pid_namespace
        )


def _first_line(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.readline().strip()
    except OSError:
        return ""


@lru_cache(maxsize=1)
def _machine_id_from_files() -> str:
    for path in _MACHINE_ID_FILES:
        value = _first_line(path)
        if value:
            return value
    return "host:" + socket.gethostname()


@lru_cache(maxsize=1)
def _boot_id() -> str:
    return _first_line(_BOOT_ID_FILE)


@lru_cache(maxsize=4)
def _own_process(pid: int) -> tuple[str, int | None]:
    """PID namespace and start time of this process (by pid: a forked child asks anew)."""
    try:
        namespace = str(Path("/proc/self/ns/pid").readlink())
    except OSError:
        namespace = ""
    return namespace, process_start(pid)


def process_stat(pid: int) -> tuple[str, int] | None:
    """The state letter and start time (clock ticks after boot) of process ``pid``, or None
    when ``/proc`` has no readable entry for it (no such process, or no ``/proc``).

    Parsing starts after the last ``)``: the command name in parentheses may hold spaces.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            stat = file.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or not fields[19].isdigit():
        return None
    return fields[0], int(fields[19])


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks after boot), or None when unknown."""
    stat = process_stat(pid)
    return None if stat is None else stat[1]


def _printable(value: str, limit: int = 128) -> str:
    """``value`` as text every catalog stores: valid UTF-8, no NUL, at most ``limit`` chars."""
    text = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return text[:limit]


def this_process() -> ProcessIdentity:
    """The identity of the calling process (environment overrides read at each call)."""
    pid = os.getpid()
    namespace, start = _own_process(pid)
    return ProcessIdentity(
        host=socket.gethostname(),
        pid=pid,
        machine_id=_printable(os.environ.get(MACHINE_ID_ENV) or _machine_id_from_files()),
        boot_id=_boot_id(),
        pid_namespace=_printable(os.environ.get(PID_NAMESPACE_ENV) or namespace),
        start=start,
    )


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
    return {key: _printable(value, 8000) for key, value in tags.items()}
