"""Running the service: ``weekend serve`` and the app each worker or replica builds.

:class:`ServeConfig` is everything a process needs to build the app on its own (the
project folder, the models, canary and shadow, options). ``weekend serve`` checks it once
(the models exist, the address is safe), then

- with one worker, builds the app and runs it in uvicorn (uvloop and httptools);
- with ``--workers N``, hands the config to uvicorn's supervisor through the environment
  (:data:`CONFIG_ENV`); each worker process builds its own app with :func:`app_from_env`,
  and a worker that dies is replaced by the supervisor;
- with ``--on ray``, runs the same app as a Ray Serve deployment (``weekend.serving._ray``).

Replicas share nothing but the catalog, the artifact store and the online store, so any
number of them run behind any load balancer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from weekend.core.errors import ConfigurationError, InvalidValueError

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from weekend.workspace import Workspace

CONFIG_ENV = "WEEKEND_SERVE_CONFIG"
"""The environment variable through which worker processes receive their config (JSON)."""
logger = logging.getLogger("weekend.serving")


@dataclass(frozen=True)
class ServeConfig:
    """What a worker needs to build the prediction service (JSON-serialisable)."""

    project: str
    models: list[str]
    canary: list[str] = field(default_factory=list)
    shadow: list[str] = field(default_factory=list)
    trusted: bool = False
    reload_seconds: float | None = 5.0
    row_key: str | None = None
    definitions: str | None = None
    """A definitions file whose on-demand views' functions the service may run."""
    threads: int = 4
    queue: int = 64
    batch_wait_ms: float | None = None
    """Micro-batching (None: off)."""
    log_predictions: bool = True
    insecure: bool = False

    def to_json(self) -> str:
        return orjson.dumps(dataclasses.asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = orjson.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, *, tokens: bool, insecure: bool) -> None:
    """Refuse a non-loopback address without a token to check, unless ``insecure``."""
    if is_loopback(host) or tokens or insecure:
        return
    raise ConfigurationError(
        f"refusing to serve on {host!r} without a token: anyone who reaches that address "
        "could use the service. Create one (weekend tokens create NAME --role predict), bind "
        "127.0.0.1 behind something that authenticates, or pass --insecure"
    )


def _log_of(ws: Workspace, config: ServeConfig) -> Any:
    """The workspace's prediction log (None when off, or when this weekend has none)."""
    if not config.log_predictions:
        return None
    predictions = getattr(ws, "predictions", None)
    if predictions is None:
        return None
    opener = getattr(predictions, "open_log", None)
    return opener() if callable(opener) else None


def _auth_of(ws: Workspace) -> tuple[Any, bool]:
    """(the token check of the routes, whether a token is active): tokens are required as
    soon as one is active (``weekend tokens create``)."""
    from weekend.serving._auth import require_role, tokens_configured

    active = tokens_configured(ws)
    return (require_role if active else None), active


def build_app(config: ServeConfig) -> Starlette:
    """The app of ``config``, owning its workspace and log (closed when the app stops)."""
    from weekend.serving._app import create_app
    from weekend.workspace import open_workspace

    ws = open_workspace(config.project)
    closers: list[Callable[[], None]] = []
    try:
        if config.definitions:
            ws.features.load(config.definitions)
        log = _log_of(ws, config)
        if log is not None:
            closers.append(log.close)
        auth, _ = _auth_of(ws)
        app = create_app(
            ws,
            models=config.models,
            canary=config.canary,
            shadow=config.shadow,
            trusted=config.trusted,
            reload_seconds=config.reload_seconds,
            row_key=config.row_key,
            batch_wait_ms=config.batch_wait_ms,
            prediction_log=log,
            auth=auth,
            threads=config.threads,
            queue=config.queue,
        )
    except BaseException:
        for close in closers:
            close()
        ws.close()
        raise
    closers.append(ws.close)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with inner(app):
                yield
        finally:
            for close in closers:
                close()

    app.router.lifespan_context = lifespan
    return app


def app_from_env() -> Starlette:
    """The app of the config in :data:`CONFIG_ENV` (uvicorn's factory in each worker)."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise ConfigurationError(f"{CONFIG_ENV} is not set: start workers with weekend serve")
    return build_app(ServeConfig.from_json(text))


def preflight(config: ServeConfig, host: str) -> None:
    """Fail before any worker starts: unknown models, an unsafe address, bad options."""
    from weekend.serving._models import parse_canary
    from weekend.workspace import open_workspace

    with open_workspace(config.project) as ws:
        for ref in [*config.models]:
            ws.models.get(ref)
        for text in config.canary:
            parse_canary(text)
        _, tokens = _auth_of(ws)
    check_binding(host, tokens=tokens, insecure=config.insecure)


def run(config: ServeConfig, *, host: str, port: int, workers: int) -> None:
    """Serve with uvicorn (uvloop, httptools) until interrupted."""
    import uvicorn

    if type(workers) is not int or workers < 1:
        raise InvalidValueError(f"--workers must be at least 1, got {workers!r}")
    preflight(config, host)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if workers == 1:
        uvicorn.run(build_app(config), **options)
        return
    os.environ[CONFIG_ENV] = config.to_json()
    uvicorn.run("weekend.serving._serve:app_from_env", factory=True, workers=workers, **options)


__all__ = [
    "CONFIG_ENV",
    "ServeConfig",
    "app_from_env",
    "build_app",
    "check_binding",
    "is_loopback",
    "preflight",
    "run",
]
