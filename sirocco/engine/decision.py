"""The Decision: everything one engine step changed and asks the world to do."""

from __future__ import annotations

from dataclasses import dataclass, field

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
        indexed: the snapshot's task index when ``decide`` put the tasks in it already
            (``in_place``); ``Snapshot.apply`` then leaves that index as it is.
        created: with ``indexed``, the ids of the tasks that index did not hold before.
    """

    workflows: tuple[records.WorkflowExecution, ...] = ()
    tasks: tuple[records.TaskExecution, ...] = ()
    actions: tuple[records.ActionExecution, ...] = ()
    commands: tuple[commands.Command, ...] = ()
    problems: tuple[str, ...] = ()
    #: A ``TaskIndex`` (compared by identity only: this module sits below ``index``).
    indexed: object = field(default=None, compare=False, repr=False)
    created: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
