"""Workflow, task and action states and the transitions allowed between them.

The rules, as Mistral has them (same-state is always allowed):

    IDLE      -> RUNNING, ERROR, CANCELLED
    WAITING   -> RUNNING
    RUNNING   -> PAUSED, DELAYED, SUCCESS, ERROR, CANCELLED
    DELAYED   -> RUNNING, ERROR, CANCELLED
    PAUSED    -> RUNNING, ERROR, CANCELLED
    SUCCESS   -> (none)
    CANCELLED -> RUNNING (rerun)
    ERROR     -> RUNNING (rerun), SKIPPED (skip)

The API spells ``RUNNING_DELAYED`` as ``DELAYED``; so do we.
"""

from __future__ import annotations

from enum import StrEnum

from sirocco import errors


class State(StrEnum):
    """The state of a workflow, task or action execution."""

    IDLE = "IDLE"
    WAITING = "WAITING"
    RUNNING = "RUNNING"
    DELAYED = "DELAYED"
    PAUSED = "PAUSED"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"


_ALLOWED: dict[State, frozenset[State]] = {
    State.IDLE: frozenset({State.RUNNING, State.ERROR, State.CANCELLED}),
    State.WAITING: frozenset({State.RUNNING}),
    State.RUNNING: frozenset(
        {State.PAUSED, State.DELAYED, State.SUCCESS, State.ERROR, State.CANCELLED}
    ),
    State.DELAYED: frozenset({State.RUNNING, State.ERROR, State.CANCELLED}),
    State.PAUSED: frozenset({State.RUNNING, State.ERROR, State.CANCELLED}),
    State.SUCCESS: frozenset(),
    State.CANCELLED: frozenset({State.RUNNING}),
    State.ERROR: frozenset({State.RUNNING, State.SKIPPED}),
    State.SKIPPED: frozenset(),
}

#: States in which a task or action has finished.
COMPLETED: frozenset[State] = frozenset(
    {State.SUCCESS, State.ERROR, State.CANCELLED, State.SKIPPED}
)
#: States in which a workflow has ended.
TERMINAL: frozenset[State] = frozenset({State.SUCCESS, State.ERROR, State.CANCELLED})
#: Task states that keep a workflow from completing.
INCOMPLETE: frozenset[State] = frozenset(
    {State.IDLE, State.WAITING, State.RUNNING, State.DELAYED, State.PAUSED}
)


def is_valid_transition(current: State, new: State) -> bool:
    """Whether ``current -> new`` is allowed by the table above."""
    return current == new or new in _ALLOWED[current]


def check_transition(current: State, new: State, *, what: str = "execution") -> State:
    """Return ``new`` if ``current -> new`` is allowed, else raise InvalidStateError."""
    if not is_valid_transition(current, new):
        raise errors.InvalidStateError(f"Can't change state of the {what} from {current} to {new}.")
    return new


#: Task state changes the engine makes. Mistral does not check task changes
#: against the workflow table above (it compares and sets); this table lists
#: the ones its engine performs, so that a change outside it is caught as a bug.
_TASK_ALLOWED: dict[State, frozenset[State]] = {
    State.IDLE: frozenset({State.RUNNING, State.WAITING, State.ERROR, State.CANCELLED}),
    State.WAITING: frozenset({State.RUNNING, State.ERROR, State.CANCELLED}),
    State.RUNNING: frozenset(
        {
            State.IDLE,  # pause-before
            State.DELAYED,
            State.PAUSED,
            State.SUCCESS,
            State.ERROR,
            State.CANCELLED,
        }
    ),
    State.DELAYED: frozenset(
        {State.RUNNING, State.WAITING, State.SUCCESS, State.ERROR, State.CANCELLED}
    ),
    State.PAUSED: frozenset({State.RUNNING, State.SUCCESS, State.ERROR, State.CANCELLED}),
    # wait-after, retry (continue-on) and fail-on act on a completed task.
    State.SUCCESS: frozenset({State.DELAYED, State.WAITING, State.ERROR}),
    State.ERROR: frozenset({State.RUNNING, State.WAITING, State.DELAYED, State.SKIPPED}),
    State.CANCELLED: frozenset({State.RUNNING, State.WAITING, State.DELAYED}),
    State.SKIPPED: frozenset({State.WAITING}),
}


def is_task_transition(current: State, new: State) -> bool:
    """Whether the engine may move a task from ``current`` to ``new``."""
    return current == new or new in _TASK_ALLOWED[current]


def check_task_transition(current: State, new: State) -> State:
    """Return ``new`` if the engine may move a task from ``current`` to ``new``.

    Raises:
        InvalidStateError: the change is not one the engine makes (a bug).
    """
    if current != new and new not in _TASK_ALLOWED[current]:
        raise errors.InvalidStateError(
            f"Can't change state of the task execution from {current} to {new}."
        )
    return new


def is_completed(state: State) -> bool:
    return state in COMPLETED


def is_terminal(state: State) -> bool:
    return state in TERMINAL
