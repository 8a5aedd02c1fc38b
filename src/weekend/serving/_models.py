"""The models a service serves: loaded versions, their aliases, canary, shadow, hot reload.

A service serves one or more references: ``name@alias`` (followed when the alias moves) or
``name/3`` (pinned). The first reference of a name is its **primary**: a request to
``/v1/models/{name}/predict`` goes there, or to the name's **canary** for a stable share of
request keys; ``/v1/models/{name}@{alias}/predict`` goes to that alias, exactly. A **shadow**
alias scores the primary's requests off the request path; its answers are logged, never
returned.

Each reference is a :class:`Slot` holding one :class:`Deployment` (the loaded version and
what serving it needs: the row schema from its signature, the plan of its online features).
A request reads the slot's deployment once, so it is served by one version from start to
end. :class:`ModelSet` watches the aliases (one catalog read per model every
``reload_seconds``), loads a moved alias's new version in its watcher thread and swaps it in
with one attribute write: requests never wait for a load and never see half a model. A
version that cannot be loaded (damaged, refused as unsafe, missing packages) leaves the old
one serving; the slot's ``problem`` says why (``/ready`` shows it), and the load is tried
again after :data:`RETRY_SECONDS` or when the alias moves again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weekend.core.errors import InvalidValueError, NotFoundError, WeekendError
from weekend.core.refs import parse_ref
from weekend.serving._lookup import FeaturePlan, feature_plan
from weekend.serving._schema import RowSchema

if TYPE_CHECKING:
    from weekend.registry import LoadedVersion
    from weekend.workspace import Workspace

logger = logging.getLogger("weekend.serving")
RETRY_SECONDS = 60.0
"""A version that failed to load is tried again after this long (or when the alias moves)."""


@dataclass(frozen=True)
class Deployment:
    """One loaded model version and what serving it needs."""

    loaded: LoadedVersion
    alias: str | None
    schema: RowSchema | None
    features: FeaturePlan | None
    compiled: Any = None
    """The version compiled for serving (``loaded.compiled()``), None: the original serves."""

    @property
    def name(self) -> str:
        return self.loaded.version.name

    @property
    def version(self) -> int:
        return self.loaded.version.version


def deploy(ws: Workspace, ref: str, alias: str | None, *, trusted: bool = False) -> Deployment:
    """Load ``ref`` and prepare its row schema and feature plan."""
    loaded = ws.models.load(ref, trusted=trusted)
    signature = loaded.signature
    schema = None if signature is None else RowSchema(signature)
    plan = feature_plan(ws.features, loaded.version) if loaded.version.lineage else None
    return Deployment(loaded, alias, schema, plan, _compiled(loaded))


def _compiled(loaded: LoadedVersion) -> Any:
    """The compiled fast path of ``loaded``, compiled and checked now rather than on the
    first request; None when nothing compiles it faithfully (or compiling failed)."""
    compile_ = getattr(loaded, "compiled", None)
    if compile_ is None or loaded.signature is None:
        return None
    try:
        return compile_()
    except Exception as exc:  # the original model serves: never fail a load over it
        logger.warning("%s is served without its compiled fast path: %s", loaded.ref, exc)
        return None


class Slot:
    """One served reference (``name@alias`` or ``name/3``) and its current deployment."""

    def __init__(self, ref: str, name: str, alias: str | None, deployment: Deployment) -> None:
        self.ref = ref
        self.name = name
        self.alias = alias
        self.deployment = deployment
        """Swapped whole by the watcher; read it once per request."""
        self.problem: str | None = None
        """Why the slot does not follow its alias now (the alias was deleted, a load failed)."""
        self.failed: tuple[int, float] | None = None
        """(version, when) of the last failed load: retried after RETRY_SECONDS."""

    def __repr__(self) -> str:
        return f"Slot({self.ref!r}, version={self.deployment.version})"


@dataclass(frozen=True)
class Canary:
    slot: Slot
    share: float
    """Of request keys, 0 < share <= 1."""


def bucket(key: str) -> float:
    """A stable number in [0, 1) for a request key (the same in every process)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _split_target(text: str, what: str) -> tuple[str | None, str]:
    """``name@alias`` or ``alias`` -> (name or None, alias)."""
    name, sep, alias = text.rpartition("@")
    if not alias:
        raise InvalidValueError(f"{what} must be ALIAS or NAME@ALIAS, got {text!r:.80}")
    return (name if sep else None), alias


def parse_canary(text: str) -> tuple[str | None, str, float]:
    """``[name@]alias=10%`` -> (name or None, alias, 0.10)."""
    target, sep, share = text.partition("=")
    number = share.strip().removesuffix("%")
    try:
        value = float(number) / 100
    except ValueError:
        value = -1.0
    if not sep or not target.strip() or not 0 < value <= 1:
        raise InvalidValueError(
            f"canary must be [NAME@]ALIAS=PERCENT, with a percent above 0 and at most 100 "
            f"(challenger=10%), got {text!r:.80}"
        )
    name, alias = _split_target(target.strip(), "canary")
    return name, alias, value


