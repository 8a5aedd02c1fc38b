"""The decisions behind ``evaluate``, ``promote`` and ``rollback``.

* :func:`run_evaluation` loads the candidate and its baseline, reads the data once, scores
  both, checks the gates and stores the :class:`~weekend.registry._evaluate.Evaluation`.
* :func:`promotion_check` finds the evidence for a promotion (an evaluation of exactly that
  version: the one given, or its latest) and lists what stands against it: no evaluation,
  not blessed, or a stale comparison (it was compared against the alias it would replace,
  and the alias has moved since).
* :func:`rollback_target` replays an alias's audit log as a stack: a move pushes its target,
  a rollback pops. Rolling back moves the alias to the entry below the top, so repeated
  rollbacks walk further back instead of flipping between two versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from weekend.core.errors import ConflictError, InvalidValueError, NotFoundError
from weekend.core.hashing import sha256_bytes, sha256_file
from weekend.core.ids import new_id, now_ms
from weekend.core.refs import parse_ref, validate_alias
from weekend.registry import _store
from weekend.registry._evaluate import (
    Evaluation,
    GateResult,
    Scores,
    check_labels,
    evaluate_scores,
    slice_groups,
)
from weekend.registry._gates import Gate, parse_gate, parse_gates
from weekend.registry._records import AliasEvent

if TYPE_CHECKING:
    import pandas as pd

    from weekend.data.datasets import Datasets
    from weekend.registry._loaded import LoadedVersion
    from weekend.registry.models import Models


# -- evaluation -------------------------------------------------------------------------------


def load_data(store: Datasets, data: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The evaluation frame and a description of where it came from (the evidence).

    ``data`` is read through weekend's one way in for data (:func:`weekend.data.read_frame`):
    a DataFrame, a dataset version or reference (``"holdout/2"``), a CSV or Parquet file, a
    folder of Parquet files or a Query; anything else, and data without rows, is refused
    with a message naming it.
    """
    import pandas as pd

    from weekend.data import open_input, read_frame

    what = "evaluation data"
    source = open_input(data, what=what, datasets=store)
    frame = read_frame(source, what=what, datasets=store)
    info: dict[str, Any]
    if source.kind == "pandas":
        try:
            hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
            fingerprint: str | None = sha256_bytes(hashed)
        except TypeError:
            fingerprint = None
        info = {"kind": "frame", "columns": [str(c) for c in frame.columns]}
        info["fingerprint"] = fingerprint
    elif source.version is not None:
        version = source.version
        info = {"kind": "dataset", "ref": version.ref, "id": version.id}
        info["content_hash"] = version.content_hash
    elif source.path is not None and source.path.is_file():
        path = source.path
        info = {"kind": "file", "path": str(path.resolve()), "sha256": sha256_file(path)}
    elif source.path is not None:
        info = {"kind": "folder", "path": str(source.path.resolve()), "files": len(source.files)}
    else:
        info = {"kind": source.kind, "source": source.describe()[:2000]}
    return frame, info | {"rows": len(frame)}


def _baseline(
    models: Models, name: str, baseline: object, trusted: bool
) -> tuple[LoadedVersion | None, str | None]:
    """The loaded baseline and, if it was named by an alias of the same model, that alias."""
    if baseline is None:
        return None, None
    alias: str | None = None
    if isinstance(baseline, int) and not isinstance(baseline, bool):
        ref = f"{name}/{baseline}"
    elif isinstance(baseline, str) and ("/" in baseline or "@" in baseline):
        parsed = parse_ref(baseline)
        ref = baseline
        alias = parsed.alias if parsed.name == name else None
    elif isinstance(baseline, str) and baseline.isdigit():
        ref = f"{name}/{baseline}"
    elif isinstance(baseline, str):
        alias = validate_alias(baseline)
        ref = f"{name}@{alias}"
    else:
        raise InvalidValueError(
            "baseline must be an alias ('champion'), a version number or a reference "
            f"('other/2'), got {type(baseline).__name__}"
        )
    try:
        return models.load(ref, trusted=trusted), alias
    except NotFoundError as exc:
        raise NotFoundError(
            f"baseline {ref!r} not found: {exc}. For a model's first version evaluate "
            "without a baseline (baseline=None) and gate on values only"
        ) from exc


