"""W4 — the Feast side of ``bench/features.py``; runs inside Feast's own venv.

    bench/.venvs/feast/bin/python bench/_feast_worker.py NAME SPEC_JSON

``NAME`` is one of ``setup``, ``training``, ``materialize``, ``online``. Every phase runs in a
fresh process and hands its figures back through :func:`_peer.emit`. The feature repository
(``feature_store.yaml`` + a file registry) uses Feast's DuckDB offline store (exact, unlike
its default Dask file store: see PEERS.md) and its SQLite online store; the same folder is
served by ``feast serve`` for the HTTP measurements.

Not timed: imports, writing the repository and ``apply``, reading the entity frame into
pandas, writing the result to Parquet for the correctness check. Peak memory is the
process's ``ru_maxrss`` taken before the result is written.
"""

from __future__ import annotations

import json
import random
import resource
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _peer

PROJECT = "bench"
VIEW = "fv"
KEY = "entity_id"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _yaml(repo: Path) -> str:
    return (
        f"project: {PROJECT}\n"
        f"registry: {repo / 'data' / 'registry.db'}\n"
        "provider: local\n"
        "offline_store:\n  type: duckdb\n"
        f"online_store:\n  type: sqlite\n  path: {repo / 'data' / 'online.db'}\n"
        "entity_key_serialization_version: 3\n"
    )


def setup(spec: dict[str, Any]) -> Any:
    """Write the repository for ``spec['source']`` and apply the entity and the view."""
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    repo = Path(spec["repo"])
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(_yaml(repo))
    entity = Entity(name="entity", join_keys=[KEY], value_type=ValueType.INT64)
    source = FileSource(
        name="features_source",
        path=spec["source"],
        timestamp_field="event_ts",
        created_timestamp_column="created_ts",
    )
    view = FeatureView(
        name=VIEW,
        entities=[entity],
        ttl=timedelta(days=spec["ttl_days"]),
        schema=[Field(name=KEY, dtype=Int64)]
        + [Field(name=f, dtype=Float64) for f in spec["features"]],
        source=source,
        online=True,
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply([entity, view])
    return store


def training(spec: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    store = setup(spec)
    entity_df = pq.read_table(spec["entity"]).to_pandas()
    refs = [f"{VIEW}:{f}" for f in spec["features"]]
    rss_before = _rss_mb()
    if spec.get("started_file"):  # lets a driver that stops this process time the call
        Path(spec["started_file"]).write_text(repr(time.time()))
    started = time.perf_counter()
    table = store.get_historical_features(entity_df=entity_df, features=refs).to_arrow()
    seconds = time.perf_counter() - started
    rss = _rss_mb()
    rows = table.num_rows
    pq.write_table(table.select(["rid", *spec["features"]]), spec["out"])
    return {"seconds": seconds, "rss_mb": rss, "rss_before_mb": rss_before, "rows": rows}


def _window(spec: dict[str, Any]) -> tuple[datetime, datetime]:
    return (
        datetime.fromtimestamp(spec["start_s"], UTC),
        datetime.fromtimestamp(spec["end_s"], UTC),
    )


def materialize(spec: dict[str, Any]) -> dict[str, Any]:
    store = setup(spec)
    start, end = _window(spec)
    started = time.perf_counter()
    store.materialize(start_date=start, end_date=end, feature_views=[VIEW])
    seconds = time.perf_counter() - started
    db = Path(spec["repo"]) / "data" / "online.db"
    with sqlite3.connect(db) as conn:
        entities = conn.execute(
            f"SELECT count(DISTINCT entity_key) FROM {PROJECT}_{VIEW}"
        ).fetchone()[0]
    return {"seconds": seconds, "entities": int(entities), "rss_mb": _rss_mb()}


def online(spec: dict[str, Any]) -> dict[str, Any]:
    """p50/p99 of ``get_online_features(...).to_dict()`` for each batch size, and the values
    of a sample of entities (for the agreement check with weekend)."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=spec["repo"])
    refs = [f"{VIEW}:{f}" for f in spec["features"]]
    rng = random.Random(spec["seed"])
    ids: list[int] = spec["ids"]

    def read(batch: list[int]) -> dict[str, list[Any]]:
        rows = [{KEY: i} for i in batch]
        out: dict[str, list[Any]] = store.get_online_features(
            features=refs, entity_rows=rows
        ).to_dict()
        return out

    for _ in range(spec["warmup"]):
        read(rng.sample(ids, 1))
    latencies: dict[str, list[float]] = {}
    for size, calls in spec["calls"].items():
        batches = [rng.sample(ids, int(size)) for _ in range(calls)]
        timings = []
        for batch in batches:
            started = time.perf_counter()
            read(batch)
            timings.append(time.perf_counter() - started)
        latencies[size] = timings
    values: dict[str, list[Any]] = {}
    check = spec["check_ids"]
    for lo in range(0, len(check), 100):
        got = read(check[lo : lo + 100])
        for j, key in enumerate(got[KEY]):
            values[str(key)] = [got[f][j] for f in spec["features"]]
    return {"latency_s": latencies, "values": values, "rss_mb": _rss_mb()}


WORKERS = {"training": training, "materialize": materialize, "online": online}


def main(argv: list[str]) -> int:
    name, spec = argv[0], json.loads(argv[1])
    if name == "setup":
        setup(spec)
        _peer.emit({"ok": True})
        return 0
    _peer.emit(WORKERS[name](spec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
