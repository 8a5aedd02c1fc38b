"""Is the owner of a running run still alive? Dead-run detection, without writes.

A run records who owns it: host, PID, machine id, boot id, PID namespace and the process's
start time (``weekend.core.process.ProcessIdentity``). Host and PID alone repeat across
containers with host networking, cloned VMs and CI runners sharing one catalog, where a PID
checked on the wrong machine names nothing, or somebody else. So:

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

from collections.abc import Mapping
from typing import Any

from weekend.core.process import ProcessIdentity, pid_alive, process_stat


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
    gone = pid_alive(pid) is False if stat is None else stat[0] in ("Z", "X")
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
