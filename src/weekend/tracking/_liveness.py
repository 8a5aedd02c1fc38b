"""Is the owner of a running run still alive? Dead-run detection, without writes.

A run records who owns it: host, PID, machine id, boot id, PID namespace and the process's
start time (``_sysinfo.ProcessIdentity``). Host and PID alone repeat across containers with
host networking, cloned VMs and CI runners sharing one catalog, where a PID checked on the
wrong machine names nothing, or somebody else. So:

- a run whose owner shares this process's machine id, boot id and PID namespace (all known)
  is checked locally: its owner is gone when no process has its PID any more, when that
  process is a zombie, or when the process that has it started at another time (the PID was
  reused);
- any other run is judged by its heartbeat alone: dead once the last one is older than
  ``heartbeat_timeout``.

Either way a run is dead once its heartbeat is that old. A wrong verdict is not final: the
owner's next heartbeat or normal end overrides it (``_store.heartbeat``, ``set_status``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from weekend.tracking._sysinfo import ProcessIdentity, process_stat


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; a PID beyond C int
        return pid > 0
    return True


def dead_reason(
    row: Mapping[str, Any], me: ProcessIdentity, now_ms: int, timeout_ms: int
) -> str | None:
    """Why the owner of running run ``row`` is dead, or None while it may be alive."""
    silence = now_ms - int(row["heartbeat_at"])
    if silence > timeout_ms:
        return (
            f"the process stopped sending heartbeats: none for {silence / 1000:.0f} s, more "
            f"than heartbeat_timeout ({timeout_ms / 1000:g} s); it was killed, crashed or lost "
            "its connection to the catalog"
        )
    if not me.knows_pids_of(row):
        return None  # a PID of another machine, boot or namespace means nothing here
    pid = int(row["pid"])
    stat = process_stat(pid)
    # No /proc entry: gone, hidden from us (hidepid) or no /proc at all, so ask kill(pid, 0).
    # A zombie (Z) has exited and waits for its parent to reap it.
    gone = not _pid_exists(pid) if stat is None else stat[0] in ("Z", "X")
    if gone:
        return (
            f"the process stopped sending heartbeats: its process (pid {pid} on this machine) "
            "ended without ending the run (killed or crashed)"
        )
    recorded = row["process_start"]
    if stat is not None and recorded is not None and int(recorded) != stat[1]:
        return (
            f"the process stopped sending heartbeats: its process (pid {pid} on this machine) "
            "ended without ending the run, and the pid now belongs to another process"
        )
    return None
