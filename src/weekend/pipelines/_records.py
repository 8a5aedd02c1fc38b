"""The records a pipeline run leaves: :class:`PipelineRun` and its :class:`StepRun` s."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("pending", "running", "succeeded", "failed", "skipped")


@dataclass(frozen=True)
class StepRun:
    """One step of one run: status, cache hit, attempts, duration (seconds), logs, output."""

    name: str
    position: int
    status: str
    cached: bool
    attempts: int
    duration: float | None
    logs: str | None
    error: str | None
    cache_key: str | None
    key_parts: dict[str, Any] | None
    output_kind: str | None
    output_sha256: str | None
    output_size: int | None
    inputs: dict[str, dict[str, str]]
    started_at: int | None
    ended_at: int | None

    @property
    def retries(self) -> int:
        """How many attempts after the first one were made."""
        return max(self.attempts - 1, 0)


@dataclass(frozen=True)
class PipelineRun:
    """One run of a pipeline: ``status`` is ``running``, ``succeeded`` or ``failed``."""

    id: str
    pipeline: str
    params: dict[str, Any]
    executor: str
    status: str
    error: str | None
    started_at: int
    ended_at: int | None
    steps: dict[str, StepRun] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None while running)."""
        return None if self.ended_at is None else (self.ended_at - self.started_at) / 1000.0

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "params": self.params,
            "executor": self.executor,
            "status": self.status,
            "error": self.error,
            "duration": self.duration,
            "steps": {
                name: {
                    "status": s.status,
                    "cached": s.cached,
                    "attempts": s.attempts,
                    "duration": s.duration,
                    "output_kind": s.output_kind,
                    "output_sha256": s.output_sha256,
                    "inputs": s.inputs,
                    "error": s.error,
                }
                for name, s in self.steps.items()
            },
        }
