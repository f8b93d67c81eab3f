"""The config file: where it is found, how it is checked, and its place in the precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from sirocco import config, errors
from sirocco.cli.config import masked
from sirocco.settings import Settings

EXAMPLE = """
[database]
url = "postgresql://sirocco:hunter2@db.example.org/sirocco"

[transport]
url = "amqp://guest:guest@rabbit:5672//"

[executor]
workers = 8
target = "gpu"

[heartbeat]
interval = 2
max_missed = 4
untaken_timeout = 600

[limits]
expression_timeout = 5
max_executions_in_flight = 500

[auth]
mode = "tokens"

[expiration]
older_than = 1440
ignored_states = ["CANCELLED"]
export = "/var/lib/sirocco/expired.jsonl"

[[expiration.rules]]
state = "ERROR"
older_than = 10080

[[expiration.rules]]
workflow = "nightly_*"
older_than = 60

[logging]
level = "INFO"
format = "json"
secret_keys = ["password", "token", "apikey"]
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sirocco.toml"
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(errors.ConfigurationError) as raised:
        config.read(_file(tmp_path, text))
    return raised.value.message


def test_every_setting_has_one_place_in_the_file() -> None:
    places = [config.place(name) for name in Settings.names()]
    assert len(set(places)) == len(places)
    assert config.place("db") == ("database", "url")
    assert config.place("heartbeat_interval") == ("heartbeat", "interval")
    assert config.place("field_size_limit_kb") == ("limits", "field_size_limit_kb")
    assert config.place("log_format") == ("logging", "format")
    assert config.place("event_definitions") == ("events", "definitions")
    assert config.place("events_broker") == ("events", "broker")


def test_the_example_gives_typed_settings(tmp_path: Path) -> None:
    found = config.read(_file(tmp_path, EXAMPLE))
    environ: dict[str, str] = {}
    applied = config.apply(found, environ)
    assert "SIROCCO_DB" in applied and len(applied) == len(found.values)
    settings = Settings.load(environ={**environ})
    assert settings.db == "postgresql://sirocco:hunter2@db.example.org/sirocco"
    assert settings.transport == "amqp://guest:guest@rabbit:5672//"
    assert (settings.executor_workers, settings.executor_target) == (8, "gpu")
    assert (settings.heartbeat_interval, settings.heartbeat_max_missed) == (2.0, 4)
    assert settings.heartbeat_untaken_timeout == 600.0
    assert settings.limits().expression_timeout == 5.0
    assert settings.max_executions_in_flight == 500
    assert settings.auth == "tokens"
    assert (settings.log_level, settings.log_format) == ("INFO", "json")
    assert settings.secret_keys == "password,token,apikey"
    policy = settings.expiration_policy()
    assert policy.older_than.total_seconds() == 1440 * 60
    assert list(policy.ignored_states) == ["CANCELLED"]
    rules = [(rule.workflow, rule.state, rule.older_than.total_seconds()) for rule in policy.rules]
    assert rules == [(None, "ERROR", 10080 * 60), ("nightly_*", None, 3600)]
    assert settings.expiration_export == "/var/lib/sirocco/expired.jsonl"


def test_precedence_flags_then_environment_then_file_then_defaults(tmp_path: Path) -> None:
    found = config.read(_file(tmp_path, "[executor]\nworkers = 8\ntarget = 'gpu'\n"))
    environ = {"SIROCCO_EXECUTOR_WORKERS": "4", "SIROCCO_HEALTH_PORT": "9100"}
    rows = {row.name: row for row in config.effective(found, environ, {"health_port": 9200})}
    assert (rows["health_port"].value, rows["health_port"].origin) == (9200, "flag")
    assert rows["executor_workers"].value == 4
    assert rows["executor_workers"].origin == "environment SIROCCO_EXECUTOR_WORKERS"
    assert rows["executor_target"].value == "gpu"
    assert rows["executor_target"].origin == f"{found.path} [executor] target"
    assert (rows["claim_seconds"].value, rows["claim_seconds"].origin) == (60.0, "default")
    # apply() leaves a variable that is set alone: the environment wins.
    environ_after = dict(environ)
    assert config.apply(found, environ_after) == ["SIROCCO_EXECUTOR_TARGET"]
    assert environ_after["SIROCCO_EXECUTOR_WORKERS"] == "4"


def test_unknown_sections_and_keys_are_named_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sirocco.toml"
    unknown = _error(tmp_path, "[executer]\nworkers = 2\n")
    assert unknown.startswith(f"{path}: unknown section [executer] (known: ")
    assert ", executor, expiration, " in unknown
    assert _error(tmp_path, "[executor]\nwokers = 2\n") == (
        f"{path}: unknown key 'wokers' in [executor] (known: target, workers)"
    )
    assert _error(tmp_path, "workers = 2\n").startswith(f"{path}: 'workers' must be a [section]")
    assert _error(tmp_path, "[[expiration.rules]]\nstate = 'ERROR'\nolder = 3\n") == (
        f"{path}: [expiration] rules #1: unknown key 'older' (known: workflow, state, older_than)"
    )


