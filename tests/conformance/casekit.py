"""Conformance cases: loading them, and checking what an execution did against ``expect``.

A case file holds a workflow (or workbook, or ad-hoc actions), its input,
scripted steps and what real Mistral 23 reported (``expect``). The matching
rules are those of ``shared/conformance/run_cases.py``: dicts must have the
same keys, lists the same length, scalars the same type and value, and a
string starting with ``~`` is a matcher (``~uuid``, ``~re:...``,
``~contains:...``, ``~len:N``, ``~any``, ``~str``, ``~absent`` in paths...).

Each runner (the CLI, the pure driver) turns what it saw into an
``Observed`` value and calls ``check``.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

CASES = pathlib.Path(__file__).parent / "cases"

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def case_files() -> list[pathlib.Path]:
    """Every case file, sorted by name."""
    return sorted(CASES.glob("*.yaml"))


def load(path: pathlib.Path) -> dict[str, Any]:
    found = yaml.safe_load(path.read_text())
    assert isinstance(found, dict), path
    return found


def is_definition_error(case: Mapping[str, Any]) -> bool:
    expect = case.get("expect") or {}
    return "create_error" in expect or "start_error" in expect


def is_skipped(case: Mapping[str, Any]) -> bool:
    """Cases that run_cases.py skips by default (oracle broken or Sirocco-only)."""
    return case.get("oracle") in ("broken", "superset")


# ---------------------------------------------------------------- matching


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


def _matcher(spec: str, actual: Any, path: str) -> list[str]:
    body = spec[1:]
    failed = [f"{path or '<value>'}: expected {spec}, got {json.dumps(actual, default=str)[:200]}"]
    ok: bool
    if body.startswith("~"):
        ok = actual == body
    elif body == "any":
        ok = True
    elif body == "uuid":
        ok = isinstance(actual, str) and bool(_UUID.match(actual))
    elif body in ("str", "int", "float", "bool", "list", "dict", "null"):
        ok = _type_name(actual) == body
    elif body == "nonempty":
        ok = bool(actual)
    elif body.startswith("re:"):
        ok = isinstance(actual, str) and re.search(body[3:], actual, re.S) is not None
    elif body.startswith("contains:"):
        needle = body[len("contains:") :]
        ok = isinstance(actual, str | list) and needle in actual
    elif body.startswith("len:"):
        try:
            ok = len(actual) == int(body[4:])
        except TypeError:
            ok = False
    elif body.startswith("json:"):
        try:
            ok = json.loads(actual) == json.loads(body[5:])
        except (TypeError, ValueError):
            ok = False
    elif body.startswith("ge:"):
        ok = (
            isinstance(actual, int | float)
            and not isinstance(actual, bool)
            and actual >= float(body[3:])
        )
    else:
        raise ValueError(f"unknown matcher {spec!r}")
    return [] if ok else failed


def match(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Structural comparison of ``actual`` with ``expected``; the mismatches."""
    where = path or "<value>"
    if isinstance(expected, str) and expected.startswith("~"):
        return _matcher(expected, actual, path)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a dict, got {json.dumps(actual, default=str)[:200]}"]
        problems = []
        missing = sorted(set(expected) - set(actual), key=str)
        extra = sorted(set(actual) - set(expected), key=str)
        if missing:
            problems.append(f"{where}: missing keys {missing}")
        if extra:
            problems.append(f"{where}: unexpected keys {extra}")
        for key in expected:
            if key in actual:
                problems.extend(match(expected[key], actual[key], f"{path}.{key}" if path else key))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return [f"{where}: expected {expected!r}, got {json.dumps(actual, default=str)[:200]}"]
        return [
            problem
            for number, (want, got) in enumerate(zip(expected, actual, strict=True))
            for problem in match(want, got, f"{path}[{number}]")
        ]
    if _type_name(expected) != _type_name(actual) or expected != actual:
        return [f"{where}: expected {expected!r}, got {json.dumps(actual, default=str)[:200]}"]
    return []


def _get_path(value: Any, path: str) -> Any:
    current = value
    for part in str(path).split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and re.match(r"^-?\d+$", part)
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            raise KeyError(path)
    return current


def match_paths(paths: Mapping[str, Any], actual: Any, label: str) -> list[str]:
    problems: list[str] = []
    for path, expected in paths.items():
        try:
            value = _get_path(actual, path)
        except KeyError:
            if expected != "~absent":
                problems.append(f"{label}.{path}: missing")
            continue
        if expected == "~absent":
            problems.append(f"{label}.{path}: expected absent, got {value!r}")
            continue
        problems.extend(match(expected, value, f"{label}.{path}"))
    return problems


# ---------------------------------------------------------------- checking


@dataclass(slots=True, kw_only=True)
class ObservedTask:
    name: str
    state: str
    state_info: str | None = None
    published: Any = None
    result: Any = None
    actions: int = 0
    runtime_context: Any = None


@dataclass(slots=True, kw_only=True)
class Observed:
    """What a runner saw of one execution (tasks in creation order)."""

    state: str
    state_info: str | None = None
    output: Any = None
    input: Any = None
    tasks: list[ObservedTask] = field(default_factory=list)
    sub_states: list[str] = field(default_factory=list)
    elapsed: float | None = None


