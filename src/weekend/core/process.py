"""Which process is this, and is another one still alive? One answer for every part of weekend.

Host name and PID repeat across containers with host networking, cloned VMs and CI runners
sharing one catalog. A process is therefore identified by its machine id, boot id, PID
namespace and start time as well (:class:`ProcessIdentity`); a PID is only ever checked on
the machine, boot and namespace that recorded it. Run tracking uses this to tell dead runs
from live ones, the garbage collector to tell a crashed writer's leftovers from a live one's.

``WEEKEND_MACHINE_ID`` and ``WEEKEND_PID_NAMESPACE`` override the machine id and the PID
namespace: for tests, and for containers whose image carries a copied ``/etc/machine-id``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

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


def printable(value: str, limit: int = 128) -> str:
    """``value`` as text every catalog stores: valid UTF-8, no NUL, at most ``limit`` chars."""
    text = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return text[:limit]


def machine_id() -> str:
    """This machine's id (``WEEKEND_MACHINE_ID``, else /etc/machine-id, else the host name)."""
    return printable(os.environ.get(MACHINE_ID_ENV) or _machine_id_from_files())


def machine_tag() -> str:
    """8 hex digits naming this machine (the hash of :func:`machine_id`), for file names."""
    return hashlib.sha256(machine_id().encode()).hexdigest()[:8]


def owner_tag() -> str:
    """``<machine>-<pid>`` of the calling process (read at each call: forks differ)."""
    return f"{machine_tag()}-{os.getpid()}"


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


def pid_alive(pid: int) -> bool | None:
    """Whether a process ``pid`` exists on this machine (another user's counts); ``None``
    where that cannot be asked safely (Windows, where ``os.kill`` would terminate it)."""
    if sys.platform == "win32":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return pid > 0  # it exists, under another user
    except OverflowError:  # a PID beyond a C int names nothing
        return False
    return True


@lru_cache(maxsize=4)
def _own_process(pid: int) -> tuple[str, int | None]:
    """PID namespace and start time of this process (by pid: a forked child asks anew)."""
    try:
        namespace = str(Path("/proc/self/ns/pid").readlink())
    except OSError:
        namespace = ""
    return namespace, process_start(pid)


def this_process() -> ProcessIdentity:
    """The identity of the calling process (environment overrides read at each call)."""
    pid = os.getpid()
    namespace, start = _own_process(pid)
    return ProcessIdentity(
        host=socket.gethostname(),
        pid=pid,
        machine_id=machine_id(),
        boot_id=_boot_id(),
        pid_namespace=printable(os.environ.get(PID_NAMESPACE_ENV) or namespace),
        start=start,
    )


__all__ = [
    "MACHINE_ID_ENV",
    "PID_NAMESPACE_ENV",
    "ProcessIdentity",
    "machine_id",
    "machine_tag",
    "owner_tag",
    "pid_alive",
    "printable",
    "process_start",
    "process_stat",
    "this_process",
]
