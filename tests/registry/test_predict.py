"""Batch prediction: chunked, validated, atomic; and the loaded model's output columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _registry_data import classifier, features, flights, regressor
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.tree import DecisionTreeClassifier

from weekend.core.errors import ConflictError, DataValidationError, InvalidValueError
from weekend.workspace import Workspace


@pytest.fixture
def data(rng: np.random.Generator) -> pd.DataFrame:
    frame = flights(rng, 250)
    frame.insert(0, "flight_id", np.arange(len(frame)) + 1000)
    frame["scheduled"] = pd.date_range("2013-01-01", periods=len(frame), freq="h", tz="UTC")
    return frame


@pytest.fixture
def champion(ws: Workspace, data: pd.DataFrame) -> object:
    model = classifier(data)
    ws.models.register(model, "delay", input_example=features(data))
    ws.models.set_alias("delay", 1, "champion")
    return model


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_batch_prediction_streams_chunks_and_keeps_input_columns(
    ws: Workspace, tmp_path: Path, data: pd.DataFrame, champion: object
) -> None:
    source, target = tmp_path / "in.parquet", tmp_path / "out" / "pred.parquet"
    data.to_parquet(source)
    seen: list[tuple[int, int]] = []
    result = ws.models.predict_batch(
        "delay@champion", source, target, chunk_rows=37, progress=lambda d, t: seen.append((d, t))
    )
    assert (result.rows, result.chunks, result.model) == (250, 7, "delay/1")
    assert seen[-1] == (250, 250)
    assert len(seen) == 7
    out = pd.read_parquet(target)
    assert list(out.columns) == [*data.columns, "prediction", "proba_0", "proba_1", "model_version"]
    assert result.columns == list(out.columns)
    pd.testing.assert_frame_equal(out[list(data.columns)], data)
    x = features(data)
    np.testing.assert_array_equal(out["prediction"], champion.predict(x))  # type: ignore[attr-defined]
    np.testing.assert_allclose(
        out[["proba_0", "proba_1"]].to_numpy(),
        champion.predict_proba(x),  # type: ignore[attr-defined]
    )
    assert set(out["model_version"]) == {"delay/1"}
    assert _leftovers(target.parent) == []


def test_keep_probabilities_folders_and_datasets(
    ws: Workspace, tmp_path: Path, data: pd.DataFrame, champion: object
) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    data.iloc[:100].to_parquet(folder / "a.parquet")
    data.iloc[100:].to_parquet(folder / "b.parquet")
    target = tmp_path / "slim.parquet"
    result = ws.models.predict_batch(
        "delay", folder, target, keep=["flight_id"], probabilities=False, chunk_rows=64
    )
    out = pd.read_parquet(target)
    assert list(out.columns) == ["flight_id", "prediction", "model_version"]
    assert out["flight_id"].tolist() == data["flight_id"].tolist()
    assert result.chunks == 5  # chunks never span files: 64, 36 | 64, 64, 22
    dataset = ws.datasets.register("to-score", data)
    again = ws.models.predict_batch("delay/1", dataset, tmp_path / "ds.parquet", keep=[])
    assert again.input == "dataset to-score/1"
    assert again.rows == len(data)


def test_bad_input_leaves_no_output(
    ws: Workspace, tmp_path: Path, data: pd.DataFrame, champion: object
) -> None:
    source, target = tmp_path / "in.parquet", tmp_path / "out.parquet"
    data.drop(columns=["temp"]).to_parquet(source)
    with pytest.raises(DataValidationError, match="missing column 'temp' that model delay/1 needs"):
        ws.models.predict_batch("delay", source, target)
    broken = data.assign(carrier=data["carrier"].where(data.index != 160))  # null in chunk 4
    broken.to_parquet(source)
    with pytest.raises(
        DataValidationError,
        match=r"input rows 150 to 199 .*column 'carrier' must not be null.* at row\(s\) 10",
    ):
        ws.models.predict_batch("delay", source, target, chunk_rows=50)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_output_rules(ws: Workspace, tmp_path: Path, data: pd.DataFrame, champion: object) -> None:
    source, target = tmp_path / "in.parquet", tmp_path / "out.parquet"
    data.to_parquet(source)
    ws.models.predict_batch("delay", source, target)
    with pytest.raises(ConflictError, match="already exists; pass overwrite=True"):
        ws.models.predict_batch("delay", source, target)
    ws.models.predict_batch("delay", source, target, overwrite=True, keep=["flight_id"])
    assert pq.read_schema(target).names[0] == "flight_id"
    with pytest.raises(InvalidValueError, match=r"output .* is also the input"):
        ws.models.predict_batch("delay", source, source, overwrite=True)
    data.assign(prediction=1).to_parquet(source)
    with pytest.raises(InvalidValueError, match="'prediction' would collide with the output"):
        ws.models.predict_batch("delay", source, tmp_path / "x.parquet")
    with pytest.raises(InvalidValueError, match="keep names columns not in the input: 'nope'"):
        ws.models.predict_batch("delay", source, tmp_path / "x.parquet", keep=["nope"])
    with pytest.raises(InvalidValueError, match="chunk_rows must be an integer >= 1"):
        ws.models.predict_batch("delay", source, tmp_path / "x.parquet", chunk_rows=0)
    with pytest.raises(InvalidValueError, match="does not exist"):
        ws.models.predict_batch("delay", tmp_path / "missing.parquet", tmp_path / "x.parquet")


def test_empty_input_gives_an_empty_output_with_all_columns(
    ws: Workspace, tmp_path: Path, data: pd.DataFrame, champion: object
) -> None:
    source, target = tmp_path / "in.parquet", tmp_path / "out.parquet"
    data.head(0).to_parquet(source)
    result = ws.models.predict_batch("delay", source, target, keep=["flight_id"])
    table = pq.read_table(target)
    assert result.rows == 0
    assert table.num_rows == 0
    assert table.schema.names == ["flight_id", "prediction", "proba_0", "proba_1", "model_version"]
    assert table.schema.field("prediction").type == pa.int64()


def test_regressor_output(ws: Workspace, tmp_path: Path, data: pd.DataFrame) -> None:
    model = regressor(data)
    ws.models.register(model, "minutes", input_example=features(data))
    source, target = tmp_path / "in.parquet", tmp_path / "out.parquet"
    data.to_parquet(source)
    ws.models.predict_batch("minutes", source, target, keep=[])
    out = pd.read_parquet(target)
    assert list(out.columns) == ["prediction", "model_version"]
    np.testing.assert_allclose(out["prediction"], model.predict(features(data)))
    loaded = ws.models.load("minutes")
    with pytest.raises(InvalidValueError, match="gives no class probabilities"):
        loaded.predict_proba(features(data))


@pytest.mark.parametrize("kind", ["hgb", "tree"])
def test_labels_from_probabilities_equal_predict(
    ws: Workspace, tmp_path: Path, rng: np.random.Generator, kind: str
) -> None:
    frame = flights(rng, 600)
    x = frame[["distance", "dep_hour", "temp"]]
    y = frame["delayed"].astype(str)
    if kind == "hgb":
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    else:  # a leaf holding both classes equally: tied probabilities, predicted again
        x = pd.DataFrame({"hour": np.repeat([0.0, 1.0], 300)})
        y = pd.Series(np.r_[np.tile(["0", "1"], 150), np.repeat("1", 300)])
        model = DecisionTreeClassifier(max_depth=1, random_state=0)
    model.fit(x, y)
    ws.models.register(model, kind, input_example=x)
    loaded = ws.models.load(kind)
    columns = loaded.predict_columns(loaded.validate(x))
    np.testing.assert_array_equal(columns["prediction"], model.predict(x))
    np.testing.assert_allclose(columns["proba_1"], model.predict_proba(x)[:, 1])
    if kind == "tree":
        assert (columns["proba_1"] == 0.5).sum() == 300
    x.to_parquet(tmp_path / "in.parquet")
    ws.models.predict_batch(kind, tmp_path / "in.parquet", tmp_path / "out.parquet", keep=[])
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["prediction"].tolist() == model.predict(x).tolist()