def _task(loaded: LoadedVersion) -> str:
    task = loaded.version.task
    if task == "unknown":
        return "classifier" if loaded.classes_ is not None else "regressor"
    return task


def _scores(loaded: LoadedVersion, frame: pd.DataFrame, label: str) -> Scores:
    features = frame if loaded.signature is not None else frame.drop(columns=[label])
    validated = loaded.validate(features)
    prediction, proba = loaded.outputs(validated)
    return Scores(np.asarray(prediction), proba, loaded.classes_)


def _arguments(
    label: object, slices: Sequence[str], gates: Sequence[str], min_slice_rows: object
) -> tuple[list[str], list[str]]:
    """``(slice columns, gate texts)``, every argument checked before anything is loaded."""
    if not isinstance(label, str) or not label:
        raise InvalidValueError(f"label must be the name of the label column, got {label!r:.40}")
    slice_columns = [slices] if isinstance(slices, str) else list(slices)
    if not all(isinstance(c, str) for c in slice_columns):
        raise InvalidValueError(f"slices must be column names, got {slice_columns!r:.80}")
    if type(min_slice_rows) is not int or min_slice_rows < 1:
        raise InvalidValueError(f"min_slice_rows must be an integer >= 1, got {min_slice_rows!r}")
    gate_texts = [gates] if isinstance(gates, str) else list(gates)
    for text in gate_texts:
        parse_gate(text)  # syntax errors first
    return slice_columns, gate_texts


def _check_comparable(candidate: LoadedVersion, base: LoadedVersion, task: str) -> None:
    """The baseline is the same task, with the same classes."""
    ref = candidate.version.ref
    if _task(base) != task:
        raise InvalidValueError(f"baseline {base.ref} is a {_task(base)} but {ref} is a {task}")
    if task == "classifier" and not np.array_equal(
        np.asarray(base.classes_), np.asarray(candidate.classes_)
    ):
        raise InvalidValueError(
            f"baseline {base.ref} has classes {np.asarray(base.classes_).tolist()!r:.80} but "
            f"{ref} has {np.asarray(candidate.classes_).tolist()!r:.80}; "
            "their metrics would not be comparable"
        )


def _notes(
    gate_texts: Sequence[str],
    parsed: Sequence[Gate],
    results: Sequence[GateResult],
    base: LoadedVersion | None,
    ref: str,
) -> list[str]:
    """What a reader of the evaluation should know: no gates, gates never checked ..."""
    notes = []
    if not gate_texts:
        notes.append("no gates were given; an evaluation without gates is never blessed")
    checked = {g.gate for g in results}
    for gate in parsed:
        if gate.text not in checked:
            notes.append(
                f"gate {gate.text!r} was not checked on any slice (all below min_slice_rows "
                "or undefined there)"
            )
    if base is not None and base.ref == ref:
        notes.append("the baseline is the candidate itself")
    return notes


def run_evaluation(
    models: Models,
    ref: str,
    *,
    data: Any,
    label: str,
    baseline: str | int | None,
    slices: Sequence[str],
    gates: Sequence[str],
    min_slice_rows: int,
    trusted: bool,
) -> Evaluation:
    """See :meth:`weekend.registry.Models.evaluate`."""
    slice_columns, gate_texts = _arguments(label, slices, gates, min_slice_rows)
    candidate = models.load(ref, trusted=trusted)
    version = candidate.version
    base, base_alias = _baseline(models, version.name, baseline, trusted)
    task = _task(candidate)
    if base is not None:
        _check_comparable(candidate, base, task)
    parsed = parse_gates(gate_texts, task=task, has_baseline=base is not None, slices=slice_columns)
    frame, info = load_data(models._datasets, data)
    if label not in frame.columns:
        raise InvalidValueError(
            f"label column {label!r} is not in the evaluation data "
            f"(columns: {', '.join(map(repr, list(frame.columns)[:20]))})"
        )
    y = check_labels(frame[label], label, task, candidate.classes_)
    overall, base_overall, slice_results, gate_results = evaluate_scores(
        task=task,
        y=y,
        candidate=_scores(candidate, frame, label),
        baseline=None if base is None else _scores(base, frame, label),
        groups=slice_groups(frame, slice_columns),
        gates=parsed,
        min_slice_rows=min_slice_rows,
    )
    evaluation = Evaluation(
        id=new_id(),
        name=version.name,
        version=version.version,
        baseline=None if base is None else base.ref,
        baseline_alias=base_alias,
        task=task,
        label=label,
        data=info,
        metrics=overall,
        baseline_metrics=base_overall,
        slices=slice_results,
        gates=gate_results,
        blessed=bool(gate_results) and all(g.passed for g in gate_results),
        min_slice_rows=min_slice_rows,
        created_at=now_ms(),
        notes=_notes(gate_texts, parsed, gate_results, base, version.ref),
    )
    same_model = base is not None and base.version.name == version.name
    models._store_evaluation(evaluation, base.version.version if base and same_model else None)
    return evaluation


