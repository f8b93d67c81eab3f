"""publish_big in steady state: CPU per run of one process, and the thread CPU of its parts.

    python bench/publish_parts.py                          # YAQL and Jinja, 20 runs each
    python bench/publish_parts.py --variants jinja --runs 40 --parts
    python bench/publish_parts.py --variants yaql --profile /tmp/NAME/yaql.prof

One process per variant (a fresh SQLite file): a 2-task chain and ``--warm`` runs first
(connections, caches, compiled expressions; ``--warm 0 --runs 1`` is bench/run.py's
run), then ``--runs`` executions one after the other, each
timed alone (process CPU from its start to its end). The variants are publish_big's 50
tasks (``std.echo output=<% $.blob %>``, ``publish: vNN: <% task().result %>``, 10 KB
text) and its neighbours, so a difference between two is what one part costs:

- ``yaql``: publish_big as bench/run.py runs it;
- ``jinja``: the same in Jinja (``{{ _.blob }}``, ``{{ task().result }}``);
- ``nopublish``: without the publish clause (the output reads the input instead);
- ``constant``: the action's input a constant (``output="x"``), published as in ``yaql``.

``--profile FILE`` profiles the engine's batches of steps in the measured runs
(cProfile, into ``FILE.VARIANT``). ``--parts`` wraps the engine's parts in thread-CPU
counters (the wrapping costs a little of its own): ``decide`` (the engine's decision),
in it ``publish`` (the publish clauses) and ``input`` (the action's input evaluated),
``sizes`` (the field size checks), ``offload`` (the Offloader's look at each stored
field) and ``write`` (the batch's rows written). Figures are milliseconds per run,
medians over the runs. The SQL statements of a run are counted (by their first words).

Run it with another tree's interpreter and ``--tree`` to measure that tree's code with
this harness (``/work/wt/base-start/.venv/bin/python bench/publish_parts.py --tree
/work/wt/base-start``).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402

TASKS = 50
SIZE = 10_240


def _text(variant: str) -> str:
    if variant == "yaql":
        return workloads.publish_big(TASKS)
    if variant == "jinja":
        return workloads.publish_big(TASKS, jinja=True)
    text = workloads.publish_big(TASKS)
    if variant == "nopublish":
        lines = [
            line
            for line in text.splitlines()
            if "publish:" not in line and "task().result" not in line
        ]
        text = "\n".join(lines) + "\n"
        return text.replace(f"len($.v{TASKS:04d})", "len($.blob)")
    if variant == "constant":
        return text.replace("output=<% $.blob %>", 'output="x"')
    raise SystemExit(f"unknown variant {variant}")


def _expected(variant: str) -> int:
    return 1 if variant == "constant" else SIZE


class _Parts:
    """Thread CPU spent inside wrapped functions, per part (outermost call only)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._local = threading.local()

    def wrap(self, owner: Any, attribute: str, part: str) -> None:
        original = getattr(owner, attribute)
        local = self._local
        spent = self.spent
        spent.setdefault(part, 0.0)

        @functools.wraps(original)
        def timed(*arguments: Any, **named: Any) -> Any:
            depth = getattr(local, part, 0)
            if depth:
                return original(*arguments, **named)
            setattr(local, part, 1)
            started = time.thread_time()
            try:
                return original(*arguments, **named)
            finally:
                spent[part] += time.thread_time() - started
                setattr(local, part, 0)

        setattr(owner, attribute, timed)

    def take(self) -> dict[str, float]:
        taken = dict(self.spent)
        for part in self.spent:
            self.spent[part] = 0.0
        return taken


def _install_more(parts: _Parts, more: list[str]) -> None:
    """``--wrap module:Owner.attribute`` (or ``module:function``): another part."""
    import importlib

    for spec in more:
        module_name, _, attribute = spec.partition(":")
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for step in path:
            owner = getattr(owner, step)
        parts.wrap(owner, name, attribute)


def _install_parts() -> _Parts:
    import sirocco.engine as engine_package
    from sirocco.engine import publishing, running, sizes
    from sirocco.store import blobs, writer

    parts = _Parts()
    parts.wrap(engine_package, "decide", "decide")
    parts.wrap(publishing, "publish", "publish")
    parts.wrap(running, "action_input", "input")
    parts.wrap(sizes, "check", "sizes")
    for method in ("value", "values", "inner_values"):
        parts.wrap(blobs.Offloader, method, "offload")
    parts.wrap(writer.Writes, "flush", "write")
    return parts


#: More parts to time (``--wrap``).
_MORE: list[str] = []
#: Whether the steps are profiled now (the measured runs).
_PROFILING = [False]


def _profile_steps(profiler: cProfile.Profile) -> None:
    """Profile every batch of steps the engine's thread runs while ``_PROFILING``."""
    from sirocco.runtime import steps

    original = steps.Stepper.run_batch

    @functools.wraps(original)
    def profiled(*arguments: Any, **named: Any) -> Any:
        if not _PROFILING[0]:
            return original(*arguments, **named)
        profiler.enable()
        try:
            return original(*arguments, **named)
        finally:
            profiler.disable()

    steps.Stepper.run_batch = profiled  # type: ignore[method-assign]


