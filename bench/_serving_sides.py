"""The servers of ``bench/serving.py``: how each side is prepared and started.

Each side is a :class:`Side`: a name, the path its predictions are POSTed to, whether it takes
MLflow's ``dataframe_split`` body, and a function that returns the :class:`_http_load.Server`
to start (on a free port). Peers run from their own venvs (``_peer.ensure_venv``): MLflow
saves the pickled W3 model as an MLflow model (its pyfunc returning ``predict_proba``) with a
signature from the reference batch, BentoML gets a generated service file that unpickles it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _http_load as load
import _peer

BENCH = Path(__file__).resolve().parent
BATCH_WAIT_MS = 0.5
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_MLFLOW_SAVE = r"""
import pickle, sys, warnings
import pandas as pd
import mlflow.sklearn
from mlflow.models import infer_signature
warnings.simplefilter("ignore")
model = pickle.load(open(sys.argv[1], "rb"))
example = pd.read_parquet(sys.argv[2]).drop(columns=["label"]).head(200)
signature = infer_signature(example, model.predict_proba(example))
trusted = ["functools.partial", "sklearn.utils.validation.check_array",
           "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
mlflow.sklearn.save_model(model, sys.argv[3], signature=signature,
                          pyfunc_predict_fn="predict_proba", skops_trusted_types=trusted)
print("@@bench-result {}")
"""

_BENTO_SERVICE = r"""
import pickle
from typing import Any

import bentoml
import pandas as pd

MODEL = {model!r}


@bentoml.service(workers=1, traffic={{"timeout": 60}})
class W3:
    def __init__(self) -> None:
        with open(MODEL, "rb") as f:
            self.model = pickle.load(f)

    @bentoml.api
    def predict(self, columns: list[str], data: list[list[Any]]) -> dict[str, Any]:
        frame = pd.DataFrame(data, columns=columns)
        proba = self.model.predict_proba(frame)
        labels = self.model.classes_[proba.argmax(axis=1)]
        return {{"predictions": labels.tolist(), "probabilities": proba.tolist()}}
"""


Maker = Callable[[int, bytes], load.Server]


@dataclass(frozen=True)
class Side:
    name: str
    path: str
    mlflow_body: bool
    make: Callable[[int, bytes], load.Server]


def _python() -> str:
    return sys.executable


def _mlflow(paths: dict[str, Path], data: Path, logs: Path) -> Maker:
    """The mlflow side's server factory (its venv and files made on first use)."""

    def mlflow(port: int, probe: bytes) -> load.Server:
        venv = _peer.ensure_venv(
            "mlflow-serving", ["mlflow==3.17.2", "scikit-learn==1.9.1"], check_import="mlflow"
        )
        target = data / "mlflow-model"
        if not (target / "MLmodel").exists():
            script = data / "mlflow_save.py"
            script.write_text(_MLFLOW_SAVE)
            tmp = data / "mlflow-model.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            args = [str(paths["model"]), str(paths["reference"]), str(tmp)]
            _peer.run_worker(venv, script, args)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        cmd = [str(venv.python), "-m", "mlflow", "models", "serve", "-m", str(target)]
        cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
        env = {**ONE_THREAD, "PATH": f"{venv.bin}:{os.environ.get('PATH', '')}"}
        return load.Server("mlflow", cmd, port, "/invocations", probe, env, logs)

    return mlflow


def _bentoml(paths: dict[str, Path], data: Path, logs: Path) -> Maker:
    """The bentoml side's server factory (its venv and files made on first use)."""

    def bentoml(port: int, probe: bytes) -> load.Server:
        venv = _peer.ensure_venv(
            "bentoml",
            ["bentoml==1.4.40", "scikit-learn==1.9.1", "pandas"],
            check_import="bentoml",
        )
        folder = data / "bentoml"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "service.py").write_text(_BENTO_SERVICE.format(model=str(paths["model"])))
        cmd = [str(venv.python), "-m", "bentoml", "serve", "service:W3"]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        env = {
            **ONE_THREAD,
            "PATH": f"{venv.bin}:{os.environ.get('PATH', '')}",
            "BENTOML_HOME": str(data / "bentoml-home"),
            "BENTOML_DO_NOT_TRACK": "True",
        }
        server = load.Server("bentoml", cmd, port, "/predict", probe, env, logs)
        server.cwd = folder
        return server

    return bentoml


