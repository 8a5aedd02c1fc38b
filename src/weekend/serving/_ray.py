"""The same app on Ray Serve: ``weekend serve ... --on ray --replicas N``.

Each replica builds the app from the :class:`~weekend.serving._serve.ServeConfig` (the
builder runs on the replica, so no workspace, model or connection is ever pickled), and Ray
Serve's HTTP proxy routes requests to the replicas. Everything a replica holds is a cache of
the catalog, the artifact store and the online store, so replicas may come and go.

Ray connects to the cluster named by ``RAY_ADDRESS`` if set, else starts one on this
machine. Ray is an optional dependency: ``pip install 'weekend[ray]'``.
"""

from __future__ import annotations

import os
from typing import Any

from weekend.core.errors import ConfigurationError, InvalidValueError
from weekend.serving._serve import ServeConfig, build_app, preflight

APP_NAME = "weekend"


def _serve_module() -> Any:
    try:
        import ray
        from ray import serve
    except ImportError as exc:
        raise ConfigurationError(
            f"--on ray needs Ray Serve ({exc}); install it with pip install 'weekend[ray]'"
        ) from exc
    return ray, serve


def deployment(config: ServeConfig, *, replicas: int = 1, num_cpus: float = 0.5) -> Any:
    """The bound Ray Serve application of ``config`` with ``replicas`` replicas."""
    if type(replicas) is not int or replicas < 1:
        raise InvalidValueError(f"--replicas must be at least 1, got {replicas!r}")
    _, serve = _serve_module()

    def build() -> Any:
        return build_app(config)

    class WeekendService:
        """One replica of the prediction service (its routes are the app's)."""

    ingress = serve.ingress(build)(WeekendService)
    bound = serve.deployment(
        ingress,
        name="weekend",
        num_replicas=replicas,
        ray_actor_options={"num_cpus": num_cpus},
    )
    return bound.bind()


def start(config: ServeConfig, *, host: str, port: int, replicas: int, blocking: bool) -> Any:
    """Start Ray (or connect to ``RAY_ADDRESS``), then serve ``config`` on ``host:port``."""
    ray, serve = _serve_module()
    preflight(config, host)
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    serve.start(http_options={"host": host, "port": port})
    app = deployment(config, replicas=replicas)
    return serve.run(app, name=APP_NAME, route_prefix="/", blocking=blocking)


def run_on_ray(config: ServeConfig, *, host: str, port: int, replicas: int) -> None:
    """Serve until interrupted, then shut Ray Serve down."""
    _, serve = _serve_module()
    try:
        start(config, host=host, port=port, replicas=replicas, blocking=True)
    finally:
        serve.shutdown()


__all__ = ["APP_NAME", "deployment", "run_on_ray", "start"]
