"""Core: names, settings (file, defaults, ``WEEKEND_*`` overrides), ``find_root``, init."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import weekend as wk
from weekend.core.errors import (
    ConfigurationError,
    InvalidNameError,
    UserInputError,
    WeekendError,
)
from weekend.core.hashing import is_sha256, sha256_bytes, sha256_chunks, sha256_file
from weekend.core.ids import new_id, now_ms, now_us
from weekend.core.names import (
    MAX_ARTIFACT_NAME,
    MAX_KEY,
    MAX_NAME,
    validate_artifact_name,
    validate_key,
    validate_name,
)
from weekend.core.settings import (
    CONFIG_FILE,
    DEFAULTS,
    STATE_DIR,
    find_root,
    init_project,
    load_settings,
)

# -- names --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["churn", "a", "Churn-2024_v1.2", "x" * MAX_NAME, "0abc"])
def test_valid_names_pass_unchanged(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "must have 1 to 128 characters, got 0"),
        ("x" * (MAX_NAME + 1), "must have 1 to 128 characters, got 129"),
        ("../etc", "is not allowed"),
        ("a..b", "no '..'"),
        ("a/b", "is not allowed"),
        ("a\\b", "is not allowed"),
        ("-leading", "starting with a letter or digit"),
        (".hidden", "starting with a letter or digit"),
        ("with space", "is not allowed"),
        ("nul\x00", "is not allowed"),
    ],
)
def test_invalid_names_are_rejected_with_a_clear_message(name: str, message: str) -> None:
    with pytest.raises(InvalidNameError, match=message) as info:
        validate_name(name, "experiment name")
    assert str(info.value).startswith("experiment name")


def test_name_must_be_a_string() -> None:
    with pytest.raises(InvalidNameError, match="model name must be a string, got int 42"):
        validate_name(42, "model name")


def test_invalid_name_error_is_a_user_input_error_and_a_value_error() -> None:
    with pytest.raises(ValueError, match="is not allowed"):
        validate_name("a b")
    assert issubclass(InvalidNameError, UserInputError)
    assert issubclass(InvalidNameError, WeekendError)


@pytest.mark.parametrize("key", ["loss", "val/loss", "train:acc", "metric with space", "a.b-c_d"])
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must have 1 to 250 characters"),
        ("k" * (MAX_KEY + 1), "must have 1 to 250 characters, got 251"),
        (" padded", "is not allowed"),
        ("padded ", "is not allowed"),
        ("semi;colon", "is not allowed"),
        ("tab\there", "is not allowed"),
        ("newline\n", "is not allowed"),
    ],
)
def test_invalid_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidNameError, match=message):
        validate_key(key, "metric key")


def test_key_must_be_a_string() -> None:
    with pytest.raises(InvalidNameError, match="param key must be a string, got NoneType"):
        validate_key(None, "param key")


@pytest.mark.parametrize(
    "name", ["model.skops", "plots/roc.png", "a/b/c d+e=f,g@h.txt", "x" * MAX_ARTIFACT_NAME]
)
def test_valid_artifact_names(name: str) -> None:
    assert validate_artifact_name(name) == name


# The full table of rejected artifact names lives in test_artifacts.py.
def test_artifact_name_must_be_a_string() -> None:
    with pytest.raises(InvalidNameError, match="artifact name must be a string, got bytes"):
        validate_artifact_name(b"model.bin")


# -- hashing and ids -----------------------------------------------------------------------


def test_hash_helpers_agree(tmp_path: Path) -> None:
    data = b"weekend" * 300_000  # larger than one chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    digest = sha256_bytes(data)
    assert sha256_file(path) == digest
    assert sha256_chunks([data[:5], data[5:]]) == digest
    assert is_sha256(digest)
    assert not is_sha256(digest.upper())
    assert not is_sha256(digest[:-1])


def test_ids_are_unique_hex_and_clocks_agree() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    ms, us = now_ms(), now_us()
    assert abs(us // 1000 - ms) < 60_000


# -- settings ------------------------------------------------------------------------------


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    assert settings.root == tmp_path.resolve()
    assert settings.catalog_url == f"sqlite:///{tmp_path.resolve()}/.weekend/catalog.db"
    assert settings.artifact_root == str(tmp_path.resolve() / ".weekend" / "artifacts")
    assert settings.online_store_url == f"sqlite:///{tmp_path.resolve()}/.weekend/online.db"
    assert settings.float("tracking", "heartbeat_timeout") == 60.0
    assert settings.state_dir == tmp_path.resolve() / STATE_DIR
    assert settings.get("executor", "kind") == "local"


def test_config_file_overrides_defaults(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        '[catalog]\nurl = "postgresql+psycopg://u@db/x"\n'
        '[artifacts]\nroot = "s3://bucket/prefix"\n'
        "[tracking]\nheartbeat_timeout = 5\n"
        '[custom]\nanswer = "42"\n',
        encoding="utf-8",
    )
    settings = load_settings(tmp_path, env={})
    assert settings.catalog_url == "postgresql+psycopg://u@db/x"
    assert settings.artifact_root == "s3://bucket/prefix"
    assert settings.float("tracking", "heartbeat_timeout") == 5.0
    # keys the file leaves out keep their defaults
    assert settings.float("tracking", "heartbeat_interval") == 10.0
    assert settings.get("custom", "answer") == "42"


def test_environment_overrides_file_and_defaults(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text('[catalog]\nurl = "sqlite:///from-file.db"\n')
    env = {
        "WEEKEND_CATALOG_URL": "sqlite:///from-env.db",
        "WEEKEND_ONLINE_STORE_URL": "redis://127.0.0.1:6379/3",
        "WEEKEND_ONLINE_STORE_KEY_PREFIX": "shop",
        "WEEKEND_TRACKING_HEARTBEAT_TIMEOUT": "0.5",
        "WEEKEND_REQUIRE_SERVICES": "1",  # a test switch, not a setting
        "OTHER_CATALOG_URL": "ignored",
    }
    settings = load_settings(tmp_path, env=env)
    assert settings.catalog_url == f"sqlite:///{tmp_path.resolve()}/from-env.db"
    assert settings.online_store_url == "redis://127.0.0.1:6379/3"
    assert settings.get("online_store", "key_prefix") == "shop"
    assert settings.float("tracking", "heartbeat_timeout") == 0.5
    assert "require" not in settings.values
    assert all("services" not in section for section in settings.values.values())


def test_process_environment_is_read_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEEKEND_EXECUTOR_KIND", "process")
    assert load_settings(tmp_path).get("executor", "kind") == "process"


def test_absolute_paths_and_memory_urls_are_kept(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "cat.db"
    env = {"WEEKEND_CATALOG_URL": f"sqlite:///{other}", "WEEKEND_ARTIFACTS_ROOT": "~/art"}
    settings = load_settings(tmp_path, env=env)
    assert settings.catalog_url == f"sqlite:///{other}"
    assert settings.artifact_root == str(Path("~/art").expanduser())
    memory = load_settings(tmp_path, env={"WEEKEND_CATALOG_URL": "sqlite:///:memory:"})
    assert memory.catalog_url == "sqlite:///:memory:"


def test_defaults_are_not_mutated_by_loading(tmp_path: Path) -> None:
    load_settings(tmp_path, env={"WEEKEND_CATALOG_URL": "sqlite:///changed.db"})
    assert DEFAULTS["catalog"]["url"] == "sqlite:///.weekend/catalog.db"


def test_invalid_toml_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("[catalog\nurl = 1\n")
    with pytest.raises(ConfigurationError, match=r"weekend\.toml is not valid TOML"):
        load_settings(tmp_path, env={})


def test_non_table_section_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text('catalog = "sqlite:///x.db"\n')
    with pytest.raises(ConfigurationError, match=r"\[catalog\] must be a table of settings"):
        load_settings(tmp_path, env={})


def test_missing_and_non_numeric_settings(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={"WEEKEND_TRACKING_HEARTBEAT_TIMEOUT": "soon"})
    with pytest.raises(
        ConfigurationError, match=r"\[tracking\] heartbeat_timeout must be a number"
    ):
        settings.float("tracking", "heartbeat_timeout")
    with pytest.raises(ConfigurationError, match=r"setting \[catalog\] nope is not defined"):
        settings.get("catalog", "nope")
    with pytest.raises(ConfigurationError, match=r"setting \[nosuch\] url is not defined"):
        settings.get("nosuch", "url")


# -- find_root and init ---------------------------------------------------------------------


def test_find_root_walks_upward_from_folders_and_files(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    deep = root / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)
    (root / CONFIG_FILE).write_text("")
    script = deep / "train.py"
    script.write_text("")
    assert find_root(deep) == root.resolve()
    assert find_root(script) == root.resolve()
    assert find_root(root) == root.resolve()


def test_find_root_stops_at_the_nearest_project(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    (inner / STATE_DIR).mkdir(parents=True)  # a bare .weekend/ folder marks a project too
    (outer / CONFIG_FILE).parent.mkdir(parents=True, exist_ok=True)
    (outer / CONFIG_FILE).write_text("")
    assert find_root(inner / "x") == inner.resolve()
    assert find_root(outer) == outer.resolve()


def test_find_root_is_none_outside_any_project(tmp_path: Path) -> None:
    if any((p / CONFIG_FILE).is_file() or (p / STATE_DIR).is_dir() for p in tmp_path.parents):
        pytest.skip("the temporary folder lies inside a weekend project")
    assert find_root(tmp_path) is None


def test_find_root_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_project(tmp_path / "p")
    (tmp_path / "p" / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "p" / "notebooks")
    assert find_root() == (tmp_path / "p").resolve()


def test_init_project_creates_config_state_and_gitignore(tmp_path: Path) -> None:
    root = init_project(tmp_path / "new" / "project")
    assert root == (tmp_path / "new" / "project").resolve()
    assert (root / STATE_DIR).is_dir()
    assert (root / STATE_DIR / ".gitignore").read_text() == "*\n"
    settings = load_settings(root, env={})  # the template parses and matches the defaults
    for section, values in DEFAULTS.items():
        for key, value in values.items():
            assert settings.get(section, key) == value, (section, key)


def test_init_project_keeps_an_existing_config(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text('[executor]\nkind = "ray"\n')
    init_project(tmp_path)
    init_project(tmp_path)  # twice is fine
    assert (tmp_path / CONFIG_FILE).read_text() == '[executor]\nkind = "ray"\n'
    assert load_settings(tmp_path, env={}).get("executor", "kind") == "ray"


def test_wk_init_and_open_find_the_same_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("WEEKEND_")]:
        monkeypatch.delenv(name)
    with wk.init(tmp_path / "proj") as ws:
        assert ws.root == (tmp_path / "proj").resolve()
        assert (ws.root / STATE_DIR / "catalog.db").is_file()
        assert "proj" in repr(ws)
    (tmp_path / "proj" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "proj" / "sub")
    with wk.open() as ws:
        assert ws.root == (tmp_path / "proj").resolve()


def test_wk_open_without_a_project_says_where_it_looked_and_creates_nothing(
    tmp_path: Path,
) -> None:
    if any((p / CONFIG_FILE).is_file() or (p / STATE_DIR).is_dir() for p in tmp_path.parents):
        pytest.skip("the temporary folder lies inside a weekend project")
    folder = tmp_path / "scratch"
    folder.mkdir()
    with pytest.raises(wk.NotFoundError, match=r"no weekend project found at or above .*scratch"):
        wk.open(folder)
    assert list(folder.iterdir()) == []


def test_a_mistyped_project_path_inside_a_project_opens_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from weekend.cli import app

    wk.init(tmp_path / "proj").close()
    monkeypatch.chdir(tmp_path / "proj")
    with pytest.raises(wk.NotFoundError, match=r"project folder 'typo' does not exist"):
        wk.open("typo")
    result = CliRunner().invoke(app, ["runs", "list", "-p", "typo"])
    assert result.exit_code == 1
    assert "project folder 'typo' does not exist" in result.stderr
    assert not (tmp_path / "proj" / "typo").exists()
