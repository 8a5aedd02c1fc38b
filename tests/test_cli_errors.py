"""The CLI maps errors inside the Typer app: ``CliRunner`` sees what a user sees.

A weekend error is ``error: <message>`` on stderr and the exit code of its class; anything
else is ``internal error`` and exit 1, its traceback logged once (shown with ``--debug`` or
``WEEKEND_DEBUG=1``); click's own usage errors and ``typer.Exit`` pass through unchanged."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from weekend.cli import app
from weekend.cli._common import DEBUG_ENV, EXIT_CODES, WeekendGroup, exit_code_for
from weekend.core import errors
from weekend.core.errors import WeekendError

runner = CliRunner()


def _app_raising(exc: BaseException) -> typer.Typer:
    """A Typer app on weekend's root group whose one command raises ``exc``."""
    test_app = typer.Typer(cls=WeekendGroup, pretty_exceptions_enable=False)

    @test_app.callback()
    def root(ctx: typer.Context, debug: bool = typer.Option(False, "--debug")) -> None:
        ctx.meta["weekend.debug"] = debug

    @test_app.command()
    def fail() -> None:
        raise exc

    return test_app


def test_the_weekend_command_maps_errors_inside_the_app() -> None:
    assert isinstance(get_command(app), WeekendGroup)


def test_a_user_input_error_is_one_line_and_exit_2(project: Path) -> None:
    result = runner.invoke(app, ["models", "show", "a/b/c", "-p", str(project)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "'a/b/c'" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_a_missing_thing_is_exit_1(project: Path) -> None:
    result = runner.invoke(app, ["features", "show", "nope", "-p", str(project)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "'nope' does not exist" in result.stderr


def test_every_error_class_has_an_exit_code() -> None:
    listed = [getattr(errors, name) for name in errors.__all__]
    for cls in listed:
        code = exit_code_for(cls("x") if cls is not errors.FilterSyntaxError else cls("x", "", 0))
        assert code == (2 if issubclass(cls, errors.UserInputError) else 1), cls
    assert dict(EXIT_CODES) == {errors.UserInputError: 2, errors.WeekendError: 1}


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.InvalidValueError("step must be an integer, got 'x'"), 2),
        (errors.DataValidationError("column 'a' must be float64"), 2),
        (errors.NotFoundError("model 'm' does not exist"), 1),
        (errors.ConflictError("run r1 is finished"), 1),
        (errors.ConfigurationError("redis is unreachable"), 1),
        (errors.IntegrityError("blob ab12 does not match its hash"), 1),
        (errors.UnsafeModelError("pass trusted=True"), 1),
        (errors.UserCodeError("your function raised"), 1),
        (WeekendError("anything else"), 1),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_class_gets_its_code_and_its_message(exc: WeekendError, code: int) -> None:
    result = runner.invoke(_app_raising(exc), ["fail"])
    assert result.exit_code == code
    assert result.stderr == f"error: {exc}\n"
    assert result.stdout == ""


def test_markup_in_a_message_is_printed_as_text() -> None:
    result = runner.invoke(_app_raising(errors.InvalidNameError("bad name '[b]x[/b]'")), ["fail"])
    assert result.stderr == "error: bad name '[b]x[/b]'\n"


def test_an_unexpected_error_is_an_internal_error_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="weekend.cli")
    result = runner.invoke(_app_raising(ZeroDivisionError("division by zero")), ["fail"])
    assert result.exit_code == 1
    assert result.stderr.startswith("internal error: ZeroDivisionError: division by zero")
    assert f"run again with --debug or {DEBUG_ENV}=1 for the traceback" in result.stderr
    assert "Traceback" not in result.output
    [record] = [r for r in caplog.records if r.exc_info]
    assert (record.name, record.levelno) == ("weekend.cli", logging.DEBUG)
    assert record.exc_info is not None
    assert record.exc_info[0] is ZeroDivisionError


@pytest.mark.parametrize("how", ["--debug", "env"])
def test_debug_logs_the_traceback_at_error(caplog: pytest.LogCaptureFixture, how: str) -> None:
    caplog.set_level(logging.DEBUG, logger="weekend.cli")
    failing = _app_raising(KeyError("k"))
    if how == "--debug":
        result = runner.invoke(failing, ["--debug", "fail"])
    else:
        result = runner.invoke(failing, ["fail"], env={DEBUG_ENV: "1"})
    assert result.exit_code == 1
    assert result.stderr.startswith("internal error: KeyError: 'k'")
    assert "--debug" not in result.stderr
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.levelno == logging.ERROR


def test_debug_shows_the_traceback_once_on_stderr(tmp_path: Path) -> None:
    script = tmp_path / "failing.py"
    script.write_text(
        textwrap.dedent(
            """
            import typer
            from weekend.cli._common import WeekendGroup

            app = typer.Typer(cls=WeekendGroup, pretty_exceptions_enable=False)

            @app.callback()
            def root() -> None:
                pass

            @app.command()
            def fail() -> None:
                {}["missing"]

            app()
            """
        )
    )
    quiet = subprocess.run(
        [sys.executable, str(script), "fail"], capture_output=True, text=True, timeout=60
    )
    assert quiet.returncode == 1
    assert "Traceback" not in quiet.stderr
    assert "internal error: KeyError: 'missing'" in quiet.stderr
    loud = subprocess.run(
        [sys.executable, str(script), "fail"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", DEBUG_ENV: "1"},
    )
    assert loud.returncode == 1
    assert loud.stderr.count("Traceback (most recent call last)") == 1
    assert "internal error in 'failing.py fail'" in loud.stderr


def test_click_usage_errors_and_exits_pass_through(project: Path) -> None:
    unknown = runner.invoke(app, ["no-such-command"])
    assert unknown.exit_code == 2
    assert "No such command" in unknown.output
    missing = runner.invoke(app, ["models", "show"])
    assert missing.exit_code == 2
    assert "Missing argument" in missing.output
    assert runner.invoke(_app_raising(typer.Exit(3)), ["fail"]).exit_code == 3
    assert runner.invoke(app, ["--debug", "version"]).exit_code == 0