class ModelSet:
    """The slots of a service, the primary of each name, canaries, shadows and the watcher."""

    def __init__(
        self,
        ws: Workspace,
        models: Sequence[str],
        *,
        canary: Sequence[str] = (),
        shadow: Sequence[str] = (),
        trusted: bool = False,
        reload_seconds: float | None = 5.0,
    ) -> None:
        if isinstance(models, str) or not models:
            raise InvalidValueError(
                "models must be a non-empty list of references such as ['flight-delay@champion']"
            )
        if reload_seconds is not None and not reload_seconds > 0:
            raise InvalidValueError(f"reload_seconds must be > 0 or None, got {reload_seconds!r}")
        self._ws = ws
        self._trusted = trusted
        self.reload_seconds = reload_seconds
        self.slots: dict[str, Slot] = {}
        self.primary: dict[str, Slot] = {}
        self.canaries: dict[str, Canary] = {}
        self.shadows: dict[str, Slot] = {}
        self.on_swap: list[Callable[[Slot, Deployment | None], None]] = []
        for ref in models:
            slot = self._add(ref)
            self.primary.setdefault(slot.name, slot)
        for text in canary:
            name, alias, share = parse_canary(text)
            name = self._name_for(name, "canary")
            self.canaries[name] = Canary(self._add(f"{name}@{alias}"), share)
        for text in shadow:
            name, alias = _split_target(text.strip(), "shadow")
            name = self._name_for(name, "shadow")
            self.shadows[name] = self._add(f"{name}@{alias}")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _name_for(self, name: str | None, what: str) -> str:
        if name is None:
            if len(self.primary) != 1:
                raise InvalidValueError(
                    f"this service serves {len(self.primary)} models "
                    f"({', '.join(self.primary)}): name the model of the {what}, "
                    f"as NAME@ALIAS"
                )
            return next(iter(self.primary))
        if name not in self.primary:
            raise InvalidValueError(
                f"{what} {name!r} is not a model this service serves ({', '.join(self.primary)})"
            )
        return name

    def _add(self, text: str) -> Slot:
        ref = parse_ref(text, "model")
        if ref.alias is None and ref.version is None:
            raise InvalidValueError(
                f"serve a version (name/3) or an alias (name@champion), got {text!r:.80}"
            )
        key = f"{ref.name}@{ref.alias}" if ref.alias else f"{ref.name}/{ref.version}"
        found = self.slots.get(key)
        if found is None:
            deployment = deploy(self._ws, key, ref.alias, trusted=self._trusted)
            found = self.slots[key] = Slot(key, ref.name, ref.alias, deployment)
        return found

    # -- routing ------------------------------------------------------------------------------
    def target(self, text: str) -> tuple[Slot, bool]:
        """The slot a path's ``name`` or ``name@alias`` names, and whether it was explicit."""
        name, sep, alias = text.partition("@")
        if sep:
            slot = self.slots.get(text)
            if slot is None:
                served = ", ".join(self.slots)
                raise NotFoundError(
                    f"alias {alias!r} of model {name!r} is not served here (served: {served})",
                    field="name",
                )
            return slot, True
        slot = self.primary.get(text)
        if slot is None:
            raise NotFoundError(
                f"model {text!r} is not served here (served: {', '.join(self.primary)})",
                field="name",
            )
        return slot, False

    def route(self, slot: Slot, key: Callable[[], str], *, explicit: bool) -> tuple[Slot, str]:
        """(the slot that answers, ``primary`` or ``canary``) for a request to ``slot``;
        a request that named its alias (``explicit``) is never split."""
        canary = None if explicit else self.canaries.get(slot.name)
        if canary is not None and bucket(key()) < canary.share:
            return canary.slot, "canary"
        return slot, "primary"

    # -- hot reload ---------------------------------------------------------------------------
    def check(self) -> int:
        """Follow moved aliases now (one catalog read per model); returns the swaps made."""
        swaps = 0
        names = {slot.name for slot in self.slots.values() if slot.alias is not None}
        for name in sorted(names):
            try:
                aliases = self._ws.models.aliases(name)
            except WeekendError as exc:
                logger.warning("cannot read the aliases of %s: %s", name, exc)
                continue
            for slot in self.slots.values():
                if slot.name == name and slot.alias is not None:
                    swaps += self._follow(slot, aliases.get(slot.alias))
        return swaps

    def _follow(self, slot: Slot, version: int | None) -> int:
        if version is None:
            slot.problem = (
                f"alias {slot.alias!r} of {slot.name!r} was deleted; still serving version "
                f"{slot.deployment.version}"
            )
            return 0
        if version == slot.deployment.version:
            slot.problem = None
            return 0
        failed = slot.failed
        recent = failed is not None and time.monotonic() - failed[1] < RETRY_SECONDS
        if recent and failed is not None and failed[0] == version:
            return 0
        try:
            new = deploy(self._ws, f"{slot.name}/{version}", slot.alias, trusted=self._trusted)
        except Exception as exc:  # a bad version must not stop the watcher: keep serving
            slot.problem = f"cannot load {slot.name}/{version} for {slot.ref}: {exc}"
            slot.failed = (version, time.monotonic())
            logger.error("%s; still serving version %s", slot.problem, slot.deployment.version)
            for hook in self.on_swap:
                hook(slot, None)
            return 0
        old = slot.deployment
        slot.deployment = new
        slot.problem = slot.failed = None
        logger.info("%s moved: version %s -> %s", slot.ref, old.version, new.version)
        for hook in self.on_swap:
            hook(slot, old)
        return 1

    def _watch(self) -> None:
        assert self.reload_seconds is not None
        while not self._stop.wait(self.reload_seconds):
            try:
                self.check()
            except Exception:  # never let the watcher die
                logger.exception("the alias watcher failed; it tries again")

    def start(self) -> None:
        """Start the watcher thread (no-op without aliases or with ``reload_seconds=None``)."""
        if self.reload_seconds is None or self._thread is not None:
            return
        if not any(slot.alias for slot in self.slots.values()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="weekend-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=30)


__all__ = ["Canary", "Deployment", "ModelSet", "Slot", "bucket", "deploy", "parse_canary"]
