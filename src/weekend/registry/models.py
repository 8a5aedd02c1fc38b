"""The model registry service, ``ws.models``: versions, aliases, loading, gates and promotion.

::

    version = run.log_model(pipeline, "flight-delay", input_example=train_df,
                            datasets={"training": "flights/3", "evaluation": "flights/4"})
    evaluation = ws.models.evaluate("flight-delay/4", baseline="champion", data="flights/5",
                                    label="delayed", slices=["carrier"],
                                    gates=["auc >= 0.7", "auc >= baseline.auc - 0.005"])
    ws.models.promote("flight-delay", 4, reason="weekly retrain")   # only if blessed
    model = ws.models.load("flight-delay@champion")
    model.predict(df)

References are ``"name"`` (latest version), ``"name/3"`` and ``"name@alias"``. See
``docs/registry.md`` for the whole story, including the safety rules of loading.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weekend.core.errors import ConflictError, IntegrityError, InvalidValueError, NotFoundError
from weekend.core.ids import new_id, now_ms
from weekend.core.names import validate_name
from weekend.core.refs import parse_ref, validate_alias
from weekend.registry import _store
from weekend.registry._loaded import LoadedVersion
from weekend.registry._loading import ModelLoader
from weekend.registry._records import (
    AliasEvent,
    ModelRef,
    ModelVersion,
    RegisteredModel,
    actor_name,
)
from weekend.registry._register import (
    MIN_PROFILE_ROWS,
    copied_record,
    from_example,
    package_record,
    reference_sample,
    tag_values,
    text_value,
    version_number,
)

if TYPE_CHECKING:
    import pandas as pd

    from weekend.artifacts import ArtifactStore
    from weekend.catalog import Catalog
    from weekend.core.settings import Settings
    from weekend.data.datasets import Datasets
    from weekend.registry._evaluate import Evaluation
    from weekend.registry._predict import BatchResult
    from weekend.registry._signature import Signature
    from weekend.tracking.runs import Runs

DEFAULT_ALIAS = "champion"
Decision = tuple[int | None, dict[str, Any] | None, bool]
"""What an alias move decides under the model lock: (target version, evidence, forced)."""


class PromotionRefusedError(ConflictError):
    """A promotion the evidence does not support. ``problems`` lists why; ``how`` says how to
    go on, in the caller's words (the SDK's by default; the command line passes its own)."""

    SDK_HOW = "Evaluate it with gates (ws.models.evaluate), or pass force=True with a reason"

    def __init__(self, ref: str, alias: str, problems: list[str], how: str = SDK_HOW) -> None:
        self.ref, self.alias, self.problems = ref, alias, list(problems)
        super().__init__(f"cannot promote {ref} to {alias!r}: {'; '.join(problems)}. {how}")


def _alias_move_order(version: Any, alias: Any) -> tuple[Any, Any]:
    """``(version, alias)``, accepting the earlier ``(alias, version)`` order with a warning."""
    swapped = isinstance(version, str) and not version.isdigit()
    if swapped and (isinstance(alias, int) or (isinstance(alias, str) and alias.isdigit())):
        warnings.warn(
            "set_alias(name, alias, version) is deprecated: alias moves take "
            "(name, version, alias), like promote",
            DeprecationWarning,
            stacklevel=3,
        )
        return alias, version
    return version, alias


class Models:
    """``ws.models``: the model registry of one workspace."""

    def __init__(
        self,
        catalog: Catalog,
        artifacts: ArtifactStore,
        settings: Settings,
        *,
        datasets: Datasets,
        runs: Runs,
    ) -> None:
        self._catalog = catalog
        self._artifacts = artifacts
        self._datasets = datasets
        self._runs = runs
        self._loader = ModelLoader(artifacts, settings.state_dir / "cache" / "models")

    # -- registering --------------------------------------------------------------------------
    def register(
        self,
        model: Any,
        name: str,
        *,
        run: Any = None,
        input_example: pd.DataFrame | None = None,
        signature: Signature | None = None,
        datasets: Any = None,
        features: Mapping[str, int] | None = None,
        description: str | None = None,
        tags: Mapping[str, object] | None = None,
        export_onnx: bool = False,
    ) -> ModelVersion:
        """Package ``model`` and store it as the next version of ``name``.

        ``input_example``: a frame of model input (the training frame is best): the signature
        is inferred from it, and without a training dataset its profile becomes the reference
        profile (when it has at least 100 rows; a handful of rows would make
        drift monitoring cry wolf). ``datasets``: a DatasetVersion or reference (training
        data), a list of them, or a mapping of role (``training``, ``evaluation`` ...) to them.
        ``features``: feature view name -> version. ``run``: the Run (or run id) that
        trained the model.
        """
        from weekend.registry._lineage import collect
        from weekend.registry._package import write_package

        validate_name(name, "model name")
        text = text_value(description, "description")
        tag_map = tag_values(tags)
        lineage, profile_json = collect(
            self._datasets, self._runs, run=run, datasets=datasets, features=features
        )
        signature, profile_json = from_example(
            model, input_example, signature, lineage, profile_json
        )
        sample = reference_sample(self._datasets, lineage, input_example, signature)
        package = write_package(
            self._artifacts, model, signature=signature, export_onnx=export_onnx, reference=sample
        )
        record = package_record(
            package,
            signature=signature,
            lineage=lineage,
            profile_json=profile_json,
            description=text,
            tags=tag_map,
        )
        version = _store.insert_version(self._catalog, name, record)
        return self.get(f"{name}/{version}")

    def copy_version(
        self,
        source: str,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> ModelVersion:
        """Register an existing version's package (``"name/3"``, ``"name@champion"``) as the
        next version of ``name`` (the same model or another), without packaging it again.

        The files are content-addressed, so nothing is copied: the new version shares them,
        with the source's signature, requirements, profile and lineage, plus a
        ``copied_from`` entry naming the source. Description and tags are the source's
        unless given.
        """
        validate_name(name, "model name")
        text = text_value(description, "description")
        tag_map = None if tags is None else tag_values(tags)
        origin = self.get(source)
        for file, entry in origin.manifest.items():
            if not self._artifacts.exists(entry["sha256"]):
                raise IntegrityError(
                    f"model {origin.ref} lists file {file!r} ({entry['sha256']}), which the "
                    "artifact store no longer holds; it cannot be copied"
                )
        record = copied_record(origin, description=text, tags=tag_map)
        version = _store.insert_version(self._catalog, name, record)
        return self.get(f"{name}/{version}")

    # -- reading ------------------------------------------------------------------------------
    def get(self, ref: str) -> ModelVersion:
        """The version a reference points at: ``"name"``, ``"name/3"`` or ``"name@alias"``."""
        parsed = parse_ref(ref)
        with self._catalog.read() as conn:
            return _store.get_version(conn, parsed)

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version of a model, oldest first."""
        validate_name(name, "model name")
        with self._catalog.read() as conn:
            return _store.list_versions(conn, name)

    def list(self) -> builtins.list[RegisteredModel]:
        """Every registered model with its version count, latest version and aliases."""
        with self._catalog.read() as conn:
            return _store.list_models(conn)

    def get_model(self, name: str) -> RegisteredModel:
        validate_name(name, "model name")
        for item in self.list():
            if item.name == name:
                return item
        raise NotFoundError(f"model {name!r} does not exist (see 'weekend models list')")

    def flavor_info(self, ref: str) -> dict[str, Any]:
        """What the flavor recorded (class, task, format ...), read from the verified package."""
        from weekend.registry._package import stored_flavor_info

        return dict(stored_flavor_info(self._artifacts, self.get(ref).manifest))

    # -- tags and descriptions -------------------------------------------------------------------
    def _target(self, target: str) -> tuple[ModelRef, bool]:
        """A bare name addresses the registered model; ``name/3`` or ``name@alias`` a version."""
        parsed = parse_ref(target)
        return parsed, parsed.version is not None or parsed.alias is not None

    def set_tags(self, target: str, tags: Mapping[str, object]) -> None:
        """Set tags on a registered model (``"name"``) or a version (``"name/3"``)."""
        ref, version_level = self._target(target)
        values = tag_values(tags)
        with self._catalog.begin() as conn:
            _store.update_metadata(conn, ref, version_level=version_level, tags=values)

    def set_tag(self, target: str, key: str, value: object) -> None:
        self.set_tags(target, {key: value})

    def delete_tag(self, target: str, key: str) -> None:
        ref, version_level = self._target(target)
        with self._catalog.begin() as conn:
            _store.update_metadata(conn, ref, version_level=version_level, remove=(key,))

    def set_description(self, target: str, description: str | None) -> None:
        """Describe a registered model (``"name"``) or a version (``"name/3"``)."""
        ref, version_level = self._target(target)
        text = text_value(description, "description")
        with self._catalog.begin() as conn:
            _store.update_metadata(
                conn, ref, version_level=version_level, description=text, set_description=True
            )

    # -- aliases ------------------------------------------------------------------------------
    def _move(
        self,
        name: str,
        alias: str,
        decide: Callable[[Any, str], Decision],
        *,
        action: str,
        reason: str | None,
        actor: str | None,
    ) -> AliasEvent | None:
        """Lock the model, let ``decide(conn, model_id)`` pick the target, move, log."""
        validate_name(name, "model name")
        validate_alias(alias)
        reason = text_value(reason, "reason")
        who = actor_name(actor)
        catalog = self._catalog
        with catalog.begin() as conn:
            mid = _store.model_id(conn, name, lock=True)
            to_version, evidence, forced = decide(conn, mid)
            return _store.move_alias(
                catalog,
                conn,
                name=name,
                mid=mid,
                alias=alias,
                to_version=to_version,
                action=action,
                actor=who,
                reason=reason,
                evidence=evidence,
                forced=forced,
            )

    def set_alias(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> AliasEvent | None:
        """Point ``alias`` at ``version`` (atomically, logged). No gate is checked: use
        :meth:`promote` for that. Returns the audit event, or None if it already pointed there.

        The arguments come in the order of every alias move: ``(name, version, alias)``. The
        order of earlier releases, ``set_alias(name, alias, version)``, still works (an alias
        is never a number) and warns.
        """
        version, alias = _alias_move_order(version, alias)
        number = version_number(version)

        def decide(conn: Any, mid: str) -> Decision:
            if not _store.version_exists(conn, mid, number):
                raise NotFoundError(f"model {name!r} has no version {number}")
            return number, None, False

        return self._move(name, alias, decide, action="set", reason=reason, actor=actor)

    def delete_alias(
        self, name: str, alias: str, *, reason: str | None = None, actor: str | None = None
    ) -> AliasEvent:
        """Remove an alias (logged; :meth:`rollback` can restore it)."""

        def decide(conn: Any, mid: str) -> Decision:
            if alias not in _store.current_aliases(conn, mid):
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            return None, None, False

        event = self._move(name, alias, decide, action="delete", reason=reason, actor=actor)
        assert event is not None
        return event

    def aliases(self, name: str) -> dict[str, int]:
        """Current aliases of a model: alias -> version."""
        validate_name(name, "model name")
        with self._catalog.read() as conn:
            return _store.current_aliases(conn, _store.model_id(conn, name))

    def alias_history(self, name: str, alias: str | None = None) -> builtins.list[AliasEvent]:
        """The audit log of alias moves (of one alias, or all), oldest first."""
        validate_name(name, "model name")
        if alias is not None:
            validate_alias(alias)
        with self._catalog.read() as conn:
            mid = _store.model_id(conn, name)
            return _store.alias_events_of(conn, name, mid, alias)

    def promote(
        self,
        name: str,
        version: int,
        alias: str = DEFAULT_ALIAS,
        *,
        evaluation: Evaluation | str | None = None,
        force: bool = False,
        reason: str | None = None,
        actor: str | None = None,
    ) -> AliasEvent | None:
        """Move ``alias`` to ``version`` if its evaluation is blessed.

        The evidence is ``evaluation`` (an Evaluation or its id) or else the version's latest
        stored evaluation. It must be blessed and, when it compared against this same alias,
        the alias must not have moved since. ``force=True`` (with a ``reason``) overrides a
        refusal; the event is then marked ``forced``.
        """
        from weekend.registry._promotion import promotion_check

        number = version_number(version)
        evaluation_id: Any = getattr(evaluation, "id", evaluation)  # an Evaluation, or its id
        if force and not reason:
            raise InvalidValueError("force=True needs a reason= for the audit log")

        def decide(conn: Any, mid: str) -> Decision:
            if not _store.version_exists(conn, mid, number):
                raise NotFoundError(f"model {name!r} has no version {number}")
            evidence, problems = promotion_check(conn, name, mid, number, alias, evaluation_id)
            if problems and not force:
                raise PromotionRefusedError(f"{name}/{number}", alias, problems)
            return number, evidence, bool(problems)

        return self._move(name, alias, decide, action="promote", reason=reason, actor=actor)

    def rollback(
        self,
        name: str,
        alias: str = DEFAULT_ALIAS,
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> AliasEvent:
        """Undo the latest move of ``alias`` that is not yet undone (repeat to go further)."""
        from weekend.registry._promotion import rollback_target

        def decide(conn: Any, mid: str) -> Decision:
            events = _store.alias_events_of(conn, name, mid, alias)
            target, undone = rollback_target(name, alias, events)
            return target, {"undoes_seq": undone}, False

        event = self._move(name, alias, decide, action="rollback", reason=reason, actor=actor)
        if event is None:  # pragma: no cover - rollback_target never returns the current one
            raise ConflictError(f"alias {alias!r} of {name!r} already points at the target")
        return event

    # -- loading ------------------------------------------------------------------------------
    def load(
        self,
        ref: str,
        *,
        trusted: bool = False,
        flavor: str | None = None,
        cache: bool = True,
    ) -> LoadedVersion:
        """Load a version for prediction, verifying every file and the installed packages.

        Refuses (:class:`~weekend.core.errors.UnsafeModelError`) a model whose format runs
        code when read, or whose scikit-learn structures are inconsistent, unless
        ``trusted=True``. ``flavor="onnx"`` loads the ONNX export instead of the native model.
        ``cache``: reuse the model object this process already loaded from the same verified
        files (the files are hashed again on every load either way).
        """
        return self._loader.load(self.get(ref), trusted=trusted, flavor=flavor, cache=cache)

    # -- evaluation and lineage -----------------------------------------------------------------
    def evaluate(
        self,
        ref: str,
        *,
        data: Any,
        label: str,
        baseline: str | int | None = None,
        slices: Sequence[str] = (),
        gates: Sequence[str] = (),
        min_slice_rows: int = 30,
        trusted: bool = False,
    ) -> Evaluation:
        """Score ``ref`` (and ``baseline``) on ``data``, overall and per slice; check gates;
        store and return the :class:`Evaluation` (blessed when every gate passed).

        ``data``: a DataFrame, a dataset reference (``"holdout/2"``), a DatasetVersion, or a
        path to a Parquet or CSV file. ``baseline``: an alias of the same model
        (``"champion"``), a version number, or a full reference (``"other/2"``).
        """
        from weekend.registry._promotion import run_evaluation

        return run_evaluation(
            self,
            ref,
            data=data,
            label=label,
            baseline=baseline,
            slices=slices,
            gates=gates,
            min_slice_rows=min_slice_rows,
            trusted=trusted,
        )

    def evaluations(self, ref: str) -> builtins.list[Evaluation]:
        """Stored evaluations of a version, newest first."""
        version = self.get(ref)
        with self._catalog.read() as conn:
            mid = _store.model_id(conn, version.name)
            rows = _store.evaluation_rows(conn, mid, version.version)
        from weekend.registry._evaluate import Evaluation

        return [Evaluation.from_dict(row["result"]) for row in rows]

    def get_evaluation(self, evaluation_id: str) -> Evaluation:
        with self._catalog.read() as conn:
            rows = _store.evaluation_rows(conn, None, evaluation_id=evaluation_id)
        if not rows:
            raise NotFoundError(f"evaluation {evaluation_id!r} does not exist")
        from weekend.registry._evaluate import Evaluation

        return Evaluation.from_dict(rows[0]["result"])

    def lineage(self, ref: str) -> dict[str, Any]:
        """The chain version -> run (experiment, params) -> datasets -> features -> commit."""
        from weekend.registry._lineage import lineage_chain

        return lineage_chain(self._datasets, self._runs, self.get(ref))

    # -- batch prediction -------------------------------------------------------------------------
    def predict_batch(
        self,
        ref: str,
        input: str | Path | Any,
        output: str | Path,
        *,
        chunk_rows: int = 100_000,
        keep: Sequence[str] | None = None,
        probabilities: bool = True,
        overwrite: bool = False,
        trusted: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> BatchResult:
        """Predict a Parquet or CSV file (or a Parquet folder, or a dataset version or
        reference such as ``"flights/3"``) into a Parquet file, in chunks.

        The output holds the ``keep`` input columns (default: all), ``prediction`` (and
        ``proba_<class>`` for classifiers unless ``probabilities=False``) and
        ``model_version`` (``"name/3"``) on every row. It appears atomically, when complete.
        """
        from weekend.registry._predict import predict_batch

        loaded = self.load(ref, trusted=trusted)
        return predict_batch(
            loaded,
            input,
            output,
            chunk_rows=chunk_rows,
            keep=keep,
            probabilities=probabilities,
            overwrite=overwrite,
            progress=progress,
            datasets=self._datasets,
        )

    # -- evaluation storage (used by _promotion) ------------------------------------------------
    def _store_evaluation(self, evaluation: Evaluation, baseline_version: int | None) -> None:
        with self._catalog.begin() as conn:
            mid = _store.model_id(conn, evaluation.name)
            evaluation.created_at = _store.evaluation_time(
                conn, mid, evaluation.version, evaluation.created_at
            )
            _store.insert_evaluation(
                conn,
                evaluation_id=evaluation.id,
                mid=mid,
                version=evaluation.version,
                baseline_version=baseline_version,
                data=evaluation.data,
                result=evaluation.to_dict(),
                blessed=evaluation.blessed,
                created_at=evaluation.created_at,
            )

    @staticmethod
    def _new_evaluation_id() -> tuple[str, int]:
        return new_id(), now_ms()


__all__ = [
    "DEFAULT_ALIAS",
    "MIN_PROFILE_ROWS",
    "AliasEvent",
    "LoadedVersion",
    "ModelVersion",
    "Models",
    "PromotionRefusedError",
    "RegisteredModel",
]