# -- promotion and rollback -------------------------------------------------------------------


def _failures(result: dict[str, Any]) -> str:
    failed = [g for g in result.get("gates", []) if not g.get("passed")]
    if not failed:
        notes = result.get("notes") or ["no gate was checked"]
        return str(notes[0])
    shown = [
        f"{g['gate']}{'' if g['scope'] == 'overall' else ' [' + g['scope'] + ']'} "
        f"({g.get('detail', '')})"
        for g in failed[:3]
    ]
    more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
    return "failed gates: " + "; ".join(shown) + more


def promotion_check(
    conn: Any, name: str, mid: str, version: int, alias: str, evaluation_id: str | None
) -> tuple[dict[str, Any], list[str]]:
    """``(evidence, problems)`` for promoting ``name/version`` to ``alias``."""
    if evaluation_id is not None:
        rows = _store.evaluation_rows(conn, None, evaluation_id=evaluation_id)
        if not rows:
            raise NotFoundError(f"evaluation {evaluation_id!r} does not exist")
        if rows[0]["model_id"] != mid or int(rows[0]["version"]) != version:
            raise InvalidValueError(
                f"evaluation {evaluation_id!r} is of {rows[0]['result'].get('ref')}, "
                f"not of {name}/{version}"
            )
    else:
        rows = _store.evaluation_rows(conn, mid, version)
    if not rows:
        problem = f"{name}/{version} has no evaluation"
        return {"evaluation_id": None, "overridden": [problem]}, [problem]
    row = rows[0]
    result = row["result"]
    data = row["data"]
    evidence: dict[str, Any] = {
        "evaluation_id": row["id"],
        "blessed": bool(row["blessed"]),
        "baseline": result.get("baseline"),
        "data": data.get("ref") or data.get("path") or data.get("kind"),
        "gates": [g["gate"] for g in result.get("gates", []) if g.get("scope") == "overall"],
    }
    problems = []
    if not row["blessed"]:
        problems.append(f"evaluation {row['id'][:12]} is not blessed ({_failures(result)})")
    baseline_version = row["baseline_version"]
    if result.get("baseline_alias") == alias and baseline_version is not None:
        current = _store.current_aliases(conn, mid).get(alias)
        if current not in (baseline_version, version):
            problems.append(
                f"evaluation {row['id'][:12]} compared against {alias!r} at version "
                f"{baseline_version}, but {alias!r} now points at version {current}; "
                "evaluate again against the current one"
            )
    if problems:
        evidence["overridden"] = problems
    return evidence, problems


def rollback_target(name: str, alias: str, events: Sequence[AliasEvent]) -> tuple[int | None, int]:
    """``(version to move to, seq of the move being undone)``; None deletes the alias."""
    stack: list[tuple[int | None, int]] = []
    for event in events:
        if event.action == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append((event.to_version, event.seq))
    if len(stack) < 2:
        never = " (it was never set)" if not events else ""
        raise ConflictError(
            f"alias {alias!r} of model {name!r} has no earlier version to roll back to{never}"
        )
    return stack[-2][0], stack[-1][1]


__all__ = ["load_data", "promotion_check", "rollback_target", "run_evaluation"]
