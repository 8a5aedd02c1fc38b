"""HTTP load for the serving benchmark: servers in their own processes, ``wrk`` in its own,
and a sequential client that times every request (standard library only).

- :class:`Server` starts a command in its own session (its log in a file), waits until a
  POST of the benchmark's body answers 200, and stops the whole process group.
- :func:`run_wrk` runs ``wrk`` (a Lua script POSTs the bodies in turn and prints its summary
  as JSON) for a bounded time on loopback. wrk corrects its latency percentiles for
  coordinated omission (adds the requests a stalled connection did not send), so they can be
  far above what a client measured; the benchmark reports them as wrk's.
- :func:`sample` sends requests one after the other on one keep-alive connection and times
  each (raw samples, no correction): the 1-client latency, and, beside wrk, the latency one
  connection sees under load.

``wrk`` comes from Debian (``apt-get install -y wrk``); :func:`require_wrk` says so when
it is missing.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

WRK_PREFIX = "@@wrk "

_LUA = """
local bodies = {}
for line in io.lines(__PATH__) do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, __TARGET__, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '__PREFIX__{"requests": %d, "duration_us": %d, "socket_errors": %d, "non2xx": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


class LoadError(RuntimeError):
    """wrk is missing, a server did not start, or a run failed."""


def require_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise LoadError(
            "wrk is not installed: the serving benchmark drives load with it. Install it "
            "with: apt-get update && apt-get install -y wrk"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def post(port: int, path: str, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Server:
    """A server process; use as a context manager."""

    name: str
    cmd: Sequence[str]
    port: int
    path: str
    probe: bytes
    env: Mapping[str, str] = field(default_factory=dict)
    log_dir: Path = Path(tempfile.gettempdir())
    start_timeout: float = 180.0
    cwd: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def __enter__(self) -> Server:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = (self.log_dir / f"{self.name}.log").open("wb")
        env = {**os.environ, **self.env}
        self._proc = subprocess.Popen(
            list(self.cmd),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.cwd) if self.cwd else None,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LoadError(f"{self.name} exited ({self._proc.returncode}): {self.tail()}")
            try:
                status, body = post(self.port, self.path, self.probe, timeout=60)
                if status == 200:
                    return
                last = f"HTTP {status}: {body[:300]!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.25)
        self.__exit__(None, None, None)
        raise LoadError(f"{self.name} did not answer 200 in {self.start_timeout:.0f} s ({last})")

    def tail(self, chars: int = 2000) -> str:
        path = self.log_dir / f"{self.name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        if self._log is not None:
            self._log.close()
        self._proc = None


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    socket_errors: int
    non2xx: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx


@contextlib.contextmanager
def _body_file(bodies: Sequence[bytes]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="wk-wrk-") as folder:
        path = Path(folder) / "bodies.jsonl"
        path.write_bytes(b"\n".join(b.replace(b"\n", b" ") for b in bodies) + b"\n")
        yield path


def run_wrk(
    port: int,
    path: str,
    bodies: Sequence[bytes],
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
) -> WrkResult:
    """``wrk`` against ``127.0.0.1:port`` for ``seconds``, POSTing ``bodies`` in turn."""
    wrk = require_wrk()
    with _body_file(bodies) as body_path:
        script = body_path.with_name("post.lua")
        lua = _LUA.replace("__PATH__", json.dumps(str(body_path)))
        lua = lua.replace("__TARGET__", json.dumps(path)).replace("__PREFIX__", WRK_PREFIX)
        script.write_text(lua)
        cmd = [
            wrk,
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in out.stdout.splitlines():
        if line.startswith(WRK_PREFIX):
            data: dict[str, Any] = json.loads(line[len(WRK_PREFIX) :])
            return WrkResult(
                requests=int(data["requests"]),
                seconds=data["duration_us"] / 1e6,
                socket_errors=int(data["socket_errors"]),
                non2xx=int(data["non2xx"]),
                p50_ms=data["p50_us"] / 1000,
                p90_ms=data["p90_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
            )
    raise LoadError(f"wrk printed no summary (exit {out.returncode}): {out.stderr[-1000:]}")


def sample(
    port: int, path: str, bodies: Sequence[bytes], *, seconds: float, max_requests: int = 50_000
) -> tuple[list[float], int]:
    """Sequential requests on one connection for ``seconds``: (latencies in s, errors)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    i = 0
    try:
        while time.perf_counter() < deadline and len(latencies) < max_requests:
            body = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                errors += 1
    finally:
        conn.close()
    return latencies, errors


def wrk_with_sampler(
    port: int, path: str, bodies: Sequence[bytes], *, connections: int, seconds: float
) -> tuple[WrkResult, list[float], int]:
    """wrk with ``connections - 1`` connections and one timed sequential connection beside
    it, for the same time: wrk's throughput and the measured latency under that load."""
    box: dict[str, Any] = {}

    def sampler() -> None:
        time.sleep(min(1.0, seconds / 10))  # let wrk connect first
        box["sample"] = sample(port, path, bodies, seconds=seconds * 0.8)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    result = run_wrk(
        port, path, bodies, connections=max(1, connections - 1), seconds=seconds, threads=2
    )
    thread.join(timeout=seconds + 60)
    latencies, errors = box.get("sample", ([], 0))
    return result, latencies, errors


__all__ = [
    "LoadError",
    "Server",
    "WrkResult",
    "free_port",
    "post",
    "require_wrk",
    "run_wrk",
    "sample",
    "wrk_with_sampler",
]
