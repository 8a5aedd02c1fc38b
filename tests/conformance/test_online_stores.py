"""Every online store passes the public conformance suite (``weekend.testing``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from weekend.features.online import (
    OnlineResult,
    OnlineStore,
    SQLiteOnlineStore,
    online_store_kinds,
    open_online_store,
    register_online_store,
)
from weekend.testing import Check, online_store_checks, parametrize_with_checks, run_checks


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    """A fresh, empty store of each kind, opened by URL through the registry."""
    if request.param == "sqlite":
        url, prefix = f"sqlite:///{tmp_path / 'online.db'}", "weekend"
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    with open_online_store(url, key_prefix=prefix) as opened:
        yield opened


@parametrize_with_checks(online_store_checks())
def test_online_store(check: Check[OnlineStore], store: OnlineStore) -> None:
    check.run(store)


class ForgetfulStore(SQLiteOnlineStore):
    """A store that ignores the TTL: what the suite must catch."""

    def read(self, *args: Any, **kwargs: Any) -> OnlineResult:
        kwargs.pop("ttl", None)
        return super().read(*args, **kwargs)


def test_a_store_registered_by_scheme_is_opened_and_the_suite_catches_its_bug(
    tmp_path: Path,
) -> None:
    register_online_store("forgetful", lambda url, prefix: ForgetfulStore(url.split("://")[1]))
    assert "forgetful" in online_store_kinds()
    counter = iter(range(1000))

    def make() -> OnlineStore:
        return open_online_store(f"forgetful://{tmp_path / f'{next(counter)}.db'}")

    store = make()
    assert isinstance(store, ForgetfulStore)
    store.close()
    checks = [c for c in online_store_checks() if "ttl" in c.name or "keys_differ" in c.name]
    with pytest.raises(AssertionError, match="conformance check 'ttl_edge_is_inclusive"):
        run_checks(checks, make, close=lambda s: s.close())
    honest = [c for c in online_store_checks() if c.name == "int_and_str_keys_differ"]
    assert run_checks(honest, make, close=lambda s: s.close()) == []


def test_the_forgetful_store_really_is_wrong(tmp_path: Path) -> None:
    """The bug the suite caught, seen directly."""
    import pyarrow as pa

    now = datetime(2024, 1, 2)
    with ForgetfulStore(tmp_path / "f.db") as store:
        table = pa.table({"id": [1], "ts": pa.array([datetime(2024, 1, 1)]), "x": [1.0]})
        store.write(
            "v", ["id"], table, timestamp_field="ts", created_timestamp_field=None, features=["x"]
        )
        got = store.read("v", ["id"], [{"id": 1}], ["x"], ttl=timedelta(hours=1), now=now)
        assert got.rows == [{"x": 1.0}]  # expired, yet served
