"""The Decision: everything one engine step changed and asks the world to do."""

from __future__ import annotations

from dataclasses import dataclass

from sirocco.engine import commands, records


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of ``start_workflow`` or ``decide``.

    The runtime writes the records and the commands in one transaction, then
    calls ``Snapshot.apply(decision)`` and dispatches the commands.

    Attributes:
        workflows: new or changed workflow executions (normally 0 or 1).
        tasks: new or changed task executions, each at its final value.
        actions: new or changed action executions, each at its final value.
        commands: what to do after the commit, in order.
        problems: engine bugs caught while deciding (normally empty).
    """

    workflows: tuple[records.WorkflowExecution, ...] = ()
    tasks: tuple[records.TaskExecution, ...] = ()
    actions: tuple[records.ActionExecution, ...] = ()
    commands: tuple[commands.Command, ...] = ()
    problems: tuple[str, ...] = ()