def one(
    variant: str, runs: int, warm: int, with_parts: bool, profile: str | None
) -> dict[str, Any]:
    import sqlalchemy as sa

    from sirocco import lang
    from sirocco.cli.embedded import open_embedded
    from sirocco.cli.process import settle_process
    from sirocco.store import sources, tables

    parts = _install_parts() if with_parts else None
    if parts is not None and _MORE:
        _install_more(parts, _MORE)
    folder = tempfile.mkdtemp(prefix="sirocco-bench-parts-")
    app = open_embedded(f"sqlite:///{os.path.join(folder, 'bench.sqlite')}")
    settle_process()
    try:
        document = lang.parse_workflows(_text(variant))
        workflow = next(iter(document.workflows.values()))
        sources.save_for_run(
            app.parts.database,
            [(workflow.name, workflow.definition, workflow.input_text(), None)],
            [],
        )
        # As bench/run.py: a 2-task chain first (connections, WAL, caches of the engine).
        chain = next(iter(lang.parse_workflows(workloads.chain(2)).workflows.values()))
        sources.save_for_run(app.parts.database, [(chain.name, chain.definition, "", None)], [])
        app.service.wait(app.service.start_workflow(workflow=chain.name), 60)
        ended: dict[str, threading.Event] = {}

        def on_state(execution_id: str, state: str) -> None:
            with _LOCK:
                ended.setdefault(execution_id, threading.Event())
            ended[execution_id].set()

        app.parts.runtime.on_state(on_state)
        statements: collections.Counter[str] = collections.Counter()
        counting = [False]

        def count(connection: Any, cursor: Any, text: str, *rest: Any) -> None:
            if counting[0]:
                statements[" ".join(text.split()[:4])] += 1

        sa.event.listen(app.parts.database.engine, "before_cursor_execute", count)
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            _profile_steps(profiler)
        cpu: list[float] = []
        taken: list[dict[str, float]] = []
        ids: list[str] = []
        for index in range(warm + runs):
            measured = index >= warm
            if parts is not None:
                parts.take()
            _PROFILING[0] = profiler is not None and measured
            counting[0] = measured
            started = time.process_time()
            execution_id = app.service.start_workflow(
                workflow=workflow.name, input={"blob": "x" * SIZE}
            )
            with _LOCK:
                done = ended.setdefault(execution_id, threading.Event())
            if not done.wait(600):
                raise RuntimeError(f"{variant}: {execution_id} did not finish")
            spent = time.process_time() - started
            _PROFILING[0] = False
            counting[0] = False
            if measured:
                cpu.append(spent)
                ids.append(execution_id)
                if parts is not None:
                    taken.append(parts.take())
        table = tables.workflow_executions
        with app.parts.database.read() as connection:
            for execution_id in ids:
                row = connection.execute(sa.select(table).where(table.c.id == execution_id)).one()
                expected = {"vars": TASKS, "last_len": _expected(variant)}
                if row.state != "SUCCESS" or row.output != expected:
                    raise RuntimeError(
                        f"{variant}: {row.state} {row.state_info} output {row.output!r}"
                    )
        if profiler is not None and profile:
            profiler.dump_stats(profile)
    finally:
        app.close()
        shutil.rmtree(folder, ignore_errors=True)
    result: dict[str, Any] = {
        "variant": variant,
        "runs": runs,
        "cpu_ms": round(statistics.median(cpu) * 1000, 3),
        "cpu_ms_fastest": round(min(cpu) * 1000, 3),
    }
    result["statements_per_run"] = {
        text: round(number / runs, 2) for text, number in statements.most_common()
    }
    if taken:
        result["parts_ms"] = {
            part: round(statistics.median(item[part] for item in taken) * 1000, 3)
            for part in taken[0]
        }
    return result


#: The start and the end's report may race: whichever comes first makes the event.
_LOCK = threading.Lock()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--variants", default="yaql,jinja")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warm", type=int, default=3)
    parser.add_argument("--parts", action="store_true")
    parser.add_argument("--profile", help="cProfile the measured runs into this file")
    parser.add_argument(
        "--wrap",
        action="append",
        default=[],
        help="with --parts, time this function too: module:function or module:Class.method",
    )
    parser.add_argument("--tree", help="the repository whose sirocco/ is measured")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _MORE.extend(args.wrap)
    if args.one:
        if args.tree:
            sys.path.insert(0, args.tree)
        else:
            sys.path.insert(0, str(HERE.parent))
        print(json.dumps(one(args.one, args.runs, args.warm, args.parts, args.profile)))
        return 0
    for variant in args.variants.split(","):
        command = [
            sys.executable, __file__, "--one", variant, "--runs", str(args.runs),
            "--warm", str(args.warm),
        ]  # fmt: skip
        if args.parts:
            command.append("--parts")
        for wrapped in args.wrap:
            command += ["--wrap", wrapped]
        if args.tree:
            command += ["--tree", args.tree]
        if args.profile:
            command += ["--profile", f"{args.profile}.{variant}"]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            print(f"{variant}: FAILED\n{completed.stderr[-3000:]}", file=sys.stderr)
            return 1
        print(completed.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
