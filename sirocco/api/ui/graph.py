"""A workflow spec as a graph of tasks: nodes, and edges labelled with what links them.

Direct workflows link a task to the next through ``on-success``, ``on-error``,
``on-complete`` (and ``on-skip``); engine commands (``fail``, ``succeed``,
``pause``) become nodes of their own, one per task that names them, so that
they do not tie unrelated branches together. Reverse workflows link a required
task to the task that ``requires`` it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sirocco.lang import specs

#: The ``on-*`` clauses of a task, with the label their edges carry.
_CLAUSES = (
    ("on_success", "on-success"),
    ("on_error", "on-error"),
    ("on_complete", "on-complete"),
    ("on_skip", "on-skip"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A task (or an engine command) of the graph."""

    key: str
    name: str
    kind: str  # "action", "workflow" (a sub-workflow task) or "command"
    target: str = ""  # the action or workflow a task runs
    join: str = ""  # "all", a number, or "" when the task is no join
    with_items: bool = False
    start: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """A link from one node to another, labelled ``on-success``, ``requires``..."""

    source: str
    target: str
    label: str
    condition: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    """The nodes and edges of one workflow, in the order the definition gives them."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def of_workflow(workflow: specs.WorkflowSpec) -> Graph:
    """The graph of ``workflow`` (direct or reverse)."""
    nodes = [_node(task, task.name in workflow.start_tasks) for task in workflow.tasks.values()]
    edges: list[Edge] = []
    if workflow.workflow_type == "reverse":
        for task in workflow.tasks.values():
            edges.extend(
                Edge(source=required, target=task.name, label="requires")
                for required in task.requires
                if required in workflow.tasks
            )
        return Graph(nodes=tuple(nodes), edges=tuple(edges))
    for task in workflow.tasks.values():
        for attribute, label in _CLAUSES:
            clause: specs.OnClause | None = getattr(task, attribute)
            for transition in clause.transitions if clause is not None else ():
                target = transition.name
                if target not in workflow.tasks:
                    if not transition.is_engine_command or target == "noop":
                        continue
                    target = f"{task.name}/{transition.name}"
                    nodes.append(Node(key=target, name=transition.name, kind="command"))
                edges.append(
                    Edge(
                        source=task.name,
                        target=target,
                        label=label,
                        condition=_condition(transition.condition),
                    )
                )
    return Graph(nodes=tuple(nodes), edges=tuple(edges))


def _node(task: specs.TaskSpec, start: bool) -> Node:
    join = "" if task.join is None else str(task.join)
    kind = "workflow" if task.workflow else "action"
    return Node(
        key=task.name,
        name=task.name,
        kind=kind,
        target=task.workflow or task.action or "std.noop",
        join=join,
        with_items=bool(task.with_items),
        start=start,
    )


def _condition(value: object) -> str:
    if value is None or value is True:
        return ""
    return str(value)
