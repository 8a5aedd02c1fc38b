"""References to versioned things: ``name``, ``name/3`` (a version) and ``name@alias``.

Datasets take ``name`` and ``name/N``; models take all three forms. One parser serves both, so
the rules and the messages are the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from weekend.core.errors import InvalidNameError, InvalidValueError
from weekend.core.names import validate_name


@dataclass(frozen=True)
class Ref:
    """A parsed reference: ``version`` or ``alias`` is set, or neither (the latest version)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def validate_alias(alias: object) -> str:
    """An alias is a name (see :func:`validate_name`) that is not a plain number."""
    text = validate_name(alias, "alias")
    if text.isdigit():
        raise InvalidNameError(
            f"alias {text!r} is a number, which would read like a version; use a word such as "
            "'champion' or 'challenger'"
        )
    return text


def parse_ref(ref: object, kind: str = "model", *, aliases: bool = True) -> Ref:
    """Parse ``"name"``, ``"name/3"`` or (when ``aliases``) ``"name@alias"``.

    ``kind`` names the thing in messages ("model", "dataset").
    """
    forms = "'name', 'name/3' or 'name@alias'" if aliases else "'name' or 'name/3'"
    marks = " or '@'" if aliases else ""
    if not isinstance(ref, str):
        raise InvalidValueError(
            f"{kind} reference must be a string like {forms}, got {type(ref).__name__} {ref!r:.60}"
        )
    try:
        head = ref.split("/", 1)[0].split("@", 1)[0] if aliases else ref.split("/", 1)[0]
        if head != ref:  # the name before a '/' or '@' first: '../x' is refused as a name
            validate_name(head, f"{kind} name")
        if ref.count("/") + (ref.count("@") if aliases else 0) > 1:
            raise InvalidValueError(
                f"{kind} reference {ref!r:.80} has more than one '/'{marks}; expected {forms}"
            )
        if "/" in ref:
            name, _, version = ref.partition("/")
            validate_name(name, f"{kind} name")
            if not version.isdigit() or int(version) < 1:
                raise InvalidValueError(
                    f"{kind} reference {ref!r:.80}: the version after '/' must be a positive "
                    f"integer (1, 2, ...), got {version!r:.40}"
                )
            return Ref(name, version=int(version))
        if aliases and "@" in ref:
            name, _, alias = ref.partition("@")
            validate_name(name, f"{kind} name")
            if not alias:
                raise InvalidValueError(
                    f"{kind} reference {ref!r:.80}: the alias after '@' is empty; expected e.g. "
                    f"'{name}@champion'"
                )
            return Ref(name, alias=validate_alias(alias))
        return Ref(validate_name(ref, f"{kind} name"))
    except InvalidNameError as exc:
        if str(exc).startswith(f"{kind} reference"):
            raise
        raise InvalidNameError(f"{kind} reference {ref!r:.80}: {exc}; expected {forms}") from None


__all__ = ["Ref", "parse_ref", "validate_alias"]
