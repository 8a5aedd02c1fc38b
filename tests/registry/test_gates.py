"""Promotion gates: the gate language, evaluations overall and per slice, promote and rollback."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _registry_data import classifier, features, flights, regressor
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import f1_score, log_loss, roc_auc_score

from weekend.core.errors import (
    ConflictError,
    DataValidationError,
    InvalidValueError,
    NotFoundError,
)
from weekend.registry._gates import GateSyntaxError, parse_gate, parse_gates
from weekend.workspace import Workspace


@pytest.fixture
def train(rng: np.random.Generator) -> pd.DataFrame:
    return flights(rng, 400)


@pytest.fixture
def holdout(rng: np.random.Generator) -> pd.DataFrame:
    return flights(rng, 600)


# -- the gate language ----------------------------------------------------------------------------

VALUES = {"candidate": {"auc": 0.72, "rows": 100.0}, "baseline": {"auc": 0.71}}


@pytest.mark.parametrize(
    ("text", "passed", "left", "right"),
    [
        ("auc >= 0.7", True, 0.72, 0.7),
        ("auc>=0.75", False, 0.72, 0.75),
        ("auc >= baseline.auc - 0.005", True, 0.72, 0.705),
        ("candidate.auc - baseline.auc > 0.02", False, 0.72 - 0.71, 0.02),
        ("auc >= baseline.auc * (1 + 0.01)", True, 0.72, 0.71 * 1.01),
        ("-auc < -0.7", True, -0.72, -0.7),
        ("rows == 1e2", True, 100.0, 100.0),
        ("auc / 0 > 1", False, math.nan, 1.0),
        ("overall: auc <= .8", True, 0.72, 0.8),
    ],
)
def test_gates_compare_expressions(text: str, passed: bool, left: float, right: float) -> None:
    gate = parse_gate(text)
    got, got_left, got_right = gate.check(VALUES)
    assert got is passed
    assert got_left == pytest.approx(left, nan_ok=True)
    assert got_right == pytest.approx(right)
    assert gate.scope == "overall"


def test_slice_scopes() -> None:
    every = parse_gate("slice: auc >= baseline.auc - 0.02")
    assert (every.scope, every.column, every.uses_baseline) == ("slice", None, True)
    assert every.applies_to("carrier")
    assert every.applies_to("origin")
    one = parse_gate("slice(carrier): recall >= 0.5")
    assert (one.scope, one.column) == ("slice", "carrier")
    assert one.applies_to("carrier")
    assert not one.applies_to("origin")


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("auc >=", "expected a number, a metric or '\\('", 6),
        ("auc >> 0.7", "expected a number, a metric or '\\(', got '>'", 5),
        ("auc 0.7", "expected a comparison", 4),
        ("aucc >= 0.7", "unknown metric 'aucc'", 0),
        ("baseline.aucc >= 0.7", "unknown metric 'aucc'", 9),
        ("champion.auc >= 0.7", "unknown prefix 'champion'", 0),
        ("(auc >= 0.7", "expected '\\)', got '>='", 5),
        ("auc >= 0.7 0.8", "unexpected '0.8' after the comparison", 11),
        ("0.7 >= 0.5", "must use at least one metric", 0),
        ("auc >= 0.7 ; drop", "unexpected character ';'", 11),
        ("slice(car rier): auc > 1", "expected '\\)' after the slice column", 10),
        ("   ", "empty gate", 0),
    ],
)
def test_gate_syntax_errors_point_at_the_problem(text: str, message: str, position: int) -> None:
    with pytest.raises(GateSyntaxError, match=message) as info:
        parse_gate(text)
    assert info.value.position == position
    assert "^" in str(info.value)


def test_gates_must_fit_task_baseline_and_slices() -> None:
    with pytest.raises(GateSyntaxError, match="metric 'rmse' does not apply to a classifier"):
        parse_gates(["rmse < 3"], task="classifier", has_baseline=False, slices=[])
    with pytest.raises(GateSyntaxError, match="no baseline was given"):
        parse_gates(["auc >= baseline.auc"], task="classifier", has_baseline=False, slices=[])
    with pytest.raises(GateSyntaxError, match="no slices were given"):
        parse_gates(["slice: auc > 0.5"], task="classifier", has_baseline=False, slices=[])
    with pytest.raises(GateSyntaxError, match="slice column 'dest' is not among the slices"):
        parse_gates(["slice(dest): auc > 0.5"], task="classifier", has_baseline=False, slices=["x"])
    assert len(parse_gates("r2 > 0", task="regressor", has_baseline=False, slices=[])) == 1


@given(
    a=st.floats(-1e6, 1e6, allow_nan=False),
    b=st.floats(-1e6, 1e6, allow_nan=False),
    c=st.floats(0.5, 10.0),
)
def test_gate_arithmetic_matches_python(a: float, b: float, c: float) -> None:
    values = {"candidate": {"auc": a}, "baseline": {"auc": b}}
    gate = parse_gate(f"auc - baseline.auc * {c!r} >= -({b!r}) / {c!r} + {a!r}")
    _, left, right = gate.check(values)
    assert left == pytest.approx(a - b * c)
    assert right == pytest.approx(-b / c + a)


# -- evaluations ----------------------------------------------------------------------------------


def test_evaluation_scores_overall_and_per_slice(
    ws: Workspace, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    model = classifier(train)
    ws.models.register(model, "delay", input_example=features(train))
    small = holdout.assign(carrier=np.where(np.arange(len(holdout)) < 10, "ZZ", holdout.carrier))
    evaluation = ws.models.evaluate(
        "delay/1",
        data=small,
        label="delayed",
        slices=["carrier"],
        gates=["auc >= 0.6", "slice: accuracy >= 0.0"],
        min_slice_rows=20,
    )
    proba = model.predict_proba(features(small))[:, 1]
    y = small["delayed"].to_numpy()
    assert evaluation.metrics["auc"] == pytest.approx(roc_auc_score(y, proba))
    assert evaluation.metrics["log_loss"] == pytest.approx(log_loss(y, proba))
    assert evaluation.metrics["f1"] == pytest.approx(f1_score(y, model.predict(features(small))))
    assert evaluation.metrics["rows"] == len(small)
    by_value = {s.value: s for s in evaluation.slices}
    assert sorted(by_value) == sorted([*set(small.carrier)])
    assert by_value["ZZ"].rows == 10
    assert not by_value["ZZ"].gated
    assert all(s.gated for v, s in by_value.items() if v != "ZZ")
    scopes = [g.scope for g in evaluation.gates]
    assert scopes[0] == "overall"
    assert "carrier=ZZ" not in scopes
    assert len(scopes) == 1 + len(by_value) - 1
    assert evaluation.blessed
    assert "BLESSED" in evaluation.summary()
    [stored] = ws.models.evaluations("delay/1")
    assert stored.to_dict() == evaluation.to_dict()
    assert ws.models.get_evaluation(evaluation.id).blessed
    assert stored.data["kind"] == "frame"
    assert stored.data["fingerprint"]


def test_change_gates_compare_with_the_baseline_on_the_same_data(
    ws: Workspace, train: pd.DataFrame, holdout: pd.DataFrame, rng: np.random.Generator
) -> None:
    ws.models.register(classifier(train), "delay", input_example=features(train))
    ws.models.set_alias("delay", 1, "champion")
    shuffled = rng.permutation(train["delayed"].to_numpy())
    ws.models.register(classifier(train, shuffled), "delay", input_example=features(train))
    evaluation = ws.models.evaluate(
        "delay/2",
        baseline="champion",
        data=holdout,
        label="delayed",
        slices=["origin"],
        gates=["auc >= 0.4", "auc >= baseline.auc - 0.005", "slice: recall >= 0"],
    )
    assert evaluation.baseline == "delay/1"
    assert evaluation.baseline_alias == "champion"
    assert evaluation.baseline_metrics is not None
    assert evaluation.metrics["auc"] < evaluation.baseline_metrics["auc"] - 0.005
    assert not evaluation.blessed
    [failed] = evaluation.failed_gates
    assert failed.gate == "auc >= baseline.auc - 0.005"
    assert failed.scope == "overall"
    assert all(s.baseline is not None for s in evaluation.slices)
    summary = evaluation.summary()
    assert "NOT BLESSED" in summary
    assert "FAIL  auc >= baseline.auc - 0.005" in summary
    by_number = ws.models.evaluate(
        "delay/2", baseline=1, data=holdout, label="delayed", gates=["auc >= 0"]
    )
    assert by_number.baseline == "delay/1"
    assert by_number.baseline_alias is None


def test_a_failing_slice_blocks_the_blessing(
    ws: Workspace, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    ws.models.register(classifier(train), "delay", input_example=features(train))
    worst = holdout.assign(
        delayed=np.where(holdout.carrier == "UA", 1 - holdout.delayed, holdout.delayed)
    )
    evaluation = ws.models.evaluate(
        "delay/1",
        data=worst,
        label="delayed",
        slices=["carrier", "origin"],
        gates=["slice(carrier): auc >= 0.55"],
    )
    assert not evaluation.blessed
    assert [g.scope for g in evaluation.failed_gates] == ["carrier=UA"]
    assert not any(g.scope.startswith("origin=") for g in evaluation.gates)
    assert "carrier=UA" in evaluation.summary()


def test_regressor_metrics_and_undefined_values(
    ws: Workspace, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    model = regressor(train)
    ws.models.register(model, "minutes", input_example=features(train))
    evaluation = ws.models.evaluate(
        "minutes", data=holdout, label="arr_delay", gates=["rmse <= 10", "r2 > 0.5"]
    )
    err = model.predict(features(holdout)) - holdout["arr_delay"].to_numpy()
    assert evaluation.task == "regressor"
    assert evaluation.metrics["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert evaluation.metrics["mae"] == pytest.approx(np.mean(np.abs(err)))
    assert evaluation.blessed
    constant = holdout.head(40).assign(arr_delay=5.0)
    undefined = ws.models.evaluate("minutes", data=constant, label="arr_delay", gates=["r2 > 0"])
    assert math.isnan(undefined.metrics["r2"])
    assert not undefined.blessed
    assert "undefined" in undefined.summary()


def test_evaluation_data_from_datasets_and_files(
    ws: Workspace, tmp_path: Path, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    ws.models.register(classifier(train), "delay", input_example=features(train))
    dataset = ws.datasets.register("holdout", holdout)
    from_ref = ws.models.evaluate("delay", data="holdout/1", label="delayed", gates=["auc > 0.5"])
    assert from_ref.data["ref"] == "holdout/1"
    assert from_ref.data["content_hash"] == dataset.content_hash
    path = tmp_path / "holdout.parquet"
    holdout.to_parquet(path)
    from_file = ws.models.evaluate("delay", data=str(path), label="delayed", gates=["auc > 0.5"])
    assert from_file.data["kind"] == "file"
    assert len(from_file.data["sha256"]) == 64
    assert from_file.metrics["auc"] == pytest.approx(from_ref.metrics["auc"])


def test_evaluation_input_errors(ws: Workspace, train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    ws.models.register(classifier(train), "delay", input_example=features(train))
    with pytest.raises(
        InvalidValueError, match="label column 'late' is not in the evaluation data"
    ):
        ws.models.evaluate("delay", data=holdout, label="late", gates=["auc > 0.5"])
    with pytest.raises(DataValidationError, match="value the model does not know: 7 at row 3"):
        ws.models.evaluate(
            "delay", data=holdout.assign(delayed=[0, 1, 0, 7] * 150), label="delayed"
        )
    with pytest.raises(DataValidationError, match="has 1 missing values"):
        ws.models.evaluate(
            "delay",
            data=holdout.assign(delayed=pd.Series([None] + [1.0] * 599, dtype="float64")),
            label="delayed",
        )
    with pytest.raises(NotFoundError, match="baseline 'delay@champion' not found"):
        ws.models.evaluate("delay", baseline="champion", data=holdout, label="delayed")
    with pytest.raises(InvalidValueError, match="slice column 'dest' is not in the evaluation"):
        ws.models.evaluate("delay", data=holdout, label="delayed", slices=["dest"])
    with pytest.raises(InvalidValueError, match="has 600 distinct values; at most 200"):
        ws.models.evaluate("delay", data=holdout, label="delayed", slices=["distance"])
    with pytest.raises(GateSyntaxError, match="unknown metric 'acc'"):
        ws.models.evaluate("delay", data=holdout, label="delayed", gates=["acc > 0.5"])
    no_gates = ws.models.evaluate("delay", data=holdout, label="delayed")
    assert not no_gates.blessed
    assert "never blessed" in no_gates.notes[0]


# -- promotion and rollback -----------------------------------------------------------------------


def _versions(ws: Workspace, train: pd.DataFrame, count: int) -> None:
    for i in range(count):
        ws.models.register(classifier(train, c=1.0 + i), "delay", input_example=features(train))


def test_promote_needs_a_blessed_evaluation(
    ws: Workspace, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    _versions(ws, train, 2)
    with pytest.raises(ConflictError, match="delay/1 has no evaluation"):
        ws.models.promote("delay", 1)
    failed = ws.models.evaluate("delay/1", data=holdout, label="delayed", gates=["auc >= 0.99"])
    with pytest.raises(ConflictError, match=r"is not blessed \(failed gates: auc >= 0.99"):
        ws.models.promote("delay", 1)
    blessed = ws.models.evaluate("delay/1", data=holdout, label="delayed", gates=["auc >= 0.5"])
    event = ws.models.promote("delay", 1, reason="first champion", actor="ci")
    assert event is not None
    assert (event.action, event.to_version, event.forced, event.actor) == (
        "promote",
        1,
        False,
        "ci",
    )
    assert event.evidence["evaluation_id"] == blessed.id
    assert ws.models.aliases("delay") == {"champion": 1}
    with pytest.raises(ConflictError, match="not blessed"):
        ws.models.promote("delay", 1, "challenger", evaluation=failed)
    with pytest.raises(InvalidValueError, match="is of delay/1, not of delay/2"):
        ws.models.promote("delay", 2, evaluation=blessed.id)
    with pytest.raises(NotFoundError, match="evaluation 'nope' does not exist"):
        ws.models.promote("delay", 2, evaluation="nope")
    assert ws.models.promote("delay", 1) is None  # already the champion


def test_forced_promotion_is_recorded_with_its_reason(
    ws: Workspace, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    _versions(ws, train, 1)
    with pytest.raises(InvalidValueError, match="force=True needs a reason"):
        ws.models.promote("delay", 1, force=True)
    event = ws.models.promote("delay", 1, force=True, reason="hotfix, evaluated by hand")
    assert event is not None
    assert event.forced
    assert event.evidence["overridden"] == ["delay/1 has no evaluation"]
    [logged] = ws.models.alias_history("delay", "champion")
    assert logged.forced
    assert logged.reason == "hotfix, evaluated by hand"


def test_promotion_refuses_a_stale_comparison(
    ws: Workspace, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    _versions(ws, train, 3)
    ws.models.set_alias("delay", 1, "champion")
    ws.models.evaluate(
        "delay/3", baseline="champion", data=holdout, label="delayed", gates=["auc >= 0.5"]
    )
    ws.models.set_alias("delay", 2, "champion")
    with pytest.raises(ConflictError, match="compared against 'champion' at version 1, but"):
        ws.models.promote("delay", 3)
    ws.models.evaluate(
        "delay/3", baseline="champion", data=holdout, label="delayed", gates=["auc >= 0.5"]
    )
    assert ws.models.promote("delay", 3) is not None


def test_rollback_walks_back_through_the_audit_log(ws: Workspace, train: pd.DataFrame) -> None:
    _versions(ws, train, 3)
    with pytest.raises(ConflictError, match="no earlier version to roll back to \\(it was never"):
        ws.models.rollback("delay")
    for version in (1, 2, 3):
        ws.models.promote("delay", version, force=True, reason=f"step {version}")
    back = ws.models.rollback("delay", reason="v3 misbehaves")
    assert (back.from_version, back.to_version, back.action) == (3, 2, "rollback")
    assert back.evidence == {"undoes_seq": 3}
    assert ws.models.rollback("delay").to_version == 1
    with pytest.raises(ConflictError, match="no earlier version to roll back to"):
        ws.models.rollback("delay")
    assert ws.models.aliases("delay") == {"champion": 1}
    ws.models.set_alias("delay", 3, "champion")
    ws.models.delete_alias("delay", "champion")
    assert ws.models.rollback("delay").to_version == 3  # undoes the deletion
    actions = [e.action for e in ws.models.alias_history("delay")]
    assert actions == ["promote"] * 3 + ["rollback", "rollback", "set", "delete", "rollback"]
