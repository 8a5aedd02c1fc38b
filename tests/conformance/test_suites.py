"""The suites themselves: importable without pytest, uniquely named, skips reported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from weekend.testing import (
    Check,
    CheckSkipped,
    artifact_store_checks,
    catalog_checks,
    online_store_checks,
    raises,
    run_checks,
)


def test_weekend_testing_does_not_import_pytest() -> None:
    code = "import weekend.testing, sys; assert 'pytest' not in sys.modules, 'pytest imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("suite", [online_store_checks, artifact_store_checks, catalog_checks])
def test_every_check_has_a_unique_name(suite: object) -> None:
    checks = suite()  # type: ignore[operator]
    names = [check.name for check in checks]
    assert len(names) == len(set(names)) >= 10
    assert all(not c.name.startswith("check_") and callable(c.run) for c in checks)


def test_run_checks_reports_skips_and_names_the_failure() -> None:
    closed: list[int] = []

    def skip(_subject: int) -> None:
        raise CheckSkipped("not here")

    def fail(subject: int) -> None:
        assert subject == 0, "the subject was not fresh"

    counter = iter(range(10))
    assert run_checks([Check("skips", skip)], lambda: next(counter), close=closed.append) == [
        "skips"
    ]
    with pytest.raises(AssertionError, match="conformance check 'fails' failed: the subject"):
        run_checks([Check("fails", fail)], lambda: next(counter), close=closed.append)
    assert closed == [0, 1]


def test_raises_checks_the_type_and_the_message() -> None:
    with raises(ValueError, match="b+"):
        raise ValueError("abbb")
    with pytest.raises(AssertionError, match="nothing was raised"), raises(ValueError):
        pass
    with (
        pytest.raises(AssertionError, match="does not match 'z'"),
        raises(ValueError, match="z"),
    ):
        raise ValueError("abc")
    with pytest.raises(KeyError), raises(ValueError):
        raise KeyError("other errors pass through")
