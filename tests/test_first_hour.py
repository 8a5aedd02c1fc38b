"""The first hour of a newcomer, from the README's own words.

* The README's shell session ("The first hour: your own CSV, from the shell") runs as written:
  every ``weekend`` line through the real command (in process, ``CliRunner``), every file it
  writes with ``cat > file <<'EOF'``, every ``python file.py`` with the SDK.
* Only ``weekend init`` creates a project: every other command refuses a folder without one.
* The commands the README and the demo print for "where to look next" run as printed.
* A refused promotion speaks the command line's options to a command-line user.
"""

from __future__ import annotations

import os
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import weekend as wk
from weekend.cli import app
from weekend.core.errors import ConflictError, NotFoundError

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
runner = CliRunner()


# -- a very small shell: what the README's session uses, and nothing else -----------------------


def session_lines(heading: str) -> list[str]:
    """The ```bash block under ``heading``, one command per line (``\\`` lines joined)."""
    section = README.split(heading, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^```bash\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert block is not None, f"no ```bash block under {heading!r}"
    return block.group(1).replace("\\\n", " ").splitlines()


def run_session(lines: list[str], transcript: list[tuple[str, str]]) -> None:
    """Run the session in the current folder; fail on any command it does not know."""
    pending = iter(lines)
    for line in pending:
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[:2] == ["cat", ">"] and words[3:] == ["<<EOF"]:  # cat > file <<'EOF' ... EOF
            body = []
            for text in pending:
                if text == "EOF":
                    break
                body.append(text)
            Path(words[2]).write_text("\n".join(body) + "\n", encoding="utf-8")
            continue
        commands: list[list[str]] = [[]]
        for word in words:
            if word == "&&":
                commands.append([])
            else:
                commands[-1].append(word)
        for command in commands:
            transcript.append((" ".join(command), run_one(command)))


def run_one(command: list[str]) -> str:
    name, *args = command
    if name == "source":  # the README activates the virtual environment `make` created
        assert args == [".venv/bin/activate"], args
        return ""
    if name == "cd":
        os.chdir(args[0])
        return ""
    if name == "python":
        runpy.run_path(args[0], run_name="__main__")
        return ""
    assert name == "weekend", f"the README's session uses {name!r}, which this test cannot run"
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (command, result.output)
    return result.stdout


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WEEKEND_")]:
        if name != "WEEKEND_REQUIRE_SERVICES":
            monkeypatch.delenv(name)
    return tmp_path


@pytest.mark.slow
def test_the_first_hour_runs_as_written(in_tmp: Path) -> None:
    transcript: list[tuple[str, str]] = []
    run_session(session_lines("## The first hour: your own CSV, from the shell"), transcript)
    said = dict(transcript)
    project = in_tmp / "clinic"
    assert Path.cwd() == project
    ws = wk.open(project)
    try:
        # CSV -> dataset -> features -> training set
        assert ws.datasets.get("patients/1").num_rows == 569
        train = ws.datasets.get("cancer-train/1")
        assert train.num_rows == 400
        assert train.lineage["feature_views"] == {"vitals": 1}
        assert "mean radius" in train.to_pandas().columns  # the CSV's own column names
        holdout = pd.read_parquet(project / "holdout.parquet")
        assert len(holdout) == 100
        assert holdout["worst smoothness"].notna().all()
        # runs, listed as the README lists them
        listed = said["weekend runs list -e cancer"].splitlines()
        assert listed[0].split("\t")[:5] == ["run", "experiment", "name", "status", "started"]
        assert sorted(line.split("\t")[2] for line in listed[1:]) == ["baseline", "logistic"]
        # the champion, then a gated promotion
        moves = ws.models.alias_history("cancer", "champion")
        assert [(m.action, m.to_version, m.forced) for m in moves] == [
            ("set", 1, False),
            ("promote", 2, False),
        ]
        assert "BLESSED" in said["weekend models evaluate cancer/2 --data holdout.parquet "
                                 "--label malignant --baseline champion --gate auc >= 0.9 "
                                 "--gate auc >= baseline.auc"]  # fmt: skip
        # batch prediction of the new patients' CSV
        scored = pd.read_parquet(project / "scored.parquet")
        assert len(scored) == 69
        assert set(scored["model_version"]) == {"cancer/2"}
        assert {"prediction", "proba_0", "proba_1"} <= set(scored.columns)
    finally:
        ws.close()


# -- no project, no silent creation ---------------------------------------------------------------

EXTRA_ARGS = {"features training-set": ["--output", "out.parquet"]}


def every_command() -> list[tuple[str, Any]]:
    found = []

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found.append((" ".join(path), command))

    walk(typer.main.get_command(app), [])
    return found


def arguments(command: Any) -> list[str]:
    """Plausible values for the required arguments and options of ``command``."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        descriptor = getattr(param, "type_descriptor", None)  # typer's own parameters
        kind = getattr(descriptor, "annotation", None) or getattr(param, "type", None)
        value = "1" if kind is int or "int" in str(kind).lower() else "abcdef"
        if param.param_type_name == "option":
            args += [param.opts[0], value]
        else:
            args += [value] * max(param.nargs, 1)
    return args


@pytest.mark.parametrize(
    ("name", "command"),
    [(n, c) for n, c in every_command() if n not in ("init", "version")],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_command_but_init_refuses_a_folder_without_a_project(
    in_tmp: Path, name: str, command: Any
) -> None:
    empty = in_tmp / "no-project-here"
    empty.mkdir()
    args = [*name.split(), *arguments(command), *EXTRA_ARGS.get(name, [])]
    assert any("--project" in p.opts for p in command.params), f"{name} takes no --project"
    for how, extra in (("-p", ["-p", str(empty)]), ("cwd", [])):
        os.chdir(empty if how == "cwd" else in_tmp)
        result = runner.invoke(app, [*args, *extra])
        message = " ".join(result.stderr.split())
        assert result.exit_code == 1, (how, result.output)
        assert f"no weekend project found at or above '{empty}'" in message, message
        assert "create one with `weekend init`" in message
        assert list(empty.iterdir()) == []  # nothing written, no project created
    assert sorted(p.name for p in in_tmp.iterdir()) == ["no-project-here"]


def test_the_sdk_refuses_too_and_init_creates(in_tmp: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no weekend project found at or above .*wk\.init"):
        wk.open(in_tmp)
    assert list(in_tmp.iterdir()) == []
    result = runner.invoke(app, ["init", "made"])
    assert result.exit_code == 0, result.output
    assert (in_tmp / "made" / "weekend.toml").is_file()
    listed = runner.invoke(app, ["runs", "list", "-p", "made"])
    assert (listed.exit_code, listed.stdout) == (0, "run\texperiment\tname\tstatus\tstarted\n")


# -- "where to look next" runs as printed ---------------------------------------------------------


def weekend_script() -> Path:
    script = Path(sys.executable).parent / "weekend"
    if not script.is_file():
        pytest.skip(f"no weekend command beside {sys.executable} (installed without scripts?)")
    return script


def small_demo_project(root: Path) -> None:
    """What the demo's closing commands read: flights/1..7, a champion, a run, a view."""
    from sklearn.dummy import DummyClassifier

    ws = wk.init(root)
    try:
        for month in range(1, 8):
            frame = pd.DataFrame(
                {"flight": [1, 2, 3], "month": month, "dep_delay": [1.0, 2.0, 3.0]}
            )
            ws.datasets.register("flights", frame)
        x = pd.DataFrame({"distance": [100.0, 200.0, 300.0, 400.0]})
        with ws.runs.start("flight-delay", name="baseline") as run:
            run.log_metric("auc", 0.5)
            version = run.log_model(DummyClassifier().fit(x, [0, 1, 0, 1]), "flight-delay",
                                    input_example=x)  # fmt: skip
        ws.models.set_alias("flight-delay", version.version, "champion")
    finally:
        ws.close()


def test_the_demo_prints_next_steps_that_run(in_tmp: Path) -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import flights_demo
    finally:
        sys.path.remove(str(ROOT / "examples"))
    script = weekend_script()
    small_demo_project(in_tmp / "demo output")  # a space: the printed path must be quoted
    commands = flights_demo.next_steps(Path("demo output"))
    assert len(commands) == 5
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "weekend" or Path(words[0]).samefile(script), command
        done = subprocess.run(words, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "error" not in done.stderr
    assert (
        "flight-delay"
        in subprocess.run(
            shlex.split(commands[0]), capture_output=True, text=True, timeout=120, check=True
        ).stdout
    )


def test_the_readme_look_at_it_command_runs_as_written(in_tmp: Path) -> None:
    block = README.split("look at it with", 1)[1]
    command = re.search(r"```bash\n(.*?)\n```", block, flags=re.DOTALL)
    assert command is not None
    assert command.group(1) == ".venv/bin/weekend runs list -p demo-output"
    script = weekend_script()
    (in_tmp / ".venv").symlink_to(script.parent.parent, target_is_directory=True)
    small_demo_project(in_tmp / "demo-output")
    done = subprocess.run(
        shlex.split(command.group(1)), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "flight-delay\tbaseline\tfinished" in done.stdout


# -- a refused promotion, in the caller's words ---------------------------------------------------


def test_a_refused_promotion_names_the_cli_options(in_tmp: Path) -> None:
    from sklearn.dummy import DummyClassifier

    x = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    with wk.init(in_tmp) as ws:
        for strategy in ("prior", "uniform"):
            model = DummyClassifier(strategy=strategy).fit(x, [0, 1, 0, 1])
            ws.models.register(model, "m", input_example=x)
        ws.models.set_alias("m", 1, "champion")
        with pytest.raises(ConflictError, match=r"m/2 has no evaluation.*pass force=True with"):
            ws.models.promote("m", 2)
    refused = runner.invoke(app, ["models", "promote", "m", "2"])
    message = " ".join(refused.stderr.split())
    assert refused.exit_code == 1
    assert "error: cannot promote m/2 to 'champion': m/2 has no evaluation." in message
    assert "weekend models evaluate m/2 --data FILE --label COLUMN --gate" in message
    assert "or pass --force --reason '...'" in message
    assert "force=True" not in message
    no_reason = runner.invoke(app, ["models", "promote", "m", "2", "--force"])
    assert no_reason.exit_code == 2
    assert "--force needs --reason" in no_reason.stderr
    forced = runner.invoke(app, ["models", "promote", "m", "2", "--force", "-r", "hotfix"])
    assert forced.exit_code == 0, forced.output
    with wk.open(in_tmp) as ws:
        assert ws.models.aliases("m") == {"champion": 2}
        assert ws.models.alias_history("m", "champion")[-1].forced
