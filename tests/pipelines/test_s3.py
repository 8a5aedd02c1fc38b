"""Object storage for real: the artifact store's suite, a training set from an ``s3://``
Parquet source and a pipeline run with an ``s3://`` artifact root, on moto's S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _s3server import s3_bucket, s3_env, s3_server

import weekend as wk
from conftest import open_ws
from weekend.artifacts import ArtifactStore
from weekend.core.errors import DataValidationError
from weekend.pipelines import RayExecutor
from weekend.testing import artifact_store_checks, parametrize_with_checks
from weekend.workspace import Workspace

__all__ = ["s3_bucket", "s3_env", "s3_server"]  # fixtures


@parametrize_with_checks(artifact_store_checks())
def test_artifact_store_on_s3(check: Any, s3_bucket: str) -> None:
    check.run(ArtifactStore(f"{s3_bucket}/artifacts"))


def test_a_training_set_from_an_s3_parquet_source(
    s3_bucket: str, project: Path, tmp_path: Path
) -> None:
    import s3fs

    fs = s3fs.S3FileSystem()
    day = pd.Timestamp("2013-01-01", tz="UTC")
    for part, hours in enumerate([(1, 2), (5,)]):
        frame = pd.DataFrame(
            {
                "driver_id": [7] * len(hours),
                "event_ts": [day + pd.Timedelta(hours=h) for h in hours],
                "trips": [10 * h for h in hours],
            }
        )
        with fs.open(f"{s3_bucket}/stats/part-{part}.parquet", "wb") as handle:
            frame.to_parquet(handle)
    with open_ws(project) as ws:
        driver = wk.Entity("driver", ["driver_id"])
        view = wk.FeatureView(
            "driver_stats", [driver], f"{s3_bucket}/stats", "event_ts", features={"trips": "int64"}
        )
        ws.features.apply([driver, view])
        rows = pd.DataFrame(
            {
                "driver_id": [7, 7, 7],
                "event_timestamp": [day + pd.Timedelta(hours=h) for h in (0, 3, 6)],
            }
        )
        frame = ws.features.training_set(rows, ["driver_stats:trips"])
        assert frame["trips"].tolist()[1:] == [20, 50]
        assert pd.isna(frame["trips"].iloc[0])
        missing = wk.FeatureView(
            "gone", [driver], f"{s3_bucket}/nothing", "event_ts", features={"trips": "int64"}
        )
        with pytest.raises(DataValidationError, match=r"view 'gone': source .* does not exist"):
            ws.features.apply([missing])


@wk.step
def blob_from_worker(n: int, ws: Workspace) -> dict[str, Any]:
    blob = ws.artifacts.put_bytes(f"written by a worker: {n}".encode())
    return {"sha256": blob.sha256, "root": ws.artifacts.root}


@wk.step
def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"i": list(range(n))})


@wk.step
def count(df: pd.DataFrame) -> dict[str, int]:
    return {"rows": len(df)}


@wk.pipeline
def on_s3(n: int) -> Any:
    return count(frame(n)), blob_from_worker(n)  # type: ignore[call-arg]  # ws: the runner's


@pytest.mark.slow
def test_a_pipeline_on_ray_with_an_s3_artifact_root(
    s3_bucket: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    root = f"{s3_bucket}/artifacts"
    monkeypatch.setenv("WEEKEND_ARTIFACTS_ROOT", root)  # the workers' workspace too
    if ray.is_initialized():
        ray.shutdown()  # workers must start with this environment
    executor = RayExecutor(num_cpus=2)
    try:
        with open_ws(project, {"WEEKEND_ARTIFACTS_ROOT": root}) as ws:
            run = ws.pipelines.run(on_s3, n=5, executor=executor)
            assert run.status == "succeeded", run.error
            written = ws.pipelines.output(run.id, "blob_from_worker")
            assert written["root"] == root
            assert ws.artifacts.read_bytes(written["sha256"]) == b"written by a worker: 5"
            assert ws.pipelines.output(run.id, "count") == {"rows": 5}
            import s3fs

            sha = run.steps["frame"].output_sha256 or ""
            assert s3fs.S3FileSystem().exists(f"{root}/blobs/sha256/{sha[:2]}/{sha[2:]}")
            again = ws.pipelines.run(on_s3, n=5, executor=executor)
            assert all(step.cached for step in again.steps.values())
    finally:
        executor.close()
        ray.shutdown()
