"""The immutable spec tree that the parser builds and the engine walks.

Every spec is a frozen dataclass. Values that Mistral allows to be
expressions are kept as written (a string with ``<% %>`` or ``{{ }}``, or
a structure containing such strings); the engine evaluates them. The parser
has already merged ``task-defaults`` into every task, split inline action
parameters into ``input`` and resolved the one-line forms, so the engine never
looks at YAML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sirocco.lang.frozen import FrozenDict

WorkflowType = Literal["direct", "reverse"]

#: Names that a transition may use to reach the engine instead of a task.
ENGINE_COMMANDS: frozenset[str] = frozenset({"noop", "fail", "succeed", "pause"})

#: An empty read-only mapping (a dict, so it serialises to JSON like any other).
EMPTY: Mapping[str, Any] = FrozenDict()


def _empty() -> Mapping[str, Any]:
    return EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """One item of an ``on-*`` clause: a task name or an engine command.

    ``condition`` is the guard as written (an expression string, or a literal
    such as ``True``) or ``None`` when there is no guard. ``params`` are the
    parameters written after the name (``fail msg="x"``), values as written.
    """

    name: str
    condition: Any = None
    params: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def is_engine_command(self) -> bool:
        return self.name in ENGINE_COMMANDS


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishSpec:
    """The advanced ``publish`` of an ``on-*`` clause, by scope."""

    branch: Mapping[str, Any] = field(default_factory=_empty)
    global_: Mapping[str, Any] = field(default_factory=_empty)
    atomic: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class OnClause:
    """An ``on-success`` / ``on-error`` / ``on-complete`` / ``on-skip`` clause."""

    transitions: tuple[Transition, ...] = ()
    publish: PublishSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrySpec:
    """The ``retry`` policy; each value may be an expression string."""

    count: Any
    delay: Any = 0
    break_on: Any = None
    continue_on: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySpec:
    """Task policies after merging ``task-defaults``; ``None`` means not set."""

    wait_before: Any = None
    wait_after: Any = None
    timeout: Any = None
    pause_before: Any = None
    concurrency: Any = None
    fail_on: Any = None
    retry: RetrySpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WithItemsSpec:
    """One ``var in <list>`` of ``with-items``.

    ``items`` is the expression string, or the literal list when one was
    written (``x in [1, 2]``).
    """

    variable: str
    items: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSpec:
    """A task of a direct or reverse workflow, with task-defaults applied.

    Exactly one of ``action`` and ``workflow`` is set; a task with neither
    runs ``std.noop`` (``action`` is then ``"std.noop"``). ``input`` is a
    mapping (inline parameters merged over ``input:``, inline ones win) or an
    expression string that must evaluate to a mapping.
    """

    name: str
    workflow_type: WorkflowType = "direct"
    description: str = ""
    action: str | None = None
    workflow: str | None = None
    input: Mapping[str, Any] | str = field(default_factory=_empty)
    publish: Mapping[str, Any] = field(default_factory=_empty)
    publish_on_error: Mapping[str, Any] = field(default_factory=_empty)
    publish_on_skip: Mapping[str, Any] = field(default_factory=_empty)
    on_success: OnClause | None = None
    on_error: OnClause | None = None
    on_complete: OnClause | None = None
    on_skip: OnClause | None = None
    join: Literal["all"] | int | None = None
    requires: tuple[str, ...] = ()
    with_items: tuple[WithItemsSpec, ...] = ()
    keep_result: Any = True
    target: Any = None
    safe_rerun: Any = False
    tags: tuple[str, ...] = ()
    policies: PolicySpec = field(default_factory=PolicySpec)
    line: int | None = None
    #: The task's keywords as written (what Mistral's ``task().spec`` shows).
    written: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def is_with_items(self) -> bool:
        return bool(self.with_items)

    @property
    def is_join(self) -> bool:
        return self.join is not None

    def clauses(self) -> tuple[tuple[str, OnClause], ...]:
        """The ``on-*`` clauses that are set, as (keyword, clause) pairs."""
        pairs = (
            ("on-success", self.on_success),
            ("on-error", self.on_error),
            ("on-complete", self.on_complete),
            ("on-skip", self.on_skip),
        )
        return tuple((keyword, clause) for keyword, clause in pairs if clause is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class InputParameter:
    """A declared input: a name, required unless it has a default."""

    name: str
    has_default: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowSpec:
    """A workflow with its tasks and the graph facts the engine needs.

    ``name`` is the full name (``workbook.wf`` inside a workbook).
    ``inbound`` maps each task name to the tasks that mention it in any
    ``on-*`` clause (direct workflows); ``start_tasks`` are the tasks with no
    inbound transition (direct) or no requirement (reverse).
    """

    name: str
    workflow_type: WorkflowType = "direct"
    description: str = ""
    tags: tuple[str, ...] = ()
    input: tuple[InputParameter, ...] = ()
    output: Any = None
    output_on_error: Any = None
    vars: Mapping[str, Any] = field(default_factory=_empty)
    tasks: Mapping[str, TaskSpec] = field(default_factory=_empty)
    inbound: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    start_tasks: tuple[str, ...] = ()
    workbook: str | None = None
    definition: str = ""
    line: int | None = None

    def input_text(self) -> str:
        """The input as Mistral's API shows a workflow's: ``a, b="1", c="None"``.

        Mistral writes each default with Python's ``str()`` between double
        quotes, whatever its type (``resources.Workflow._set_input``).
        """
        parts = []
        for parameter in self.input:
            if parameter.has_default:
                parts.append(f'{parameter.name}="{parameter.default}"')
            else:
                parts.append(parameter.name)
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSpec:
    """An ad-hoc action: a named base action with preset input and output."""

    name: str
    base: str
    base_input: Mapping[str, Any] | str = field(default_factory=_empty)
    input: tuple[InputParameter, ...] = ()
    output: Any = None
    description: str = ""
    tags: tuple[str, ...] = ()
    workbook: str | None = None
    definition: str = ""
    line: int | None = None

    def input_text(self) -> str:
        """The input as Mistral's API shows an ad-hoc action's: ``a, b=1, c="x", d=null``.

        Mistral writes each default as JSON (``adhoc_actions.get_input_list``);
        it stores ``None`` instead of ``""`` when there is no input.
        """
        parts = []
        for parameter in self.input:
            if parameter.has_default:
                parts.append(f"{parameter.name}={json.dumps(parameter.default)}")
            else:
                parts.append(parameter.name)
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkbookSpec:
    """A workbook: workflows and actions stored under ``<name>.<item>``."""

    name: str
    description: str = ""
    tags: tuple[str, ...] = ()
    workflows: Mapping[str, WorkflowSpec] = field(default_factory=_empty)
    actions: Mapping[str, ActionSpec] = field(default_factory=_empty)
    definition: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowsDocument:
    """A workflow document: ``version`` plus one or more workflows."""

    workflows: Mapping[str, WorkflowSpec]

    def workflow(self, name: str) -> WorkflowSpec | None:
        """The workflow ``name``, or the document's only workflow (a stored definition
        whose name changed since), or None."""
        found = self.workflows.get(name)
        if found is None and len(self.workflows) == 1:
            found = next(iter(self.workflows.values()))
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionsDocument:
    """An ad-hoc action document: ``version`` plus one or more actions."""

    actions: Mapping[str, ActionSpec]
