"""The weekend main job: the 2013 New York City flights, end to end.

Question: will a flight arrive more than 15 minutes late? The story, step by step:

1. data: the flights are registered month by month as dataset versions, each new month
   validated against January-March;
2. features: hourly weather at the origin, aircraft attributes and 7-day delay rates of the
   carrier and the airport come from the feature store, joined point-in-time to each
   scheduled departure;
3. training: a baseline and a gradient-boosting model are tracked as runs and logged to
   the registry with their signature and lineage;
4. promotion: the candidate is evaluated against the champion on April, overall and per
   carrier, with gates, and promoted only when blessed;
5. serving: features are materialized to the online store, one flight is scored from
   online features, and May is scored in batch.

    make demo                       # or: python examples/flights_demo.py --project demo-output
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flights_data as fd
import flights_features as ff

import weekend as wk

SCHEDULE_CAT = ["carrier", "origin", "dest"]
SCHEDULE_NUM = ["sched_dep_hour", "day_of_week", "distance"]
STORE_NUM = [
    "temp", "humid", "wind_speed", "precip", "visib", "plane_year", "seats", "engines",
    "carrier_delay_rate_7d", "carrier_flights_7d", "origin_delay_rate_7d", "origin_flights_7d",
]  # fmt: skip
MODEL = "flight-delay"
STARTED = time.perf_counter()


def say(text: str = "") -> None:
    print(text, flush=True)


def step(title: str) -> None:
    say(f"\n[{time.perf_counter() - STARTED:5.1f}s] {title}")


def baseline_model() -> Pipeline:
    """Logistic regression on the schedule alone: the incumbent to beat."""
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=50), SCHEDULE_CAT),
            ("num", StandardScaler(), SCHEDULE_NUM),
        ]
    )
    return Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=300))])


def boosted_model(learning_rate: float) -> Pipeline:
    """Gradient boosting on the schedule and the feature store's features."""
    pre = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                SCHEDULE_CAT,
            ),
            ("num", make_pipeline(SimpleImputer(strategy="median")), SCHEDULE_NUM + STORE_NUM),
        ],
        verbose_feature_names_out=False,
    )
    model = HistGradientBoostingClassifier(
        learning_rate=learning_rate,
        max_iter=250,
        max_leaf_nodes=31,
        categorical_features=[0, 1, 2],
        random_state=0,
    )
    return Pipeline([("pre", pre), ("model", model)])


