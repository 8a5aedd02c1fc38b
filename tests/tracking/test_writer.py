"""Values the catalog cannot hold are refused at the call; the background writer cannot be
poisoned by a record that slips through anyway. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import weekend as wk
from weekend.core.errors import ConflictError, InvalidNameError, InvalidValueError, NotFoundError
from weekend.tracking.runs import Run
from weekend.workspace import Workspace

INT64 = "64-bit signed integer"


@pytest.fixture
def ws(ws_any: Workspace) -> Workspace:
    return ws_any


def test_purged_run_does_not_block_other_runs(project: Path) -> None:
    ws = wk.open(project)
    try:
        doomed = ws.runs.start("exp", system_info=False)
        alive = ws.runs.start("exp", system_info=False)
        ws.runs.flush()
        doomed.log_metric("x", 1.0)
        alive.log_metric("y", 2.0)
        ws.runs.delete(doomed.id, purge=True)
        with pytest.raises(ConflictError, match=f"{doomed.id}.*purged"):
            ws.runs.flush()
        alive.log_metric("y", 3.0)
        alive.end()
        record = ws.runs.get(alive.id)
        assert record.histories is not None
        assert [p.value for p in record.histories["y"]] == [2.0, 3.0]
        assert record.status == "finished"
    finally:
        ws.close()


# -- refused at the call --------------------------------------------------------------------------

Call = Callable[[Run], object]
REFUSED_AT_THE_CALL: list[tuple[str, Call, str]] = [
    (
        "step 2**63",
        lambda r: r.log_metric("m", 1.0, step=2**63),
        rf"step of metric 'm' must be a {INT64} \(-9223372036854775808 to "
        r"9223372036854775807\), got 9223372036854775808",
    ),
    (
        "step below -2**63",
        lambda r: r.log_metric("m", 1.0, step=-(2**63) - 1),
        rf"step of metric 'm' must be a {INT64} .*got -9223372036854775809",
    ),
    (
        "timestamp 1e30",
        lambda r: r.log_metric("m", 1.0, timestamp=1e30),
        r"timestamp of metric 'm' must be finite seconds since the epoch within "
        r"±9223372036854 .*got 1e\+30",
    ),
    (
        "timestamp NaN",
        lambda r: r.log_metric("m", 1.0, timestamp=math.nan),
        r"timestamp of metric 'm' must be finite .*got nan",
    ),
    (
        "timestamp -inf",
        lambda r: r.log_metric("m", 1.0, timestamp=-math.inf),
        r"timestamp of metric 'm' must be finite .*got -inf",
    ),
    (
        "value beyond a float",
        lambda r: r.log_metric("m", 10**400),
        r"metric 'm' must be a real number that fits a 64-bit float, got int 1000000",
    ),
    (
        "batch step 2**63",
        lambda r: r.log_batch([("m", 1.0, 0), ("m", 2.0, 2**63)]),
        rf"step of metric 'm' must be a {INT64} .*got 9223372036854775808",
    ),
    (
        "batch timestamp 1e30",
        lambda r: r.log_batch([("m", 1.0, 0, 1e30)]),
        r"timestamp of metric 'm' must be finite .*got 1e\+30",
    ),
    (
        "NUL in a param",
        lambda r: r.log_param("p", "a\x00b"),
        r"param 'p' must be text without NUL bytes \(the catalog cannot store them\), "
        r"got 'a\\x00b'",
    ),
    (
        "NUL in a batch param",
        lambda r: r.log_batch([("m", 1.0, 0)], params={"p": "a\x00"}),
        r"param 'p' must be text without NUL bytes .*got 'a\\x00'",
    ),
    (
        "NUL in a tag",
        lambda r: r.set_tag("t", "\x00"),
        r"tag 't' must be text without NUL bytes .*got '\\x00'",
    ),
    (
        "unpaired surrogate in a tag",
        lambda r: r.set_tags({"t": "ok", "u": "x\ud800"}),
        r"tag 'u' must be valid Unicode text \(encodable as UTF-8\), got 'x\\ud800'",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"),
    [case[1:] for case in REFUSED_AT_THE_CALL],
    ids=[case[0] for case in REFUSED_AT_THE_CALL],
)
def test_values_the_catalog_cannot_hold_are_refused_at_the_call(
    ws: Workspace, call: Call, message: str
) -> None:
    run = ws.runs.start("values", system_info=False)
    run.log_metric("m", 0.5, step=2**63 - 1)  # the limits themselves are fine
    run.log_metric("m", 0.25, step=-(2**63), timestamp=-1e12)
    with pytest.raises(InvalidValueError, match=message):
        call(run)
    run.end()  # nothing of the refused call reached the writer: the run ends cleanly
    record = ws.runs.get(run.id)
    assert record.status == "finished"
    assert record.params == {}
    assert record.tags == {}
    assert record.histories is not None
    assert [p.step for p in record.histories["m"]] == [-(2**63), 2**63 - 1]


def test_text_the_catalog_cannot_hold_is_refused_at_the_call(ws: Workspace) -> None:
    with pytest.raises(InvalidValueError, match=r"run name must be text without NUL bytes"):
        ws.runs.start("values", name="a\x00b")
    with pytest.raises(InvalidValueError, match=r"param 'p' must be text without NUL bytes"):
        ws.runs.start("values", params={"p": "\x00"})
    with pytest.raises(InvalidValueError, match=r"tag 't' must be valid Unicode text"):
        ws.runs.start("values", tags={"t": "\udcff"})
    with pytest.raises(
        InvalidValueError, match=r"experiment description must be text without NUL bytes"
    ):
        ws.experiments.create("values", description="about\x00")
    with pytest.raises(InvalidNameError, match="metric key"):
        ws.runs.start("values", system_info=False).log_metric("a\x00b", 1.0)
    # Looking up what cannot exist is a plain NotFoundError (PostgreSQL cannot even be asked).
    for lookup in (ws.runs.get, ws.runs.artifacts, ws.runs.resume):
        with pytest.raises(NotFoundError, match=r"run 'a\\x00b' does not exist"):
            lookup("a\x00b")
    with pytest.raises(NotFoundError, match=r"run 'a\\x00b' does not exist"):
        ws.runs.delete(["a\x00b"])
    with pytest.raises(InvalidValueError, match=r"filter must be text without NUL bytes"):
        ws.runs.search("params.p = 'a\x00'")
    # Nothing was created by the refused calls but the experiment of the last start.
    assert [(e.name, e.description, e.runs) for e in ws.experiments.list()] == [("values", None, 1)]


def test_an_exception_message_with_nul_still_ends_the_run(ws: Workspace) -> None:
    """The error text of a failed run comes from the exception: it is cleaned, not refused."""
    with pytest.raises(ValueError, match="bad"), ws.runs.start("values") as run:
        raise ValueError("bad\x00byte \udcff")
    record = ws.runs.get(run.id)
    assert record.status == "failed"
    assert record.error == "ValueError: bad\ufffdbyte \ufffd"


# -- the writer cannot be poisoned ---------------------------------------------------------------


def _steps(ws: Workspace, run_id: str, key: str) -> list[int]:
    return [p.step for p in ws.runs.metric_history(run_id, key)]


def test_a_record_the_database_refuses_costs_no_other_record(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """Records that slip past validation (put straight into the writer's queue here) are
    isolated, reported on their own run and dropped; everything else is written."""
    good = ws.runs.start("poison", name="good", system_info=False)
    bad = ws.runs.start("poison", name="bad", system_info=False)
    ws.runs.flush()
    for step in range(100):
        good.log_metric("loss", float(step))
    for step in range(10):
        bad.log_metric("loss", float(step))
    writer = ws.runs._writer
    ts = 1_700_000_000_000_000
    writer.add_point((bad.id, "loss", 2**63, ts, 1.0))  # too big for any BIGINT
    writer.add_tags([(bad.id, "note", "\ud800"), (good.id, "note", "fine")])  # not UTF-8
    refused = 2
    if ws.catalog.dialect == "postgresql":  # SQLite stores NUL; PostgreSQL refuses it
        writer.add_params([(bad.id, "p", "a\x00b"), (good.id, "p", "ok")])
        refused += 1
    else:
        writer.add_params([(good.id, "p", "ok")])
    for step in range(100, 200):
        good.log_metric("loss", float(step))
    bad.log_metric("loss", 10.0)

    with caplog.at_level(logging.WARNING, logger="weekend.tracking"):
        ws.runs.flush()  # the refused records are not an error of whoever flushes
    warnings = [r.getMessage() for r in caplog.records if r.name == "weekend.tracking"]
    assert len(warnings) == refused
    assert all(bad.id in w and "dropped" in w for w in warnings)
    assert any("metric 'loss' step 9223372036854775808" in w for w in warnings)
    assert any("tag 'note'" in w for w in warnings)
    assert writer.pending() == 0  # nothing is kept to be retried forever

    assert _steps(ws, good.id, "loss") == list(range(200))
    assert _steps(ws, bad.id, "loss") == list(range(11))
    assert len(bad.dropped) == refused
    assert bad.dropped[0].startswith("metric 'loss' step 9223372036854775808")
    assert good.dropped == []
    good.end()
    bad.end()
    record = ws.runs.get(bad.id)
    assert record.status == "finished"
    assert record.tags == {"weekend.dropped": str(refused)}
    assert record.params == {}
    record = ws.runs.get(good.id)
    assert (record.status, record.params) == ("finished", {"p": "ok"})
    assert record.tags == {"note": "fine"}

    # Later runs of the same process are unaffected.
    with ws.runs.start("poison", name="later", params={"lr": 0.1}) as later:
        later.log_metric("auc", 0.9)
    record = ws.runs.get(later.id)
    assert (record.status, record.metrics) == ("finished", {"auc": 0.9})
    assert record.params == {"lr": "0.1"}


def test_the_background_thread_isolates_a_refused_record(ws: Workspace) -> None:
    """The same without an explicit flush: the writer's own thread meets the bad record."""
    run = ws.runs.start("poison", system_info=False)
    ws.runs.flush()
    run._writer.add_point((run.id, "loss", -(2**63) - 1, 1, 1.0))
    for step in range(50):
        run.log_metric("loss", float(step))
    for _ in range(2000):  # the thread writes every half second; wait for it, not for a time
        if run.dropped and run._writer.pending() == 0:
            break
        time.sleep(0.01)
    assert run.dropped
    assert "step -9223372036854775809" in run.dropped[0]
    run.end()
    assert _steps(ws, run.id, "loss") == list(range(50))
    assert ws.runs.get(run.id).tags["weekend.dropped"] == "1"
