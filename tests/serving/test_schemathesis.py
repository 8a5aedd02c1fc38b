"""schemathesis against the service's own /openapi.json: whatever it sends, valid or not,
the service never answers 5xx (a quick, bounded run: a few examples per operation)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from _served import open_ws, register_driver_model, register_flights

from weekend.serving import create_app

with warnings.catch_warnings():  # schemathesis imports modules that warn on import
    warnings.simplefilter("ignore")
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

EXAMPLES = 25
"""Examples per operation: a quick, bounded run for CI."""


def test_no_input_makes_the_service_answer_5xx(project: Path) -> None:
    ws = open_ws(project)
    register_flights(ws)
    register_driver_model(ws)  # rows may carry entity keys: lookups are fuzzed too
    models = ["flight-delay@champion", "flight-minutes@prod", "driver-risk@champion"]
    app = create_app(ws, models=models, canary=["flight-delay@challenger=50%"], reload_seconds=None)
    checked = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an Err fails the test

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                case.call_and_validate(checks=[not_a_server_error])

            call()
            checked.append(operation.label)
    ws.close()
    assert "POST /v1/models/driver-risk/predict" in checked
    assert "POST /v1/models/flight-delay@challenger/predict" in checked
    assert len(checked) >= 8
