"""Validation of user-supplied names and keys.

Names of experiments, models, datasets, feature views ... are identifiers, never paths.
Artifact names may have ``/``-separated segments, but they are logical keys too: the
artifact store maps them to content hashes and never joins them onto a filesystem path.
Still, every segment is checked so that nothing resembling a path trick is ever stored.
"""

from __future__ import annotations

import re

from weekend.core.errors import InvalidNameError, InvalidValueError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_KEY = re.compile(r"[A-Za-z0-9_.\-/: ]+")
_SEGMENT = re.compile(r"[A-Za-z0-9_.\- +=,@]+")
MAX_NAME = 128
MAX_KEY = 250
MAX_ARTIFACT_NAME = 1024


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_name(name: object, kind: str = "name") -> str:
    """Return ``name`` if it is a valid identifier, else raise :class:`InvalidNameError`.

    Allowed: letters, digits, ``_``, ``.`` and ``-``, starting with a letter or digit, at most
    128 characters, and never ``..``.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"{kind} must be a string, got {type(name).__name__} {_show(name)}")
    if not name or len(name) > MAX_NAME:
        raise InvalidNameError(
            f"{kind} must have 1 to {MAX_NAME} characters, got {len(name)}: {_show(name)}"
        )
    if not _NAME.fullmatch(name) or ".." in name:
        raise InvalidNameError(
            f"{kind} {_show(name)} is not allowed: use letters, digits, '_', '.' and '-', "
            "starting with a letter or digit, and no '..'"
        )
    return name


def validate_key(key: object, kind: str = "key") -> str:
    """Validate a metric, param or tag key (letters, digits, ``_ - . / : `` and space)."""
    if not isinstance(key, str):
        raise InvalidNameError(f"{kind} must be a string, got {type(key).__name__} {_show(key)}")
    if not key or len(key) > MAX_KEY:
        raise InvalidNameError(
            f"{kind} must have 1 to {MAX_KEY} characters, got {len(key)}: {_show(key)}"
        )
    if not _KEY.fullmatch(key) or key != key.strip():
        raise InvalidNameError(
            f"{kind} {_show(key)} is not allowed: use letters, digits, '_', '-', '.', '/', ':' "
            "and inner spaces"
        )
    return key


def validate_artifact_name(name: object) -> str:
    """Validate a logical artifact name such as ``model/weights.bin``.

    Rejected with a clear error: absolute paths, ``.`` and ``..`` segments, empty segments,
    backslashes, ``#``, ``;``, ``%`` (so no percent-encoded ``..``), NUL and control
    characters, and names longer than 1024 characters.
    """
    if not isinstance(name, str):
        raise InvalidNameError(
            f"artifact name must be a string, got {type(name).__name__} {_show(name)}"
        )
    if not name or len(name) > MAX_ARTIFACT_NAME:
        raise InvalidNameError(
            f"artifact name must have 1 to {MAX_ARTIFACT_NAME} characters, got {len(name)}"
        )
    for bad, why in (
        ("\x00", "a NUL byte"),
        ("\\", "a backslash"),
        ("#", "'#'"),
        (";", "';'"),
        ("%", "'%' (percent-encoding)"),
    ):
        if bad in name:
            raise InvalidNameError(
                f"artifact name {_show(name)} contains {why}, which is not allowed"
            )
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "://" in name:
        raise InvalidNameError(
            f"artifact name {_show(name)} is absolute; use a relative name like 'plots/roc.png'"
        )
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidNameError(
                f"artifact name {_show(name)} has an empty, '.' or '..' segment, "
                "which is not allowed"
            )
        if not _SEGMENT.fullmatch(segment):
            raise InvalidNameError(
                f"artifact name {_show(name)} has a segment {_show(segment)} with characters "
                "outside letters, digits and '_ . - + = , @' and space"
            )
    return name


def check_text(text: str, field: str) -> str:
    """Refuse text no catalog can store: NUL bytes (PostgreSQL rejects them) and unpaired
    surrogates (not valid Unicode, so not encodable as UTF-8)."""
    if text.isascii():
        if "\x00" not in text:
            return text
    else:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidValueError(
                f"{field} must be valid Unicode text (encodable as UTF-8), got {text!r:.80}; "
                f"it holds the unpaired surrogate {text[exc.start]!r} at position {exc.start}",
                field=field,
            ) from None
        if "\x00" not in text:
            return text
    raise InvalidValueError(
        f"{field} must be text without NUL bytes (the catalog cannot store them), got "
        f"{text!r:.80}; remove the NUL ('\\x00') at position {text.index(chr(0))}",
        field=field,
    )
