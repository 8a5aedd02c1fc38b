"""The registry's records: model versions, registered models and alias events, as the
services return them, and how a catalog row becomes one.

References (``name``, ``name/3``, ``name@alias``) are parsed by :mod:`weekend.core.refs`, the
same parser datasets use; :data:`ModelRef` is its record.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from weekend.core.errors import InvalidValueError
from weekend.core.names import check_text
from weekend.core.refs import Ref as ModelRef

if TYPE_CHECKING:
    from weekend.data import Profile
    from weekend.registry._signature import Signature


def to_json(value: Any) -> str:
    """Canonical JSON (sorted keys; numpy values as plain numbers) for a catalog column."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def actor_name(actor: str | None) -> str:
    """``actor`` if given, else the operating-system user."""
    if actor is not None:
        if not isinstance(actor, str) or not 0 < len(actor) <= 250:
            raise InvalidValueError(f"actor must be 1 to 250 characters, got {actor!r:.80}")
        return check_text(actor, "actor")
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


@dataclass
class AliasEvent:
    """One move of an alias, from the audit log (``to_version`` None: the alias was deleted)."""

    seq: int
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    action: str
    actor: str
    reason: str | None
    evidence: dict[str, Any]
    forced: bool
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RegisteredModel:
    """A registered model: its name, metadata, versions count and current aliases."""

    name: str
    description: str | None
    tags: dict[str, str]
    created_at: int
    latest_version: int | None
    num_versions: int
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ModelVersion:
    """One immutable, numbered version of a registered model."""

    id: str
    name: str
    version: int
    flavor: str
    trusted_required: bool
    signature: Signature | None
    requirements: dict[str, str]
    lineage: dict[str, Any]
    manifest: dict[str, dict[str, Any]]
    run_id: str | None
    description: str | None
    tags: dict[str, str]
    created_at: int
    aliases: tuple[str, ...] = ()
    profile_json: str | None = field(default=None, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def task(self) -> str:
        """``classifier``, ``regressor`` or ``unknown`` (read from the signature's output)."""
        output = getattr(self.signature, "output", None)
        if output is None:
            return "unknown"
        return "classifier" if output.type == "label" and output.classes else "regressor"

    @property
    def profile(self) -> Profile | None:
        """The training data's profile (:class:`weekend.data.Profile`), or None."""
        if self.profile_json is None:
            return None
        from weekend.data import Profile

        return Profile.from_dict(orjson.loads(self.profile_json))

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("profile_json", "signature")}
        out["ref"] = self.ref
        out["task"] = self.task
        out["aliases"] = list(self.aliases)
        out["signature"] = None if self.signature is None else self.signature.to_dict()
        out["has_profile"] = self.profile_json is not None
        return out


def version_from_row(m: Any, name: str, aliases: tuple[str, ...]) -> ModelVersion:
    """The :class:`ModelVersion` of a ``model_versions`` row."""
    from weekend.registry._signature import Signature

    sig = m["signature_json"]
    return ModelVersion(
        id=m["id"],
        name=name,
        version=int(m["version"]),
        flavor=m["flavor"],
        trusted_required=bool(m["trusted_required"]),
        signature=None if sig is None else Signature.from_json(sig),
        requirements=orjson.loads(m["requirements_json"]),
        lineage=orjson.loads(m["lineage_json"]),
        manifest=orjson.loads(m["manifest_json"]),
        run_id=m["run_id"],
        description=m["description"],
        tags=orjson.loads(m["tags_json"] or "{}"),
        created_at=int(m["created_at"]),
        aliases=aliases,
        profile_json=m["profile_json"],
    )


__all__ = [
    "AliasEvent",
    "ModelRef",
    "ModelVersion",
    "RegisteredModel",
    "actor_name",
    "to_json",
    "version_from_row",
]
