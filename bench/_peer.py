"""Run a peer (MLflow, Feast, Evidently ...) in its own virtualenv, from a benchmark.

Standard library only: the same file is imported by benchmarks running in the project's
``.venv`` and may be imported by worker code running inside a peer's venv.

A peer venv lives in ``bench/.venvs/<name>`` (git-ignored). It is made with the machine's
``python3 -m venv`` and ``pip install``; a marker file records the requirements it was
built from, so a later run reuses it and a change of requirements rebuilds it.

A worker script talks back through its standard output: it prints one line
``RESULT_PREFIX + json`` (use :func:`emit`); anything else it prints (logs, warnings) is
ignored, and its standard error is shown only when it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"
DATA_DIR = BENCH_DIR / ".data"
RESULT_PREFIX = "@@bench-result "
MARKER = "weekend-bench-requirements.json"


class PeerError(RuntimeError):
    """A peer venv could not be built, or a worker failed."""


@dataclass(frozen=True)
class Venv:
    """A Python environment: its folder and its interpreter."""

    name: str
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def version_of(self, distribution: str) -> str | None:
        """The installed version of a distribution in this venv (None if absent)."""
        code = (
            "import importlib.metadata as m, sys\n"
            "try:\n    print(m.version(sys.argv[1]))\n"
            "except m.PackageNotFoundError:\n    pass\n"
        )
        out = subprocess.run(
            [str(self.python), "-c", code, distribution],
            capture_output=True,
            text=True,
            check=False,
        )
        text = out.stdout.strip()
        return text or None


def project_venv() -> Venv:
    """The project's own ``.venv`` (where weekend is installed)."""
    root = REPO_DIR / ".venv"
    if not (root / "bin" / "python").exists():
        raise PeerError(f"the project venv is missing: expected {root}/bin/python")
    return Venv("project", root)


def user_venv(log: Any = None) -> Venv:
    """weekend as a user installs it: ``bench/.venvs/weekend`` with the checkout installed
    in editable mode (so it runs the current code) and its runtime dependencies only, none
    of the test and lint tools of the project's ``.venv``. Peers get the same treatment:
    their venvs hold what ``pip install <peer>`` brings. (It matters: with pytest installed,
    scikit-learn's estimator discovery, which skops runs on import, imports pytest too.)"""
    return ensure_venv("weekend", ["-e", str(REPO_DIR)], check_import="weekend", log=log)


def _base_python() -> str:
    """The machine's python3 (not a venv's), to build peer venvs from."""
    found = shutil.which("python3")
    if found and not Path(found).resolve().is_relative_to(REPO_DIR):
        return found
    return getattr(sys, "_base_executable", sys.executable)


def ensure_venv(
    name: str,
    requirements: Sequence[str],
    *,
    check_import: str | None = None,
    log: Any = None,
) -> Venv:
    """Create (or reuse) ``bench/.venvs/<name>`` with ``requirements`` installed.

    ``check_import`` is a module that must import in the venv for it to count as ready.
    ``log`` is a callable taking one message (default: print to stderr).
    """
    say = log or (lambda message: print(message, file=sys.stderr, flush=True))
    venv = Venv(name, VENVS_DIR / name)
    wanted = {"requirements": sorted(requirements), "check_import": check_import}
    marker = venv.root / MARKER
    if venv.python.exists() and marker.exists():
        try:
            if json.loads(marker.read_text()) == wanted:
                return venv
        except ValueError:
            pass
    if venv.root.exists():
        say(f"[peer] rebuilding venv {venv.root} (requirements changed or build incomplete)")
        shutil.rmtree(venv.root)
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    say(f"[peer] creating venv {venv.root} and installing {' '.join(requirements)} ...")
    _check([_base_python(), "-m", "venv", str(venv.root)], "create the venv")
    _check(
        [str(venv.python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        "upgrade pip",
    )
    _check(
        [str(venv.python), "-m", "pip", "install", "--quiet", *requirements],
        f"install {' '.join(requirements)}",
    )
    if check_import:
        _check([str(venv.python), "-c", f"import {check_import}"], f"import {check_import}")
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(wanted))
    tmp.replace(marker)  # the venv counts as ready only once this exists
    say(f"[peer] venv {name} ready in {time.perf_counter() - started:.0f} s")
    return venv


def _check(cmd: Sequence[str], what: str) -> None:
    out = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout)[-3000:]
        raise PeerError(f"could not {what} (exit {out.returncode}):\n{tail}")


def run_worker(
    venv: Venv,
    script: str | Path,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 3600.0,
) -> Any:
    """Run ``script`` with the venv's python in a fresh process; return what it emitted.

    The venv's ``bin`` goes first on ``PATH`` (some peers start helpers by name).
    """
    full_env = _worker_env(venv, env)
    cmd = [str(venv.python), str(script), *args]
    try:
        out = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=full_env,
            cwd=str(cwd) if cwd else None,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerError(f"worker {' '.join(cmd[1:])} timed out after {timeout:.0f} s") from exc
    if out.returncode != 0:
        raise PeerError(
            f"worker {' '.join(cmd[1:])} in venv {venv.name} failed (exit {out.returncode}):\n"
            f"{out.stderr[-4000:]}"
        )
    return _result_line(out.stdout, out.stderr, f"worker {' '.join(cmd[1:])}")