def main() -> None:
    parser = argparse.ArgumentParser(description="the weekend flights demo")
    parser.add_argument("--project", default="demo-output", help="project folder to (re)create")
    args = parser.parse_args()
    project = Path(args.project)
    if project.exists():
        shutil.rmtree(project)
    ws = wk.init(project)
    say(f"weekend demo: the 2013 New York City flights, project in {ws.root}")

    # 1. Data -----------------------------------------------------------------------------
    step("1. Data: register the flights month by month, validate each month")
    flights = fd.load_flights()
    fd.write_sources(ws.root, flights)
    checks = [
        wk.Expectation.not_null("carrier"),
        wk.Expectation.not_null("origin"),
        wk.Expectation.allowed_values("origin", ["EWR", "JFK", "LGA"]),
        wk.Expectation.in_range("distance", 0, 5000),
        wk.Expectation.row_count(min=10_000),
    ]
    columns = [c for c in flights.columns if c not in ("known_at", "arr_delay", fd.LABEL)]
    reference = ws.datasets.register(
        "flights", flights[flights["month"] <= 3][columns], keys=["flight_id"]
    )
    say(f"   {reference.ref}: January-March, {reference.num_rows:,} flights (the reference)")
    moving = ("flight_id", "month", "sched_dep")  # ids and dates move on, as expected
    for month in range(4, 13):
        batch = flights[flights["month"] == month][columns]
        report = ws.datasets.validate(reference.ref, batch, checks)
        news = [v for v in report.violations if v.column not in moving]
        notes = "; ".join(f"{v.severity} {v.rule} {v.column}: {v.count:,} rows" for v in news[:2])
        notes = notes or "nothing new beyond later dates and ids"
        if not report.ok:
            say(f"   month {month:2d} refused: {notes}")
            continue
        version = ws.datasets.register("flights", batch, keys=["flight_id"])
        say(f"   {version.ref}: month {month:2d}, {version.num_rows:,} flights, valid. {notes}")

    # 2. Features -------------------------------------------------------------------------
    step("2. Features: apply definitions, build point-in-time training and test sets")
    plan = ws.features.apply(ff.ALL)
    say("   " + "\n   ".join(plan.lines()))
    entities = fd.entity_frame(flights)
    train_entities = entities[entities["month"] <= 3]
    test_entities = entities[entities["month"] == 4]
    train = ws.features.training_set(
        train_entities, "flight-delay-features", register_as="flight-delay-train"
    )
    test = ws.features.training_set(
        test_entities, "flight-delay-features", register_as="flight-delay-april"
    )
    feature_versions = train.attrs["weekend_feature_views"]
    say(
        f"   training set {train.attrs['weekend_dataset']}: {len(train):,} rows x "
        f"{train.shape[1]} columns; April test set {test.attrs['weekend_dataset']}"
    )
    covered = train[["temp", "plane_year", "carrier_delay_rate_7d"]].notna().mean()
    say(
        f"   coverage: weather {covered['temp']:.0%}, planes {covered['plane_year']:.0%}, "
        f"carrier delay rate {covered['carrier_delay_rate_7d']:.0%}"
    )

    # 3. Training -------------------------------------------------------------------------
    step("3. Training: tracked runs, models logged with signature and lineage")
    inputs = SCHEDULE_CAT + SCHEDULE_NUM + STORE_NUM
    versions = {}
    with ws.runs.start(
        experiment="flight-delay",
        name="weekend-demo",
        params={"train": "2013-01..03", "test": "2013-04", "label": "arr_delay > 15"},
    ) as parent:
        candidates = [
            ("baseline", baseline_model(), SCHEDULE_CAT + SCHEDULE_NUM, {"model": "logistic"}),
            ("gbm", boosted_model(0.1), inputs, {"model": "gbm", "learning_rate": 0.1}),
        ]
        for name, model, cols, params in candidates:
            with parent.start_child(name, params=params) as run:
                started = time.perf_counter()
                model.fit(train[cols], train[fd.LABEL])
                run.log_metric("fit_seconds", time.perf_counter() - started)
                auc = roc_auc_score(test[fd.LABEL], model.predict_proba(test[cols])[:, 1])
                run.log_metric("test_auc", auc)
                version = run.log_model(
                    model,
                    MODEL,
                    input_example=train[cols],
                    datasets={
                        "training": train.attrs["weekend_dataset"],
                        "evaluation": test.attrs["weekend_dataset"],
                    },
                    features=feature_versions if cols is inputs else None,
                    description=f"{name} on {len(cols)} inputs",
                )
                versions[name] = version
                say(f"   {name:8s} run {run.id[:12]}  April AUC {auc:.3f}  -> {version.ref}")
    ws.models.set_alias(MODEL, versions["baseline"].version, "champion", reason="first model")
    say(f"   {versions['baseline'].ref} is the first champion")

    # 4. Promotion ------------------------------------------------------------------------
    step("4. Promotion: evaluate the candidate against the champion, with gates")
    evaluation = ws.models.evaluate(
        versions["gbm"].ref,
        baseline="champion",
        data=test,
        label=fd.LABEL,
        slices=["carrier"],
        gates=["auc >= 0.65", "auc >= baseline.auc - 0.005", "slice:auc >= baseline.auc - 0.05"],
        min_slice_rows=1000,  # smaller carriers are reported, not gated
    )
    base, cand = evaluation.baseline_metrics or {}, evaluation.metrics
    for metric in ("auc", "accuracy", "log_loss"):
        champion_value = base.get(metric, float("nan"))
        say(f"   {metric:9s} candidate {cand[metric]:.4f}  champion {champion_value:.4f}")
    passed = sum(g.passed for g in evaluation.gates)
    say(f"   gates: {passed} of {len(evaluation.gates)} checks passed (overall and per carrier)")
    for gate in evaluation.failed_gates[:5]:
        say(f"     FAILED {gate.gate} on {gate.scope}: {gate.detail}")
    if evaluation.blessed:
        ws.models.promote(MODEL, versions["gbm"].version, reason="beats the baseline on April")
        say(f"   promoted {versions['gbm'].ref} to champion")
    else:
        say("   not blessed: the champion stays")
    champion = ws.models.load(f"{MODEL}@champion")
    say(f"   champion is now {champion.version.ref}")

    # 5. Serving --------------------------------------------------------------------------
    step("5. Serving: online features for one flight, batch predictions for May")
    # Replaying 2013: serve the last April evening flight as if it were departing now.
    april = test_entities[test_entities["event_timestamp"] < pd.Timestamp("2013-04-30 23:00Z")]
    flight = april.iloc[[-1]]
    departure = flight["event_timestamp"].iloc[0].to_pydatetime()
    for result in ws.features.materialize(None, end=departure):
        say(f"   materialized {result.view} v{result.version}: {result.written:,} entities")
    online = ws.features.online(
        flight[["origin", "carrier", "tailnum"]].to_dict("records"),
        "flight-delay-features",
        now=departure,
    )
    request = pd.concat([flight.reset_index(drop=True), online.to_pandas()], axis=1)
    proba = champion.predict_proba(request)[0, 1]
    say(
        f"   flight {int(flight['flight_id'].iloc[0])} {flight['carrier'].iloc[0]} from "
        f"{flight['origin'].iloc[0]}: P(late) = {proba:.2f} from online features"
    )
    may = ws.features.training_set(entities[entities["month"] == 5], "flight-delay-features")
    may_path = ws.root / "data" / "may.parquet"
    may.to_parquet(may_path)
    scored = ws.models.predict_batch(
        f"{MODEL}@champion", may_path, ws.root / "data" / "may_predictions.parquet"
    )
    predictions = pd.read_parquet(ws.root / "data" / "may_predictions.parquet")
    may_auc = roc_auc_score(predictions[fd.LABEL], predictions["proba_1"])
    say(f"   scored {scored.rows:,} May flights with {champion.version.ref}: AUC {may_auc:.3f}")

    ws.close()
    step("Done. Where to look next:")
    for command in next_steps(project):
        say(f"   {command}")
    cli = weekend_command()
    if cli != "weekend":  # the command is not on PATH: say how to put it there
        activate = shlex.quote(str(Path(cli).parent / "activate"))
        say(f"   (or run `source {activate}` once, then type `weekend ...`)")


def weekend_command() -> str:
    """The ``weekend`` command as this shell can run it: ``weekend`` when it is on PATH (an
    activated virtual environment), else the script installed beside this Python (what
    ``make demo`` uses: ``.venv/bin/weekend``), relative to the current folder if inside it."""
    script = Path(sys.executable).parent / "weekend"
    found = shutil.which("weekend")
    if not script.is_file() or (found is not None and Path(found).samefile(script)):
        return "weekend"
    try:
        return shlex.quote(str(script.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(script))


def next_steps(project: Path) -> list[str]:
    """Commands that show what the demo left in ``project``, runnable as printed."""
    cli, where = weekend_command(), shlex.quote(str(project))
    return [
        f"{cli} runs list -p {where}",
        f"{cli} data list -p {where}",
        f"{cli} data diff flights/1 flights/7 -p {where}",
        f"{cli} features list -p {where}",
        f"{cli} models lineage {MODEL}@champion -p {where}",
    ]


if __name__ == "__main__":
    main()
