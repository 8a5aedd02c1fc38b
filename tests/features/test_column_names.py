"""Any column name Arrow allows is a feature name: spaces, quotes, colons, other scripts.

Real CSV headers (scikit-learn's ``mean radius``) must reach training sets, materialization
and online reads unchanged, quoted wherever they meet SQL, so that a model trained on them
still matches the raw data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import weekend as wk
from feature_project import hours, open_ws
from weekend.core.errors import InvalidValueError
from weekend.workspace import Workspace

ODD = ["mean radius", 'say "hi"', "ratio a:b", "größe (cm)", "SELECT", "x-y.z"]


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    """Patients 1 and 2, each measured twice; every feature column has an awkward name."""
    frame = pd.DataFrame(
        {
            "patient id": [1, 1, 2, 2],
            "visit ts": [hours(0), hours(3), hours(1), hours(2)],
            **{name: [float(i), i + 0.5, i + 10.0, i + 20.0] for i, name in enumerate(ODD)},
        }
    )
    frame.to_csv(project / "patients.csv", index=False)
    workspace = open_ws(project)
    patient = wk.Entity("patient", join_keys=["patient id"])
    vitals = wk.FeatureView(
        "vitals",
        [patient],
        "patients.csv",
        "visit ts",
        features=ODD,  # type: ignore[arg-type]  # a list of names, typed as a mapping in src
        ttl="1d",
    )
    service = wk.FeatureService("odd", ["vitals:mean radius", "vitals:ratio a:b"])
    workspace.features.apply([patient, vitals, service])
    yield workspace
    workspace.close()


def test_training_set_keeps_the_names(ws: Workspace) -> None:
    entities = pd.DataFrame({"patient id": [2, 1], "event_timestamp": [hours(1.5), hours(4)]})
    train = ws.features.training_set(entities, [f"vitals:{name}" for name in ODD])
    assert train.columns.tolist() == ["patient id", "event_timestamp", *ODD]
    assert train["mean radius"].tolist() == [10.0, 0.5]  # patient 2 at h1, patient 1 at h3
    assert train['say "hi"'].tolist() == [11.0, 1.5]
    by_service = ws.features.training_set(entities, "odd", full_feature_names=True)
    assert by_service.columns.tolist()[2:] == ["vitals__mean radius", "vitals__ratio a:b"]
    assert by_service["vitals__ratio a:b"].tolist() == [12.0, 2.5]


def test_materialize_then_read_online(ws: Workspace) -> None:
    (result,) = ws.features.materialize(end=hours(5))
    assert (result.rows, result.written, result.note) == (2, 2, "")
    online = ws.features.online(
        [{"patient id": 1}, {"patient id": 2}, {"patient id": 3}],
        ["vitals:mean radius", "vitals:ratio a:b", "vitals:größe (cm)"],
        now=hours(6),
    )
    assert online.rows == [
        {"mean radius": 0.5, "ratio a:b": 2.5, "größe (cm)": 3.5},
        {"mean radius": 20.0, "ratio a:b": 22.0, "größe (cm)": 23.0},
        {"mean radius": None, "ratio a:b": None, "größe (cm)": None},
    ]
    report = ws.features.skew("vitals", 10, at=hours(5) - pd.Timedelta(1, "ns"))
    assert report.ok, report.to_dict()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "must be a column name \\(1 to 1024 characters, no NUL byte\\)"),
        ("a\x00b", "no NUL byte"),
        ("x" * 1025, "got 1025 characters"),
        ("__wk_event_ns", "starts with '__wk_', which weekend reserves"),
        ("*", "cannot be '\\*', which means every feature"),
        (7, "must be a column name"),
    ],
)
def test_names_that_are_not_columns_are_refused(name: object, message: str) -> None:
    entity = wk.Entity("patient", join_keys=["patient id"])
    with pytest.raises(
        InvalidValueError, match=f"feature name in features of feature view.*{message}"
    ):
        wk.FeatureView("v", [entity], "p.csv", "ts", features=[name])  # type: ignore[arg-type]


def test_a_reference_splits_at_the_first_colon() -> None:
    from weekend.features._types import split_ref

    assert split_ref("vitals:ratio a:b") == ("vitals", "ratio a:b")
    with pytest.raises(InvalidValueError, match="must be 'view:feature'"):
        split_ref("vitals")
    with pytest.raises(InvalidValueError, match="must name a view and a feature"):
        split_ref(":mean radius")
