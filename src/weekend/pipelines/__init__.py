"""Pipelines: content-addressed steps, DAGs from data passing, executors (docs/pipelines.md).

import weekend as wk

@wk.step(cache=True)
def monthly(month: int) -> pd.DataFrame: ...

@wk.step(cache=True, retries=1)
def train(df: pd.DataFrame, lr: float) -> wk.ModelVersion: ...

@wk.pipeline
def training(month: int, lr: float = 0.1):
    return train(monthly(month), lr)

run = ws.pipelines.run(training, month=4, executor="process")
run.status, run.steps["train"].cached, run.steps["train"].duration
"""

from __future__ import annotations

from weekend.pipelines._executors import (
    Executor,
    LocalExecutor,
    Outcome,
    ProcessExecutor,
    RayExecutor,
    Task,
    make_executor,
)
from weekend.pipelines._load import load_pipeline
from weekend.pipelines._materialize import KINDS as OUTPUT_KINDS
from weekend.pipelines._records import PipelineRun, StepRun
from weekend.pipelines._service import Explanation, Pipelines
from weekend.pipelines._steps import Handle, Pipeline, Step, StepOptions, pipeline, step

__all__ = [
    "OUTPUT_KINDS",
    "Executor",
    "Explanation",
    "Handle",
    "LocalExecutor",
    "Outcome",
    "Pipeline",
    "PipelineRun",
    "Pipelines",
    "ProcessExecutor",
    "RayExecutor",
    "Step",
    "StepOptions",
    "StepRun",
    "Task",
    "load_pipeline",
    "make_executor",
    "pipeline",
    "step",
]
