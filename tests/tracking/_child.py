"""Child-process entry points for the reliability tests (not a test module).

Run as a script::

    python _child.py log  <project> <index> <points> <go-file> <ready-file> <result-file>
    python _child.py hold <project> <ready-file>
    python _child.py live <project> <ready-file> <go-file> <result-file>
    python _child.py put  <store-root> <fifo> <ready-file>

``open_catalog`` is a target for ``multiprocessing`` (spawn) start.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

BATCHES = 3
BATCH_POINTS = 50


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.005)


def open_catalog(url: str, barrier: Any) -> None:
    """Open (and so migrate) a catalog once every sibling is ready to do the same."""
    from weekend.catalog import HEAD, Catalog

    barrier.wait(timeout=60)
    catalog = Catalog(url)
    try:
        revision = catalog.revision()
        if revision != HEAD:
            raise SystemExit(f"revision {revision!r} after opening, expected {HEAD!r}")
    finally:
        catalog.dispose()


def log(project: str, index: int, points: int, go: Path, ready: Path, result: Path) -> None:
    """Log ``points`` single points, a few batches (one retried) and params into one run."""
    import weekend as wk

    ws = wk.open(project)
    _write_atomically(ready, "ready")
    _wait_for(go)
    with ws.runs.start("concurrent", name=f"child-{index}", params={"child": index}) as run:
        for step in range(points):
            run.log_metric("loss", 1.0 / (step + 1) + index)
            if step % 500 == 0:
                run.log_params({f"p{step}": step * index})
        base = time.time()
        for batch in range(BATCHES):
            items = [
                ("val", float(batch * BATCH_POINTS + i), batch * BATCH_POINTS + i, base + i)
                for i in range(BATCH_POINTS)
            ]
            run.log_batch(items, params={f"batch{batch}": batch}, tags={"batch": batch})
            if batch == 1:
                run.log_batch(items)  # a retry with the same explicit timestamps
    ws.close()
    expected = {
        "run_id": run.id,
        "counts": {"loss": points, "val": BATCHES * BATCH_POINTS},
        "last_loss": 1.0 / points + index,
        "params": 1 + (points + 499) // 500 + BATCHES,
    }
    _write_atomically(result, json.dumps(expected))


HELD = 200  # points of a held run committed before the write that the kill interrupts
IN_FLIGHT = 100  # points of that write


def hold(project: str, ready: Path) -> None:
    """Commit ``HELD`` points, then stop inside the transaction writing ``IN_FLIGHT`` more,
    after its INSERT ran and before its COMMIT, and write the run id to ``ready``: a kill
    then lands in the middle of a write, provably."""
    from sqlalchemy import event

    import weekend as wk

    ws = wk.open(project)
    run = ws.runs.start("doomed", params={"lr": 0.1})
    for step in range(HELD):
        run.log_metric("loss", float(step))
    run.flush()

    def stop_mid_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO metrics"):
            _write_atomically(ready, run.id)
            threading.Event().wait()  # until the kill

    event.listen(ws.catalog.engine, "after_cursor_execute", stop_mid_write)
    for step in range(HELD, HELD + IN_FLIGHT):
        run.log_metric("loss", float(step))
    run.flush()
    raise SystemExit("the flush finished before the kill")


def live(project: str, ready: Path, go: Path, result: Path) -> None:
    """Keep a run alive (heartbeats), run dead-run cleanup when told, then end the run."""
    import weekend as wk

    ws = wk.open(project)
    run = ws.runs.start("live", params={"machine": os.environ.get("WEEKEND_MACHINE_ID", "")})
    run.flush()
    _write_atomically(ready, run.id)
    step = 0
    while not go.exists():
        run.log_metric("loss", float(step))
        step += 1
        time.sleep(0.01)
    report = ws.runs.gc()
    with ws.runs.start("live", name="after-gc"):  # a start cleans up too
        pass
    run.end()
    ws.close()
    _write_atomically(result, json.dumps({"killed": report.killed, "run_id": run.id}))


def put(store_root: str, fifo: Path, ready: Path) -> None:
    """Store a few whole blobs, then stream a large one slowly through a FIFO."""
    from weekend.artifacts import ArtifactStore

    store = ArtifactStore(store_root)
    for i in range(3):
        store.put_bytes(f"complete blob {i}".encode() * 1000)
    chunk = os.urandom(1 << 20)

    def feed() -> None:
        with open(fifo, "wb") as sink:
            for i in range(256):  # up to 256 MiB, far more than is written before the kill
                sink.write(chunk)
                sink.flush()
                if i == 4:
                    _write_atomically(ready, "streaming")
                time.sleep(0.01)

    threading.Thread(target=feed, daemon=True).start()
    store.put_file(fifo)
    raise SystemExit("put_file finished before the kill")


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "log":
        project, index, points, go, ready, result = argv[1:]
        log(project, int(index), int(points), Path(go), Path(ready), Path(result))
    elif mode == "hold":
        hold(argv[1], Path(argv[2]))
    elif mode == "live":
        live(argv[1], Path(argv[2]), Path(argv[3]), Path(argv[4]))
    elif mode == "put":
        put(argv[1], Path(argv[2]), Path(argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
