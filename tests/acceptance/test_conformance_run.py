"""The conformance cases without API steps, run through ``sirocco run --json`` in-process.

Each case runs the CLI command on a fresh SQLite file; the printed JSON
gives state, output and tasks, the database gives task results, action
counts and sub-executions. A case whose definition Mistral rejects must
make ``sirocco run`` exit 2 with one line on stderr.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sirocco import lang
from sirocco.cli.embedded import open_embedded
from sirocco.cli.main import main
from sirocco.lang import specs
from sirocco.store import sources, tables
from tests.conformance import casekit


def _cli_cases() -> list[Any]:
    found = []
    for path in casekit.case_files():
        case = casekit.load(path)
        # Steps act on a running execution; `sirocco run` shows it only once it has ended
        # (what still runs then, like case 152's last action, is not seen either).
        if casekit.is_skipped(case) or case.get("steps"):
            continue
        marks = []
        reason = casekit.known_difference(path.stem, "cli")
        if reason is not None:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        found.append(pytest.param(path, id=path.stem, marks=marks))
    return found


def _store_definitions(db_url: str, text: str) -> None:
    """Store a document the run needs besides the file it runs (ad-hoc actions, workflows)."""
    document = lang.parse_document(text, source="extra.yaml")
    if isinstance(document, specs.ActionsDocument):
        workflows, actions = [], list(document.actions.values())
    else:
        workflows, actions = list(document.workflows.values()), []
    app = open_embedded(db_url, start=False)
    try:
        sources.save_for_run(
            app.parts.database,
            [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in workflows],
            [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in actions],
        )
    finally:
        app.close()


def _arguments(case: dict[str, Any], source: pathlib.Path, db_url: str) -> list[str]:
    arguments = ["run", str(source), "--json", "--db", db_url, "--timeout", "60"]
    if case.get("start"):
        arguments += ["--workflow", str(case["start"])]
    if case.get("input") is not None:
        arguments += ["--input", json.dumps(case["input"])]
    if case.get("env") is not None:
        arguments += ["--env", json.dumps(case["env"])]
    for name, value in (case.get("params") or {}).items():
        # --param takes text: other values go as JSON (false, 3, ...).
        text = value if isinstance(value, str) else json.dumps(value)
        arguments += ["--param", f"{name}={text}"]
    return arguments


def _observe(db_url: str, report: dict[str, Any], elapsed: float) -> casekit.Observed:
    database = sa.create_engine(db_url)
    workflow_table = tables.workflow_executions
    task_table = tables.task_executions
    action_table = tables.action_executions
    try:
        with database.connect() as connection:
            workflow = connection.execute(
                sa.select(workflow_table).where(workflow_table.c.id == report["id"])
            ).one()
            rows = connection.execute(
                sa.select(task_table)
                .where(task_table.c.workflow_execution_id == report["id"])
                .order_by(task_table.c.seq)
            ).all()
            counts: dict[str, int] = dict(
                connection.execute(
                    sa.select(action_table.c.task_execution_id, sa.func.count())
                    .where(action_table.c.workflow_execution_id == report["id"])
                    .group_by(action_table.c.task_execution_id)
                ).all()
            )
            subs = connection.execute(
                sa.select(workflow_table.c.state).where(
                    workflow_table.c.root_execution_id == report["id"],
                    workflow_table.c.id != report["id"],
                )
            ).scalars()
            sub_states = [str(state) for state in subs]
    finally:
        database.dispose()
    printed = report["tasks"]
    assert [task["name"] for task in printed] == [row.name for row in rows]
    observed_tasks = [
        casekit.ObservedTask(
            name=task["name"],
            state=task["state"],
            state_info=task["state_info"],
            published=task["published"],
            result=row.result,
            actions=int(counts.get(row.id, 0)),
            runtime_context=row.runtime,
        )
        for task, row in zip(printed, rows, strict=True)
    ]
    return casekit.Observed(
        state=report["state"],
        state_info=report["state_info"],
        output=report["output"],
        input=workflow.input,
        tasks=observed_tasks,
        sub_states=sub_states,
        elapsed=elapsed,
    )


@pytest.mark.parametrize("path", _cli_cases())
def test_case_through_sirocco_run(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    case = casekit.load(path)
    expect = case["expect"]
    db_url = f"sqlite:///{tmp_path / 'sirocco.sqlite'}"
    text = case.get("workbook") or case.get("workflow")
    if casekit.is_definition_error(case) and not text:
        text = case.get("actions")
    assert text, "a case needs a workflow or a workbook"
    source = tmp_path / "case.yaml"
    source.write_text(text)
    if not casekit.is_definition_error(case):
        for key in ("actions", "workflow"):
            if case.get(key) and case[key] is not text:
                _store_definitions(db_url, case[key])
    runner = CliRunner()
    started = time.monotonic()
    outcome = runner.invoke(main, _arguments(case, source, db_url), catch_exceptions=False)
    elapsed = time.monotonic() - started
    if casekit.is_definition_error(case):
        assert outcome.exit_code == 2, outcome.output
        lines = outcome.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sirocco: "), outcome.stderr
        return
    assert outcome.stderr == "", outcome.stderr
    expected_code = {"SUCCESS": 0, "ERROR": 1, "CANCELLED": 1, "PAUSED": 3}.get(expect.get("state"))
    if expected_code is not None:
        assert outcome.exit_code == expected_code, outcome.stdout
    report = json.loads(outcome.stdout)
    problems = casekit.check(expect, _observe(db_url, report, elapsed))
    assert problems == []
