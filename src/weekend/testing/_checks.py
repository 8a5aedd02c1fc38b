"""What every conformance suite shares: the check type, ``raises`` and the runner.

Checks are plain functions that raise :class:`AssertionError` (or :class:`CheckSkipped`), so
that ``weekend`` needs no test framework at run time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

Subject = TypeVar("Subject")


class Check(NamedTuple, Generic[Subject]):
    """One named check of a suite: ``run(subject)`` raises AssertionError when it fails."""

    name: str
    run: Callable[[Subject], None]


class CheckSkipped(Exception):  # noqa: N818 - it reads as what happened
    """Raised by a check that does not apply here (e.g. no ``fork`` on this platform)."""


@contextlib.contextmanager
def raises(kind: type[BaseException], match: str | None = None) -> Iterator[None]:
    """Assert that the block raises ``kind`` whose message matches the regex ``match``."""
    try:
        yield
    except kind as exc:
        if match is not None and not re.search(match, str(exc)):
            raise AssertionError(
                f"{type(exc).__name__} was raised, but its message {str(exc)!r} does not "
                f"match {match!r}"
            ) from exc
    else:
        raise AssertionError(f"expected {kind.__name__} matching {match!r}; nothing was raised")


def suite(*functions: Callable[[Any], None]) -> list[Check[Any]]:
    """Checks named after their functions, without the ``check_`` prefix."""
    return [Check(f.__name__.removeprefix("check_"), f) for f in functions]


def run_checks(
    checks: Sequence[Check[Subject]],
    make_subject: Callable[[], Subject],
    *,
    close: Callable[[Subject], None] | None = None,
) -> list[str]:
    """Run every check on a fresh subject from ``make_subject`` (closed with ``close``).

    Returns the names of skipped checks; the first failure raises an AssertionError that
    names the check. For suites without pytest; under pytest use ``parametrize_with_checks``.
    """
    skipped: list[str] = []
    for check in checks:
        subject = make_subject()
        try:
            check.run(subject)
        except CheckSkipped:
            skipped.append(check.name)
        except AssertionError as exc:
            raise AssertionError(f"conformance check {check.name!r} failed: {exc}") from exc
        finally:
            if close is not None:
                close(subject)
    return skipped


__all__ = ["Check", "CheckSkipped", "raises", "run_checks", "suite"]
