"""The shared pieces of ``weekend.core``: SQL quoting, URL redaction, references, DuckDB."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from weekend.core.duck import DuckLimits, duckdb_session
from weekend.core.errors import InvalidNameError, InvalidValueError
from weekend.core.refs import Ref, parse_ref
from weekend.core.sql import quote_ident, sql_string
from weekend.core.urls import redact_url


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=40,
    )
)
def test_any_identifier_and_string_round_trip_through_duckdb(text: str) -> None:
    con = duckdb.connect()
    try:
        row = con.execute(f"SELECT {sql_string(text)} AS {quote_ident(text)}").fetchone()
        assert row == (text,)
        assert con.execute(f"SELECT {quote_ident(text)} FROM (SELECT 1 AS {quote_ident(text)})")
    finally:
        con.close()


@pytest.mark.parametrize(
    ("url", "shown", "server"),
    [
        (
            "postgresql+psycopg://me:s3cret@db:5432/x",
            "postgresql+psycopg://me:***@db:5432/x",
            "postgresql+psycopg://db:5432/x",
        ),
        ("redis://:p@ss/w:rd@cache:6379/0", "redis://:***@cache:6379/0", "redis://cache:6379/0"),
        ("redis://cache:6379/0", "redis://cache:6379/0", "redis://cache:6379/0"),
        ("postgresql://me@db/x", "postgresql://me@db/x", "postgresql://db/x"),
        (
            "sqlite:///.weekend/catalog.db",
            "sqlite:///.weekend/catalog.db",
            "sqlite:///.weekend/catalog.db",
        ),
        ("nonsense:s3cret", "<not a URL: no ://>", "<not a URL: no ://>"),
        ("://@", "://@", "://"),
    ],
)
def test_redact_url_hides_the_password_and_never_raises(url: str, shown: str, server: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(url, drop_userinfo=True) == server
    assert "s3cret" not in redact_url(url)
    assert "w:rd" not in redact_url(url)


@given(st.text(max_size=60))
def test_redact_url_never_raises(text: str) -> None:
    assert isinstance(redact_url(text), str)
    assert redact_url(None) == "<url>"


def test_references_parse_to_one_record() -> None:
    assert parse_ref("flights") == Ref("flights")
    assert parse_ref("flights/3") == Ref("flights", version=3)
    assert parse_ref("delay@champion") == Ref("delay", alias="champion")
    assert str(parse_ref("delay@champion")) == "delay@champion"
    assert str(parse_ref("flights/3", "dataset", aliases=False)) == "flights/3"


@pytest.mark.parametrize(
    ("ref", "kind", "aliases", "error", "match"),
    [
        (3, "model", True, InvalidValueError, r"model reference must be a string .* got int 3"),
        ("m/0", "model", True, InvalidValueError, r"version after '/' must be a positive"),
        ("m/x", "model", True, InvalidValueError, r"got 'x'"),
        ("m@", "model", True, InvalidValueError, r"alias after '@' is empty"),
        ("m@3", "model", True, InvalidNameError, r"alias '3' is a number"),
        ("m/1@a", "model", True, InvalidValueError, r"more than one"),
        ("../etc", "dataset", False, InvalidNameError, r"dataset reference '\.\./etc'"),
        ("d@champion", "dataset", False, InvalidNameError, r"expected 'name' or 'name/3'"),
    ],
)
def test_bad_references_name_the_kind_and_the_expected_forms(
    ref: object, kind: str, aliases: bool, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        parse_ref(ref, kind, aliases=aliases)


def test_a_session_honours_its_limits_and_cleans_up() -> None:
    with duckdb_session(DuckLimits(memory_limit="256MB", threads=1)) as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
        threads = con.execute("SELECT current_setting('threads')").fetchone()
        zone = con.execute("SELECT current_setting('TimeZone')").fetchone()
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()
    assert limit is not None
    assert limit[0].replace(" ", "").upper().startswith("244")
    assert threads == (1,)
    assert zone == ("UTC",)
    assert spill is not None
    import pathlib

    assert not pathlib.Path(spill[0]).parent.exists()
