"""The servers of the serving benchmark that are not ``weekend serve`` or a peer's own CLI.

Run as a script in the project's venv, one server per process (uvicorn with uvloop and
httptools, one worker, loopback only)::

    python bench/_serving_apps.py floor --port 8100
    python bench/_serving_apps.py compiled --project DIR --ref w3@champion --port 8101 [--batch]

- ``floor``: the HTTP floor, Starlette + uvicorn + orjson: parse the JSON body, answer a
  fixed JSON object. Nothing a model server does can cost less.
- ``compiled``: weekend's HTTP edge (``create_app``: request ids, timing, body limit, error
  table, work pool) with one bench route: columnar JSON (``{"columns": [...], "data":
  [[...]]}``) to the version's compiled model (``loaded.compiled()``), without the
  prediction service's signature checks, feature lookups or log. It isolates the compiled
  model and micro-batching: ``--batch`` sends every request through a
  ``weekend.serving._batching.MicroBatcher``; without it each request calls the model
  alone. Small bodies run on the event loop (as the edge does for local work), large ones
  in the work pool.

The peers' server files (BentoML's service, MLflow's model) are written by
``bench/serving.py`` in their own venvs.
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson


def floor_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    answer = orjson.dumps({"predictions": [0], "probabilities": [[0.5, 0.5]]})

    async def predict(request: Request) -> Response:
        orjson.loads(await request.body())
        return Response(answer, media_type="application/json")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])


def _columns(raw: bytes) -> dict[str, list[Any]]:
    body = orjson.loads(raw)
    names, data = body["columns"], body["data"]
    return {name: [row[i] for row in data] for i, name in enumerate(names)}


def compiled_app(project: str, ref: str, batch: bool, max_wait_ms: float) -> Any:
    import numpy as np
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    import weekend as wk
    from weekend.serving import create_app
    from weekend.serving._batching import MicroBatcher, column_batch

    ws = wk.open(project)
    loaded = ws.models.load(ref)
    compiled = loaded.compiled()
    model: Any = compiled if compiled is not None else loaded
    classes = None if loaded.classes_ is None else loaded.classes_.tolist()
    inline_rows = 16

    def outputs(columns: dict[str, Any]) -> tuple[Any, Any]:
        if compiled is not None:
            return compiled.outputs(columns)
        return loaded.outputs(loaded.validate(columns))

    def answer(prediction: Any, proba: Any) -> bytes:
        body: dict[str, Any] = {"predictions": prediction.tolist(), "classes": classes}
        if proba is not None:
            body["probabilities"] = proba.tolist()
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)

    def alone(raw: bytes) -> bytes:
        return answer(*outputs({k: np.asarray(v) for k, v in _columns(raw).items()}))

    batcher: MicroBatcher[Any, Any] | None = None

    async def predict(request: Request) -> Response:
        raw = await request.body()
        edge = request.app.state.edge
        if batcher is not None:
            prediction, proba = await batcher(_columns(raw))
            return Response(answer(prediction, proba), media_type="application/json")
        if len(raw) <= edge.inline_bytes * inline_rows:
            return Response(alone(raw), media_type="application/json")
        return Response(await edge.pool.run(alone, raw), media_type="application/json")

    app = create_app(ws, routes=[Route("/predict", predict, methods=["POST"])])
    if batch:
        batcher = MicroBatcher(column_batch(outputs), max_wait_ms=max_wait_ms)
    app.state.model = model
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["floor", "compiled"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--project")
    parser.add_argument("--ref")
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--max-wait-ms", type=float, default=0.5)
    args = parser.parse_args()
    import uvicorn

    if args.kind == "floor":
        app = floor_app()
    else:
        app = compiled_app(args.project, args.ref, args.batch, args.max_wait_ms)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
