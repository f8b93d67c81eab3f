"""The config file through the command line: ``config show``, the precedence of flags,
variables and the file, a wrong file as one line, and JSON logs asked for by the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sirocco.cli.main import main
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
fine:
  tasks:
    only:
      action: std.noop
boom:
  tasks:
    bad:
      action: std.fail error_data="disk full"
"""


def test_config_show_names_each_value_and_its_origin(tmp_path: Path) -> None:
    path = tmp_path / "ops.toml"
    path.write_text(
        '[database]\nurl = "postgresql://sirocco:hunter2@db/sirocco"\n'
        "[executor]\nworkers = 8\ntarget = 'gpu'\n"
        "[[expiration.rules]]\nstate = 'ERROR'\nolder_than = 10080\n"
    )
    runner = CliRunner()
    shown = runner.invoke(
        main, ["--config", str(path), "config", "show"], env={"SIROCCO_EXECUTOR_WORKERS": "4"}
    )
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == f"config file: {path}"
    assert f'[database] url = "postgresql://sirocco:***@db/sirocco"  ({path} [database] url)' in (
        lines
    )
    assert "[executor] workers = 4  (environment SIROCCO_EXECUTOR_WORKERS)" in lines
    assert f'[executor] target = "gpu"  ({path} [executor] target)' in lines
    assert "[heartbeat] interval = 5.0  (default)" in lines
    assert "hunter2" not in shown.output
    as_json = runner.invoke(main, ["config", "show", "--json"], env={"SIROCCO_CONFIG": str(path)})
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["config_file"] == str(path)
    rules = next(row for row in report["settings"] if row["name"] == "expiration_rules")
    assert rules["value"] == "state=ERROR,older_than=10080"
    assert (rules["section"], rules["key"], rules["variable"]) == (
        "expiration", "rules", "SIROCCO_EXPIRATION_RULES"
    )  # fmt: skip
    without = runner.invoke(main, ["config", "show"], env={"SIROCCO_CONFIG": ""})
    assert without.exit_code == 0 and without.stdout.splitlines()[0] == "config file: none"
    typo = runner.invoke(main, ["config", "show", "--json"], env={"SIROCCO_EXECUTOR_WORKER": "3"})
    assert typo.exit_code == 0, typo.output
    assert (
        "sirocco: note: SIROCCO_EXECUTOR_WORKER is not a setting; ignored "
        "(did you mean SIROCCO_EXECUTOR_WORKERS?)"
    ) in typo.stderr.splitlines()
    assert "SIROCCO_EXECUTOR_WORKER" in json.loads(typo.stdout)["unknown_variables"]


def test_a_wrong_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "sirocco.toml"
    path.write_text("[executor]\nworkers = 'many'\n")
    runner = CliRunner()
    for command in (["config", "show"], ["executions"]):
        answer = runner.invoke(main, ["--config", str(path), *command])
        assert answer.exit_code == 2
        assert answer.stderr == (
            f"sirocco: {path}: [executor] workers: Input should be an integer, not str 'many'\n"
        )
    missing = runner.invoke(main, ["--config", str(tmp_path / "nope.toml"), "executions"])
    assert (missing.exit_code, missing.stderr) == (
        2, f"sirocco: config file {tmp_path / 'nope.toml'} not found\n"
    )  # fmt: skip


def test_flags_win_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    used, empty = f"sqlite:///{tmp_path}/used.sqlite", f"sqlite:///{tmp_path}/empty.sqlite"
    with helpers.embedded(used) as app:
        helpers.deploy(app, WORKFLOWS)
        assert helpers.wait_for(app, helpers.start(app, "fine")).state == "SUCCESS"
    with helpers.embedded(empty):
        pass
    path = tmp_path / "sirocco.toml"
    path.write_text(f'[database]\nurl = "{used}"\n')
    runner = CliRunner()

    def listed(*arguments: str, environ: dict[str, str] | None = None) -> list[str]:
        answer = runner.invoke(
            main, ["--config", str(path), "executions", "--json", *arguments], env=environ
        )
        assert answer.exit_code == 0, answer.output
        return [row["workflow_name"] for row in json.loads(answer.stdout)]

    assert listed() == ["fine"]  # the file
    assert listed(environ={"SIROCCO_DB": empty}) == []  # the environment over the file
    assert listed("--db", used, environ={"SIROCCO_DB": empty}) == ["fine"]  # the flag


def test_the_file_asks_for_json_logs(tmp_path: Path) -> None:
    (tmp_path / "boom.yaml").write_text(WORKFLOWS)
    (tmp_path / "sirocco.toml").write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/logs.sqlite"\n'
        '[logging]\nformat = "json"\nlevel = "INFO"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "sirocco.cli.main", "run", "boom.yaml", "--workflow", "boom"],
        cwd=tmp_path,  # ./sirocco.toml is found there
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert records and len(records) == len(done.stderr.splitlines()), done.stderr
    failed = [record for record in records if record["level"] == "WARNING"]
    assert len(failed) == 1, records
    assert failed[0]["logger"] == "sirocco.executions"
    assert failed[0]["state"] == "ERROR"
    assert "disk full" in failed[0]["message"]
    assert failed[0]["workflow_execution_id"] in done.stdout
    assert {"time", "level", "logger", "message"} <= set(records[0])
    started = [record for record in records if record["message"].endswith("is RUNNING")]
    assert started and started[0]["level"] == "INFO"