def _worker_env(venv: Venv, env: Mapping[str, str] | None) -> dict[str, str]:
    """The caller's environment with the venv's ``bin`` first on ``PATH``."""
    full_env = dict(os.environ)
    full_env.pop("PYTHONPATH", None)
    full_env.pop("VIRTUAL_ENV", None)
    full_env["PATH"] = f"{venv.bin}{os.pathsep}{full_env.get('PATH', '')}"
    full_env["PYTHONHASHSEED"] = full_env.get("PYTHONHASHSEED", "0")
    if env:
        full_env.update(env)
    return full_env


def _result_line(stdout: str, stderr: str, what: str) -> Any:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise PeerError(
        f"{what} printed no result line; stdout ends with:\n"
        f"{stdout[-2000:]}\nstderr ends with:\n{stderr[-2000:]}"
    )


@dataclass(frozen=True)
class Capped:
    """How a worker run under a memory and time cap ended.

    ``status`` is ``"ok"`` (``result`` holds what the worker emitted), ``"out of memory"``
    (its resident memory passed the cap, or it failed allocating) or ``"timed out"``.
    ``peak_rss_mb`` and ``peak_vm_mb`` are the largest resident and virtual sizes sampled
    (process and children); ``seconds`` is the wall time until it ended or was stopped.
    """

    status: str
    result: Any
    seconds: float
    peak_rss_mb: float
    peak_vm_mb: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_OOM_SIGNS = ("MemoryError", "Out of Memory", "bad_alloc", "Cannot allocate memory")


def run_capped(
    venv: Venv,
    script: str | Path,
    args: Sequence[str] = (),
    *,
    memory_mb: float,
    timeout: float,
    poll_s: float = 0.05,
) -> Capped:
    """:func:`run_worker` under a cap: the worker (in its own session) is killed, by its
    process group, when the resident memory of it and its children passes ``memory_mb``
    or when it runs longer than ``timeout`` seconds; either is reported, not raised.

    The cap is on resident memory, sampled from ``/proc`` every ``poll_s`` seconds, not an
    ``RLIMIT_AS``: DuckDB and Arrow reserve far more address space than they touch, so an
    address-space limit fails runs that fit in memory (``peak_vm_mb`` shows by how much).
    Any other failure raises :class:`PeerError`, as :func:`run_worker` does.
    """
    import signal
    import tempfile

    full_env = _worker_env(venv, None)
    cmd = [str(venv.python), str(script), *args]
    what = f"worker {' '.join(cmd[1:])[:300]}"
    peak_rss = peak_vm = 0.0
    status = "ok"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full_env, start_new_session=True)
        while proc.poll() is None:
            rss, vm = _tree_memory_mb(proc.pid)
            peak_rss, peak_vm = max(peak_rss, rss), max(peak_vm, vm)
            elapsed = time.perf_counter() - started
            if rss > memory_mb or elapsed > timeout:
                status = "out of memory" if rss > memory_mb else "timed out"
                os.killpg(proc.pid, signal.SIGKILL)  # the session this call started
                proc.wait()
                break
            time.sleep(poll_s)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if status == "out of memory":
        detail = f"resident memory passed the {memory_mb:,.0f} MB cap after {seconds:.0f} s"
        return Capped(status, None, seconds, peak_rss, peak_vm, detail)
    if status == "timed out":
        detail = f"stopped after {timeout:,.0f} s"
        return Capped(status, None, seconds, peak_rss, peak_vm, detail)
    if proc.returncode != 0:
        if any(sign in stderr for sign in _OOM_SIGNS) or proc.returncode == -signal.SIGKILL:
            lines = [line for line in stderr.splitlines() if line.strip()]
            detail = f"failed allocating after {seconds:.0f} s: {lines[-1] if lines else ''}"
            return Capped("out of memory", None, seconds, peak_rss, peak_vm, detail[:500])
        raise PeerError(
            f"{what} in venv {venv.name} failed (exit {proc.returncode}):\n{stderr[-4000:]}"
        )
    return Capped("ok", _result_line(stdout, stderr, what), seconds, peak_rss, peak_vm)


def _tree_memory_mb(pid: int) -> tuple[float, float]:
    """Resident and virtual size (MB) of ``pid`` and its descendants, from ``/proc``."""
    rss = vm = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("VmSize:"):
                    vm += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue  # it ended between two reads
    return rss, vm


def emit(result: Any) -> None:
    """Called by a worker: hand ``result`` (JSON-serialisable) back to the benchmark."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


# -- what every benchmark's command line has ------------------------------------------------
def add_common_options(
    parser: argparse.ArgumentParser,
    *,
    seed: int,
    reps: int,
    workers: Iterable[str],
    keep: str,
    quick: str = "a small smoke run",
) -> None:
    """``--quick``, ``--reps``, ``--seed``, ``--json``, ``--keep``, and the hidden ``--worker
    NAME --spec JSON`` with which a benchmark file runs as its own worker."""
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--reps", type=int, help=f"repetitions (default {reps}, quick 1)")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--keep", action="store_true", help=keep)
    parser.add_argument("--worker", choices=sorted(workers), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)


def serve_worker(args: argparse.Namespace, workers: Mapping[str, Callable[[Any], Any]]) -> bool:
    """When the benchmark was started as a worker, run it and emit its result; True if so."""
    if not args.worker:
        return False
    emit(workers[args.worker](json.loads(args.spec)))
    return True


def write_figures(args: argparse.Namespace, payload: Mapping[str, Any], tag: str) -> None:
    """With ``--json PATH``: write ``payload`` there, with the options of the run."""
    if args.json is None:
        return
    options = {k: v for k, v in vars(args).items() if k not in ("json", "worker", "spec")}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**payload, "options": options}, indent=2, default=str))
    print(f"[{tag}] figures written to {args.json}", file=sys.stderr, flush=True)
