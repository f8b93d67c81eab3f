"""What ``sirocco run`` imports: none of the heavy modules a run of std actions does not need.

How long start-up takes is measured by ``bench/startup.py``; this checks the
reason it is short, without timing anything.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

from tests import processes

#: Modules a `sirocco run` of a workflow without Jinja, triggers or plugins must not import.
NOT_NEEDED = [
    "alembic",  # only to apply migrations; an up-to-date database is checked without it
    "pydantic",  # the API's; settings are a plain dataclass
    "fastapi",
    "starlette",
    "uvicorn",
    "kombu",
    "httpx",
    "paramiko",
    "jinja2",  # with the first Jinja expression
    "croniter",  # with the first cron trigger
    "opentelemetry",  # with SIROCCO_TRACING=console|otlp
]

WORKFLOW = """\
version: '2.0'
trivial:
  tasks:
    hello:
      action: std.echo output=<% 1 + 1 %>
"""


def test_a_run_of_std_actions_imports_none_of_the_heavy_modules(tmp_path: Path) -> None:
    path = tmp_path / "trivial.yaml"
    path.write_text(WORKFLOW)
    database = f"sqlite:///{tmp_path / 'sirocco.sqlite'}"
    script = textwrap.dedent(
        f"""
        import json, sys
        from sirocco.cli.main import main
        try:
            main(["run", {str(path)!r}, "--db", {database!r}, "--json"])
        except SystemExit as exit:
            assert exit.code == 0, exit.code
        print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
        """
    )
    creating = processes.run([sys.executable, "-c", script])  # creates the schema
    assert creating.returncode == 0, creating.stdout + creating.stderr
    done = processes.run([sys.executable, "-c", script])  # finds the database up to date
    assert done.returncode == 0, done.stdout + done.stderr
    report, modules = done.stdout.strip().splitlines()
    assert (json.loads(report)["state"], json.loads(report)["output"]) == ("SUCCESS", {})
    loaded = set(json.loads(modules))
    assert loaded.isdisjoint(NOT_NEEDED), sorted(loaded.intersection(NOT_NEEDED))
