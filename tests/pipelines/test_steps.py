"""Steps and pipelines: typed outputs, the workspace parameter, the issue's shape, refusals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import weekend as wk
from weekend.core.errors import InvalidValueError, UnsafeModelError, UserInputError
from weekend.workspace import Workspace


@wk.step(cache=True)
def monthly(month: int) -> pd.DataFrame:
    rng = np.random.default_rng(month)
    x = rng.normal(size=200)
    return pd.DataFrame({"x": x, "y": (x > 0).astype("int64")})


@wk.step(cache=True, retries=1)
def train(df: pd.DataFrame, lr: float, ws: Workspace) -> wk.ModelVersion:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=lr).fit(df[["x"]], df["y"])
    return ws.models.register(model, "delay", input_example=df[["x"]].head(5))


@wk.step
def weights(df: pd.DataFrame) -> np.ndarray:
    return df["x"].to_numpy()[:5]


@wk.pipeline
def training(month: int, lr: float = 0.1) -> Any:
    data = monthly(month)
    return train(data, lr), weights(data)  # type: ignore[call-arg]  # ws: given by the runner


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value


@wk.step(trusted_pickle=True)
def opaque(n: int) -> Opaque:
    return Opaque(n)


@wk.pipeline
def pickled(n: int) -> Any:
    return opaque(n)


def test_the_issue_shape_with_typed_outputs(ws: Workspace) -> None:
    run = ws.pipelines.run(training, month=4)
    assert run.status == "succeeded", run.error
    assert run.duration is not None
    assert run.duration >= 0
    assert {s.name: s.output_kind for s in run.steps.values()} == {
        "monthly": "parquet",
        "train": "model",
        "weights": "npy",
    }
    version = ws.pipelines.output(run.id, "train")
    assert isinstance(version, wk.ModelVersion)
    assert (version.name, version.version) == ("delay", 1)
    frame = ws.pipelines.output(run.id, "monthly")
    pd.testing.assert_frame_equal(frame, monthly.fn(4))
    np.testing.assert_array_equal(ws.pipelines.output(run.id, "weights"), frame["x"][:5])
    again = ws.pipelines.run(training, month=4)
    assert again.steps["train"].cached
    assert len(ws.models.versions("delay")) == 1


def test_a_trusted_pickle_loads_only_when_trusted(ws: Workspace) -> None:
    run = ws.pipelines.run(pickled, n=7)
    assert run.steps["opaque"].output_kind == "pickle"
    with pytest.raises(UnsafeModelError, match="trusted=True"):
        ws.pipelines.output(run.id, "opaque")
    assert ws.pipelines.output(run.id, "opaque", trusted=True).value == 7


def test_a_step_outside_a_pipeline_is_a_plain_call() -> None:
    assert weights(pd.DataFrame({"x": [1.0, 2.0]})).tolist() == [1.0, 2.0]


def test_bad_declarations_and_calls_are_refused(ws: Workspace) -> None:
    with pytest.raises(InvalidValueError, match="timeout must be a positive duration"):
        wk.step(timeout="ten minutes")
    with pytest.raises(InvalidValueError, match="retries must be an integer from 0 to 100"):
        wk.step(retries=-1)
    with pytest.raises(InvalidValueError, match=r"resources\['cpu'\] is not a resource"):
        wk.step(resources={"cpu": 2})
    with pytest.raises(UserInputError, match="pipeline 'training' takes"):
        ws.pipelines.run(training, month=4, nope=1)
    with pytest.raises(InvalidValueError, match="decorated with @pipeline"):
        ws.pipelines.run(monthly, month=4)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="executor must be 'local', 'process' or 'ray'"):
        ws.pipelines.run(training, month=4, executor="threads")
    with pytest.raises(InvalidValueError, match="parameters must be JSON values"):
        ws.pipelines.run(pickled, n=Opaque(1))
    assert ws.pipelines.list() == []


def test_the_workspace_reaches_a_step_in_a_worker_process(ws: Workspace) -> None:
    run = ws.pipelines.run(training, month=5, executor="process")
    assert run.status == "succeeded", run.error
    assert ws.pipelines.output(run.id, "train").name == "delay"
    assert ws.models.get("delay").run_id is None