def test_wrong_types_and_bounds_are_named_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sirocco.toml"
    assert _error(tmp_path, "[executor]\nworkers = '8'\n") == (
        f"{path}: [executor] workers: Input should be an integer, not str '8'"
    )
    assert _error(tmp_path, "[executor]\nworkers = true\n") == (
        f"{path}: [executor] workers: Input should be an integer, not bool True"
    )
    assert _error(tmp_path, "[executor]\nworkers = 0\n") == (
        f"{path}: [executor] workers: Input should be greater than or equal to 1"
    )
    assert _error(tmp_path, "[heartbeat]\ninterval = 'often'\n") == (
        f"{path}: [heartbeat] interval: Input should be a number, not str 'often'"
    )
    assert config.read(_file(tmp_path, "[logging]\nlevel = 'info'\n")).values == {
        "log_level": "INFO"
    }
    assert _error(tmp_path, "[logging]\nformat = 'xml'\n") == (
        f"{path}: [logging] format: Input should be one of 'text', 'json', not str 'xml'"
    )
    assert _error(tmp_path, "[database]\nurl = 5\n") == (
        f"{path}: [database] url: Input should be a string, not int 5"
    )
    assert "rule 1 (state=RUNNING,older_than=5): state should be one of" in _error(
        tmp_path, "[[expiration.rules]]\nstate = 'RUNNING'\nolder_than = 5\n"
    )
    assert _error(tmp_path, "[database\n").startswith(f"{path}: not valid TOML: ")


def test_where_the_file_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert config.locate(None, {}) is None
    (tmp_path / "sirocco.toml").write_text("")
    other = tmp_path / "other.toml"
    other.write_text("")
    assert config.locate(None, {}) == Path("sirocco.toml")
    assert config.locate(None, {"SIROCCO_CONFIG": str(other)}) == other
    assert config.locate(str(other), {"SIROCCO_CONFIG": "elsewhere.toml"}) == other
    with pytest.raises(errors.ConfigurationError, match=r"config file missing\.toml not found"):
        config.locate(None, {"SIROCCO_CONFIG": "missing.toml"})


def test_rules_in_the_variable_are_checked() -> None:
    rules = "state=ERROR,older_than=10080;workflow=nightly_*,state=SUCCESS,older_than=5"
    settings = Settings.load(environ={"SIROCCO_EXPIRATION_RULES": rules})
    found = [(rule.workflow, rule.state) for rule in settings.expiration_policy().rules]
    assert found == [(None, "ERROR"), ("nightly_*", "SUCCESS")]
    for wrong, words in [
        ("state=ERROR", "a rule needs older_than"),
        ("older_than=5", "a rule needs older_than and a workflow, a state or both"),
        ("state=ERROR,older_than=-1", "older_than should be minutes"),
        ("state=ERROR,older_than=soon", "older_than should be minutes"),
        ("state=ERROR,age=5", "expected workflow=..., state=..., older_than=..., not 'age=5'"),
    ]:
        with pytest.raises(errors.ConfigurationError, match=words):
            Settings.load(environ={"SIROCCO_EXPIRATION_RULES": wrong})


def test_config_show_masks_secrets() -> None:
    parts = ("password", "token", "secret", "auth")
    assert masked("db", "postgresql://me:hunter2@db/x", parts) == "postgresql://me:***@db/x"
    assert masked("transport", "amqp://guest:guest@rabbit//", parts) == "amqp://guest:***@rabbit//"
    assert masked("db", "postgresql://db/x?password=hunter2", parts) == (
        "postgresql://db/x?password=***"
    )
    assert masked("auth", "tokens", parts) == "tokens"
    assert masked("secret_keys", "password,token", parts) == "password,token"
    assert masked("oidc_client_secret", "abc", parts) == "***"
    assert masked("executor_workers", 8, parts) == 8


def test_the_example_of_docs_running_md_is_a_valid_file(tmp_path: Path) -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "running.md"
    text = page.read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    found = config.read(_file(tmp_path, example))
    environ: dict[str, str] = {}
    config.apply(found, environ)
    settings = Settings.load(environ=environ)
    assert settings.log_format == "json" and settings.executor_workers == 16
    assert len(settings.expiration_policy().rules) == 2


def test_choices_are_read_in_any_case_as_on_the_command_line() -> None:
    settings = Settings.load(environ={"SIROCCO_LOG_LEVEL": "info", "SIROCCO_AUTH": "Tokens"})
    assert (settings.log_level, settings.auth) == ("INFO", "tokens")
