"""One workflow: its keywords, its tasks with ``task-defaults`` merged, and its graph checks.

``task-defaults`` are merged the way Mistral's engine and specs apply them:

* each policy kind (wait-before, wait-after, timeout, pause-before,
  concurrency, fail-on, retry) comes from the task when the task's value is
  active (an expression, or non-zero / true / present), else from the
  defaults: a task's ``timeout: 0`` does not switch off a default timeout;
* ``safe-rerun`` comes from the task when it sets it, else from the defaults,
  else ``false``;
* an ``on-*`` clause of the defaults is used when the task's own clause of
  that kind has no transitions, minus any transition to the task itself (the
  task's own advanced ``publish`` is kept);
* ``requires`` (reverse workflows) is the task's list plus the defaults',
  without the task itself.

The graph checks are Mistral's (start tasks, task names in transitions and
``requires``, join cardinality) plus one of Sirocco's: ``requires`` must not
form a cycle.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from sirocco.lang import checks
from sirocco.lang.frozen import FrozenDict, freeze
from sirocco.lang.loading import Path
from sirocco.lang.problems import Report, kind_of
from sirocco.lang.specs import (
    ENGINE_COMMANDS,
    InputParameter,
    OnClause,
    PolicySpec,
    TaskSpec,
    WorkflowSpec,
    WorkflowType,
)
from sirocco.lang.tasks import ParsedTask, TaskDefaults, parse_task, parse_task_defaults
from sirocco.lang.transitions import CLAUSE_KEYWORDS

__all__ = ["looks_like_uuid", "parse_input_list", "parse_workflow"]

_WORKFLOW_KEYS = (
    "name",
    "version",
    "type",
    "description",
    "tags",
    "input",
    "output",
    "output-on-error",
    "vars",
    "task-defaults",
    "tasks",
)
_POLICY_FIELDS = tuple(field.name for field in dataclasses.fields(PolicySpec))
_NO_DEFAULTS = TaskDefaults()


def looks_like_uuid(name: str) -> bool:
    """Whether a name would be taken for an id (Mistral refuses such workflow names)."""
    try:
        value = uuid.UUID(name)
    except ValueError:
        return False
    cleaned = name.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
    return value.hex == cleaned


def parse_input_list(report: Report, path: Path, value: Any) -> tuple[InputParameter, ...]:
    """A declared input: ``- name`` (required) or ``- name: default`` (never evaluated)."""
    if not isinstance(value, list) or not value:
        report.add(
            path,
            f"must be a non-empty list of names and 'name: default' items, not {kind_of(value)}",
        )
        return ()
    found: dict[str, InputParameter] = {}
    seen: list[Any] = []
    for index, item in enumerate(value):
        item_path = (*path, index)
        if item in seen:
            report.add(item_path, f"{checks.shown(item)} is listed twice")
            continue
        seen.append(item)
        if isinstance(item, str) and item:
            found[item] = InputParameter(name=item)
        elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item)), str):
            name, default = next(iter(item.items()))
            found[name] = InputParameter(name=name, has_default=True, default=freeze(default))
        else:
            report.add(
                item_path,
                f"must be a name or a one-key mapping 'name: default', not {kind_of(item)}",
            )
    # Like Mistral's dict of entries: a name written again replaces the earlier entry in place.
    return tuple(found.values())


def parse_workflow(
    report: Report,
    path: Path,
    name: Any,
    body: Any,
    *,
    full_name: str,
    workbook: str | None,
    duplicate_tasks: dict[str, tuple[int, int]],
) -> WorkflowSpec | None:
    """Read one workflow; ``None`` when it cannot be built at all (problems are reported)."""
    before = len(report.problems)
    if isinstance(name, (int, float)) and not isinstance(name, bool):
        name = str(name)  # Mistral takes ``1:`` as the workflow name "1"
    if not isinstance(name, str) or not name:
        report.add(path, f"a workflow name must be a non-empty string, not {checks.shown(name)}")
        return None
    if " " in name:
        report.add(path, f"the workflow name {name!r} must not contain spaces")
    if looks_like_uuid(name):
        report.add(path, "a workflow name cannot be in the format of a UUID")
    if not isinstance(body, dict) or not body:
        report.add(path, f"must be a non-empty mapping with 'tasks', not {kind_of(body)}")
        return None
    checks.known_keys(report, path, body, _WORKFLOW_KEYS)
    workflow_type: WorkflowType = "direct"
    if "type" in body:
        if body["type"] in ("direct", "reverse"):
            workflow_type = body["type"]
        else:
            report.add(
                (*path, "type"), f"must be 'direct' or 'reverse', not {checks.shown(body['type'])}"
            )
    values: dict[str, Any] = {
        "name": full_name,
        "workflow_type": workflow_type,
        "workbook": workbook,
    }
    if body.get("description") is not None:
        values["description"] = str(body["description"])
    if "tags" in body and checks.unique_string_list(report, (*path, "tags"), body["tags"]):
        values["tags"] = tuple(body["tags"])
    if "input" in body:
        values["input"] = parse_input_list(report, (*path, "input"), body["input"])
    for keyword in ("output", "output-on-error", "vars"):
        if keyword in body and checks.nonempty_mapping(report, (*path, keyword), body[keyword]):
            checks.expressions_in(report, (*path, keyword), body[keyword])
            values[keyword.replace("-", "_")] = freeze(body[keyword])
    defaults = None
    if "task-defaults" in body:
        defaults = parse_task_defaults(report, (*path, "task-defaults"), body["task-defaults"])
    tasks = _parse_tasks(report, path, body, workflow_type, duplicate_tasks)
    if tasks is None:
        return None
    merged: dict[str, TaskSpec] = {}
    inherited: set[str] = set()
    for task_name, parsed in tasks.items():
        merged[task_name], kinds = _merge(parsed, defaults)
        inherited |= kinds
    graph = _Graph(report, path, tasks, merged, clean=len(report.problems) == before)
    graph.names = set(body["tasks"])
    graph.defaults = defaults
    graph.inherited = inherited
    if workflow_type == "direct":
        graph.check_direct()
    else:
        graph.check_reverse()
    values["tasks"] = FrozenDict(graph.merged)
    values["inbound"] = FrozenDict(graph.inbound)
    values["start_tasks"] = graph.start_tasks
    values["line"] = report.line(path)
    return WorkflowSpec(**values)


def _parse_tasks(
    report: Report,
    path: Path,
    body: dict[str, Any],
    workflow_type: WorkflowType,
    duplicate_tasks: dict[str, tuple[int, int]],
) -> dict[str, ParsedTask] | None:
    if "tasks" not in body:
        report.add(path, "'tasks' is required")
        return None
    raw = body["tasks"]
    if not isinstance(raw, dict) or not raw:
        report.add(
            (*path, "tasks"),
            f"must be a non-empty mapping of task names to tasks, not {kind_of(raw)}",
        )
        return None
    for task_name, (line, first_line) in duplicate_tasks.items():
        report.add(
            (*path, "tasks", task_name),
            f"the task name is used twice (first at line {first_line})",
            line=line,
        )
    tasks: dict[str, ParsedTask] = {}
    for task_name, task_body in raw.items():
        parsed = parse_task(
            report, (*path, "tasks", task_name), task_name, task_body, workflow_type
        )
        if parsed is not None:
            tasks[task_name] = parsed
    return tasks


def _active(value: Any) -> bool:
    return isinstance(value, str) or bool(value)


def _merge(parsed: ParsedTask, defaults: TaskDefaults | None) -> tuple[TaskSpec, set[str]]:
    """The task with the defaults applied, and the clause kinds it took from the defaults."""
    spec = parsed.spec
    inherited: set[str] = set()
    if defaults is None:
        defaults = _NO_DEFAULTS
    policies: dict[str, Any] = {}
    for name in _POLICY_FIELDS:
        own = getattr(spec.policies, name)
        default = getattr(defaults.policies, name)
        policies[name] = own if _active(own) else (default if _active(default) else None)
    safe_rerun = spec.safe_rerun
    if safe_rerun is None:
        safe_rerun = defaults.safe_rerun if defaults.safe_rerun is not None else False
    changes: dict[str, Any] = {"policies": PolicySpec(**policies), "safe_rerun": safe_rerun}
    if spec.workflow_type == "direct":
        for keyword in CLAUSE_KEYWORDS:
            attribute = keyword.replace("-", "_")
            own_clause: OnClause | None = getattr(spec, attribute)
            inherited_clause = defaults.clauses.get(keyword)
            if inherited_clause is None or (own_clause is not None and own_clause.transitions):
                continue
            kept = tuple(t for t in inherited_clause.transitions if t.name != spec.name)
            if kept:
                publish = own_clause.publish if own_clause is not None else None
                changes[attribute] = OnClause(transitions=kept, publish=publish)
                inherited.add(keyword)
    else:
        requires = [name for name in spec.requires if name != spec.name]
        requires += [
            name for name in defaults.requires if name != spec.name and name not in requires
        ]
        changes["requires"] = tuple(requires)
    return dataclasses.replace(spec, **changes), inherited


class _Graph:
    """Checks and facts that need every task: start and inbound tasks, names, joins, cycles."""

    def __init__(
        self,
        report: Report,
        path: Path,
        parsed: dict[str, ParsedTask],
        merged: dict[str, TaskSpec],
        *,
        clean: bool,
    ) -> None:
        self.report = report
        self.path = path
        self.parsed = parsed
        self.merged = merged
        self.clean = clean
        self.names: set[str] = set(merged)
        self.defaults: TaskDefaults | None = None
        self.inherited: set[str] = set()
        self.inbound: dict[str, tuple[str, ...]] = {}
        self.start_tasks: tuple[str, ...] = ()

    def check_direct(self) -> None:
        self._check_clause_targets()
        outbound: dict[str, set[str]] = {
            name: {t.name for _, clause in spec.clauses() for t in clause.transitions}
            for name, spec in self.merged.items()
        }
        inbound: dict[str, list[str]] = {name: [] for name in self.merged}
        for source, targets in outbound.items():
            for target in targets:
                if target in inbound:
                    inbound[target].append(source)
        self.inbound = {name: tuple(sources) for name, sources in inbound.items()}
        self.start_tasks = tuple(name for name, sources in inbound.items() if not sources)
        if not self.clean:
            return
        if not self.start_tasks:
            self.report.add(
                (*self.path, "tasks"),
                "there is no start task: every task is the target of a transition "
                "(a direct workflow needs at least one task without inbound transition)",
            )
        for name, spec in self.merged.items():
            if spec.join is None:
                continue
            count = len(self.inbound[name])
            if spec.join == "all" and count == 0:
                self.report.add(
                    (*self.path, "tasks", name, "join"),
                    f"'join: all' needs inbound tasks, but no task transitions to '{name}'",
                )
            elif spec.join != "all" and count < int(spec.join):
                needed = int(spec.join)
                self.report.add(
                    (*self.path, "tasks", name, "join"),
                    f"'join: {self.parsed[name].written_join}' needs at least {needed} inbound "
                    f"task{'' if needed == 1 else 's'}, but "
                    + (f"only {count} task{'' if count == 1 else 's'}" if count else "no task")
                    + f" transition{'s' if count <= 1 else ''} to '{name}'",
                )

    def _check_clause_targets(self) -> None:
        for parsed in self.parsed.values():
            for keyword, paths in parsed.clause_paths.items():
                clause = getattr(parsed.spec, keyword.replace("-", "_"))
                if clause is not None:
                    self._check_targets(clause, paths)
        if self.defaults is None:
            return
        # A default clause is checked only if some task uses it (as Mistral checks merged clauses).
        for keyword, clause in self.defaults.clauses.items():
            if keyword in self.inherited:
                self._check_targets(clause, self.defaults.clause_paths[keyword])

    def _check_targets(self, clause: OnClause, paths: tuple[Path, ...]) -> None:
        for transition, path in zip(clause.transitions, paths, strict=True):
            if transition.name not in self.names and transition.name not in ENGINE_COMMANDS:
                self.report.add(path, f"Task '{transition.name}' not found.")  # Mistral's words

    def check_reverse(self) -> None:
        pairs = [
            (required, path)
            for parsed in self.parsed.values()
            for required, path in zip(parsed.spec.requires, parsed.requires_paths, strict=True)
        ]
        if self.defaults is not None:
            pairs += zip(self.defaults.requires, self.defaults.requires_paths, strict=True)
        for required, path in pairs:
            if required not in self.names:
                self.report.add(path, f"task '{required}' does not exist")
        self.start_tasks = tuple(name for name, spec in self.merged.items() if not spec.requires)
        self._check_cycles()

    def _check_cycles(self) -> None:
        done: set[str] = set()
        reported: set[frozenset[str]] = set()
        for start in self.merged:
            if start in done:
                continue
            # Iterative depth-first walk; 'trail' is the current chain of requirements.
            trail: list[str] = [start]
            on_trail = {start}
            pending = [iter(self._requirements(start))]
            while pending:
                following = next(pending[-1], None)
                if following is None:
                    pending.pop()
                    done.add(trail[-1])
                    on_trail.discard(trail.pop())
                    continue
                if following in on_trail:
                    cycle = [*trail[trail.index(following) :], following]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        self._report_cycle(cycle)
                    continue
                if following in done:
                    continue
                trail.append(following)
                on_trail.add(following)
                pending.append(iter(self._requirements(following)))

    def _requirements(self, name: str) -> list[str]:
        return [required for required in self.merged[name].requires if required in self.merged]

    def _report_cycle(self, cycle: list[str]) -> None:
        chain = " -> ".join(f"'{name}'" for name in cycle)
        self.report.add(
            (*self.path, "tasks", cycle[0], "requires"),
            f"the requirements form a cycle: {chain}",
        )