def check(expect: Mapping[str, Any], seen: Observed) -> list[str]:
    """The differences between ``expect`` and ``seen`` (empty if the case passes)."""
    problems: list[str] = []
    if "state" in expect and seen.state != expect["state"]:
        problems.append(f"state: expected {expect['state']}, got {seen.state} ({seen.state_info})")
    if "state_info" in expect:
        problems.extend(match(expect["state_info"], seen.state_info, "state_info"))
    if "output" in expect:
        problems.extend(match(expect["output"], seen.output, "output"))
    if "output_paths" in expect:
        problems.extend(match_paths(expect["output_paths"], seen.output, "output"))
    if "output_keys" in expect:
        if not isinstance(seen.output, dict):
            problems.append(f"output: not a dict: {seen.output!r}")
        else:
            missing = [key for key in expect["output_keys"] if key not in seen.output]
            if missing:
                problems.append(f"output: missing keys {missing}")
    if "output_lacks_keys" in expect and isinstance(seen.output, dict):
        present = [key for key in expect["output_lacks_keys"] if key in seen.output]
        if present:
            problems.append(f"output: unexpected keys {present}")
    if "input" in expect:
        problems.extend(match(expect["input"], seen.input, "execution.input"))
    by_name: dict[str, list[ObservedTask]] = {}
    for task in seen.tasks:
        by_name.setdefault(task.name, []).append(task)
    if "task_count" in expect and len(seen.tasks) != expect["task_count"]:
        problems.append(
            f"task_count: expected {expect['task_count']}, got {len(seen.tasks)} "
            f"({[task.name for task in seen.tasks]})"
        )
    if "task_names" in expect and sorted(by_name) != sorted(expect["task_names"]):
        problems.append(
            f"task_names: expected {sorted(expect['task_names'])}, got {sorted(by_name)}"
        )
    if "task_order" in expect:  # Sirocco's scenarios only: the names in creation order
        order = [task.name for task in seen.tasks]
        if order != expect["task_order"]:
            problems.append(f"task_order: expected {expect['task_order']}, got {order}")
    for name, wanted in (expect.get("tasks") or {}).items():
        problems.extend(_check_task(name, wanted, by_name.get(name, [])))
    if seen.elapsed is not None:
        if "min_seconds" in expect and seen.elapsed < expect["min_seconds"]:
            problems.append(f"finished too fast: {seen.elapsed:.2f}s")
        if "max_seconds" in expect and seen.elapsed > expect["max_seconds"]:
            problems.append(f"finished too slowly: {seen.elapsed:.2f}s")
    subs = expect.get("sub_executions")
    if subs is not None:
        if "count" in subs and len(seen.sub_states) != subs["count"]:
            problems.append(f"sub_executions: expected {subs['count']}, got {len(seen.sub_states)}")
        if "states" in subs and sorted(seen.sub_states) != sorted(subs["states"]):
            problems.append(
                f"sub_executions states: expected {sorted(subs['states'])}, "
                f"got {sorted(seen.sub_states)}"
            )
    return problems


def _check_task(name: str, wanted: Any, executions: Sequence[ObservedTask]) -> list[str]:
    label = f"task {name}"
    if wanted in ("absent", None) or (isinstance(wanted, dict) and wanted.get("absent")):
        return [f"{label}: expected not to run, found {len(executions)}"] if executions else []
    if isinstance(wanted, str):
        wanted = {"state": wanted}
    problems: list[str] = []
    if "count" in wanted and len(executions) != wanted["count"]:
        problems.append(f"{label}: expected {wanted['count']} execution(s), got {len(executions)}")
    if not executions:
        return [*problems, f"{label}: did not run"]
    task = executions[-1]
    if "state" in wanted and task.state != wanted["state"]:
        problems.append(
            f"{label}: state expected {wanted['state']}, got {task.state} ({task.state_info})"
        )
    if "states" in wanted and sorted(item.state for item in executions) != sorted(wanted["states"]):
        problems.append(f"{label}: states {[item.state for item in executions]}")
    if "state_info" in wanted:
        problems.extend(match(wanted["state_info"], task.state_info, f"{label}.state_info"))
    if "published" in wanted:
        problems.extend(match(wanted["published"], task.published, f"{label}.published"))
    if "published_paths" in wanted:
        problems.extend(
            match_paths(wanted["published_paths"], task.published, f"{label}.published")
        )
    if "result" in wanted:
        problems.extend(match(wanted["result"], task.result, f"{label}.result"))
    if "result_paths" in wanted:
        problems.extend(match_paths(wanted["result_paths"], task.result, f"{label}.result"))
    if "actions" in wanted and task.actions != wanted["actions"]:
        problems.append(f"{label}: expected {wanted['actions']} action(s), got {task.actions}")
    if "runtime_context_paths" in wanted:
        problems.extend(
            match_paths(
                wanted["runtime_context_paths"], task.runtime_context, f"{label}.runtime_context"
            )
        )
    return problems


# ---------------------------------------------------------------- known differences

#: Cases where Sirocco still differs from Mistral 23: the runners they fail on
#: ("driver": the pure engine driver, "cli": ``sirocco run``, "api": the REST
#: API) and why. The tests mark them ``xfail(strict=True)``, so a fix shows.
KNOWN_DIFFERENCES: dict[str, tuple[frozenset[str], str]] = {}


def known_difference(stem: str, runner: str) -> str | None:
    """Why the case is expected to fail on that runner, or None."""
    found = KNOWN_DIFFERENCES.get(stem)
    if found is None or runner not in found[0]:
        return None
    return found[1]