def sides(paths: dict[str, Path], data: Path, logs: Path) -> dict[str, Side]:
    """Every side, ready to start (peers' venvs and files are made on first use)."""
    project = str(paths["project"])

    def floor(port: int, probe: bytes) -> load.Server:
        cmd = [_python(), str(BENCH / "_serving_apps.py"), "floor", "--port", str(port)]
        return load.Server("floor", cmd, port, "/predict", probe, ONE_THREAD, logs)

    def weekend(batch_wait_ms: float | None) -> Callable[[int, bytes], load.Server]:
        def make(port: int, probe: bytes) -> load.Server:
            exe = str(Path(sys.executable).with_name("weekend"))
            cmd = [exe, "serve", "w3@champion", "--port", str(port), "--project", project]
            cmd += ["--no-log", "--reload-seconds", "0"]
            name = "weekend"
            if batch_wait_ms is not None:
                cmd += ["--batch-wait-ms", str(batch_wait_ms)]
                name = "weekend-batched"
            return load.Server(name, cmd, port, "/v1/models/w3/predict", probe, ONE_THREAD, logs)

        return make

    def edge(port: int, probe: bytes) -> load.Server:
        cmd = [_python(), str(BENCH / "_serving_apps.py"), "compiled", "--port", str(port)]
        cmd += ["--project", project, "--ref", "w3@champion"]
        return load.Server("edge-compiled", cmd, port, "/predict", probe, ONE_THREAD, logs)

    return {
        "floor": Side("floor", "/predict", False, floor),
        "weekend": Side("weekend", "/v1/models/w3/predict", False, weekend(None)),
        "weekend-batched": Side(
            "weekend-batched", "/v1/models/w3/predict", False, weekend(BATCH_WAIT_MS)
        ),
        "edge-compiled": Side("edge-compiled", "/predict", False, edge),
        "mlflow": Side("mlflow", "/invocations", True, _mlflow(paths, data, logs)),
        "bentoml": Side("bentoml", "/predict", False, _bentoml(paths, data, logs)),
    }


def measure(side: Side, bodies: dict[str, list[bytes]], seconds: float) -> dict[str, Any]:
    """One repetition of the three figures against a freshly started server."""
    import _stats

    one, batch = (
        bodies["mlflow-1" if side.mlflow_body else "1"],
        bodies["mlflow-1000" if side.mlflow_body else "1000"],
    )
    port = load.free_port()
    with side.make(port, one[0]) as _server:
        load.sample(port, side.path, one, seconds=min(2.0, seconds / 4))  # warm up
        latencies, errors_1 = load.sample(port, side.path, one, seconds=seconds)
        wrk, under_load, errors_s = load.wrk_with_sampler(
            port, side.path, one, connections=16, seconds=seconds * 1.5
        )
        big = load.run_wrk(port, side.path, batch, connections=2, seconds=seconds, threads=2)
    return {
        "one_p50_ms": _stats.median(latencies) * 1000,
        "one_p99_ms": _stats.percentile(latencies, 99) * 1000,
        "one_rps": len(latencies) / sum(latencies) if latencies else 0.0,
        "c16_rps": wrk.rps + (len(under_load) / (seconds * 1.5 * 0.8) if under_load else 0.0),
        "c16_wrk_p50_ms": wrk.p50_ms,
        "c16_wrk_p99_ms": wrk.p99_ms,
        "c16_measured_p50_ms": _stats.median(under_load) * 1000,
        "c16_measured_p99_ms": _stats.percentile(under_load, 99) * 1000,
        "batch_rows_per_s": big.rps * 1000,
        "errors": errors_1 + errors_s + wrk.errors + big.errors,
    }


__all__ = ["Side", "measure", "sides"]
