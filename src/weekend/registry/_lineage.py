"""Lineage of a model version: where it came from, recorded at registration, read as a chain.

Recorded (``lineage_json`` of the version)::

    {"run": {"id": ..., "name": ..., "experiment": ..., "experiment_id": ...} | null,
     "code": {"commit": ..., "branch": ..., "dirty": ...} | null,
     "datasets": [{"role": "training", "ref": "flights/3", "id": ..., "content_hash": ...,
                   "num_rows": ...}, ...],
     "features": [{"view": "weather_hourly", "version": 2}, ...],
     "profile_source": "dataset flights/3" | "input_example" | null}

The code commit comes from the run's ``weekend.git.*`` tags (captured when the run started).
:func:`lineage_chain` adds what the catalog knows now: the run's status, params and user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.core.names import validate_name

if TYPE_CHECKING:
    from weekend.data.datasets import Datasets
    from weekend.registry._records import ModelVersion
    from weekend.tracking.runs import Runs

TRAINING = "training"


def _dataset_version(store: Datasets, item: Any, role: str) -> Any:
    from weekend.data.datasets import DatasetVersion

    if isinstance(item, DatasetVersion):
        return item
    if isinstance(item, str):
        return store.get(item)
    raise InvalidValueError(
        f"datasets[{role!r}] must be a DatasetVersion or a dataset reference such as "
        f"'flights/3', got {type(item).__name__}"
    )


def resolve_datasets(store: Datasets, datasets: Any) -> list[tuple[str, Any]]:
    """``(role, DatasetVersion)`` pairs from one dataset, a list (all training), or a mapping
    of role to one dataset or a list of them."""
    if datasets is None:
        return []
    if isinstance(datasets, Mapping):
        pairs: list[tuple[str, Any]] = []
        for role, items in datasets.items():
            validate_name(role, "dataset role")
            many = items if isinstance(items, list | tuple) else [items]
            pairs += [(role, _dataset_version(store, item, role)) for item in many]
        return pairs
    if isinstance(datasets, list | tuple):
        return [(TRAINING, _dataset_version(store, item, TRAINING)) for item in datasets]
    return [(TRAINING, _dataset_version(store, datasets, TRAINING))]


def resolve_features(features: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if features is None:
        return []
    if not isinstance(features, Mapping):
        raise InvalidValueError(
            f"features must map feature view names to versions, e.g. {{'weather': 2}}, "
            f"got {type(features).__name__}"
        )
    out = []
    for view, version in features.items():
        validate_name(view, "feature view name")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidValueError(
                f"features[{view!r}] must be a positive version number, got {version!r:.40}"
            )
        out.append({"view": view, "version": version})
    return out


def run_lineage(runs: Runs, run: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(run, code)`` facts of a Run or run id (None, None without one)."""
    if run is None:
        return None, None
    run_id = getattr(run, "id", run)
    if not isinstance(run_id, str):
        raise InvalidValueError(f"run must be a Run or a run id, got {type(run).__name__}")
    record = runs.get(run_id)
    facts = {
        "id": record.id,
        "name": record.name,
        "experiment": record.experiment,
        "experiment_id": record.experiment_id,
    }
    tags = record.tags
    code = None
    if "weekend.git.commit" in tags:
        code = {
            "commit": tags["weekend.git.commit"],
            "branch": tags.get("weekend.git.branch"),
            "dirty": tags.get("weekend.git.dirty") == "true",
        }
    return facts, code


def collect(
    store: Datasets,
    runs: Runs,
    *,
    run: Any,
    datasets: Any,
    features: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], str | None]:
    """The lineage record and the training profile JSON (from the first training dataset)."""
    pairs = resolve_datasets(store, datasets)
    run_facts, code = run_lineage(runs, run)
    profile_json = None
    profile_source = None
    for role, dv in pairs:
        if role == TRAINING:
            profile_json, profile_source = dv.profile_json, f"dataset {dv.ref}"
            break
    lineage = {
        "run": run_facts,
        "code": code,
        "datasets": [
            {
                "role": role,
                "ref": dv.ref,
                "id": dv.id,
                "content_hash": dv.content_hash,
                "num_rows": dv.num_rows,
            }
            for role, dv in pairs
        ],
        "features": resolve_features(features),
        "profile_source": profile_source,
    }
    return lineage, profile_json


def lineage_chain(store: Datasets, runs: Runs, version: ModelVersion) -> dict[str, Any]:
    """The chain model version -> run (experiment, params) -> datasets -> features -> code."""
    recorded = version.lineage
    run_facts = recorded.get("run")
    run: dict[str, Any] | None = None
    if run_facts:
        run = dict(run_facts)
        try:
            record = runs.get(run_facts["id"])
        except NotFoundError:
            run["missing"] = True
        else:
            run.update(
                status=record.status,
                user=record.user,
                start_time=record.start_time,
                params=record.params,
                metrics=record.metrics,
            )
    datasets: list[dict[str, Any]] = []
    for item in recorded.get("datasets", []):
        entry = dict(item)
        try:
            found = store.get(item["ref"])
        except NotFoundError:
            entry["missing"] = True
        else:
            entry["missing"] = found.id != item["id"]
        datasets.append(entry)
    return {
        "model": {
            "ref": version.ref,
            "id": version.id,
            "flavor": version.flavor,
            "created_at": version.created_at,
            "aliases": list(version.aliases),
        },
        "run": run,
        "datasets": datasets,
        "features": list(recorded.get("features", [])),
        "code": recorded.get("code"),
        "profile_source": recorded.get("profile_source"),
        "copied_from": recorded.get("copied_from"),
    }


__all__ = ["collect", "lineage_chain", "resolve_datasets", "resolve_features", "run_lineage"]
