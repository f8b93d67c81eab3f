"""The budget of expression evaluations: how many items, how many bytes, how much time.

The caller makes a :class:`Budget` (the engine makes one per step) from the
process's :class:`~sirocco.limits.Limits` and, for the time limits, a clock it
passes in (the expressions never read the time themselves). While an
expression evaluates, its budget is the thread's current one, so the checks
deep inside YAQL's and Jinja's evaluation (every function call, every item of
a collection, every rendered piece of text) find it without threading it
through those libraries.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from sirocco import errors, limits


class LimitExceeded(errors.ExpressionEvaluationError):
    """An expression exceeded a limit; the message names the limit and its setting."""


def items_problem(max_items: int) -> str:
    return f"the limit of {max_items} items per collection (SIROCCO_EXPRESSION_MAX_ITEMS)"


def bytes_problem(max_bytes: int) -> str:
    return f"the limit of {max_bytes} bytes per value (SIROCCO_EXPRESSION_MAX_BYTES)"


#: The largest integer an expression may compute, in bytes: multiplying larger ones
#: again and again takes minutes long before they fill memory.
MAX_NUMBER_BYTES = 64 * limits.KIB


def number_problem() -> str:
    return f"the limit of {MAX_NUMBER_BYTES} bytes per number"


class Budget:
    """What the evaluations of one engine step may still spend.

    Args:
        limits: the sizes and times allowed.
        clock: seconds from any fixed origin (``time.monotonic``); without it
            the time limits are not checked.
    """

    __slots__ = ("_deadline", "_per_step", "_spent", "_started", "_ticks", "clock", "limits")

    def __init__(
        self, limits_: limits.Limits = limits.DEFAULT, clock: Callable[[], float] | None = None
    ) -> None:
        self.limits = limits_
        self.clock = clock
        self._ticks = 0
        self._deadline: float | None = None
        self._per_step = False
        #: Seconds the step's expressions evaluated so far, and when the current one began.
        self._spent = 0.0
        self._started: float | None = None

    def begin(self) -> None:
        """Start the clock of one expression (the step's time counts only while one runs)."""
        if self.clock is None:
            return
        now = self._started = self.clock()
        per_expression = self.limits.expression_timeout
        deadline = now + per_expression if per_expression >= 0 else None
        self._per_step = False
        per_step = self.limits.step_expression_timeout
        step_deadline = now + per_step - self._spent if per_step >= 0 else None
        if step_deadline is not None and (deadline is None or step_deadline < deadline):
            deadline = step_deadline
            self._per_step = True
        self._deadline = deadline
        self.check_time()

    def _problem(self) -> str:
        """Which time limit the current expression's deadline is (worded when it is hit)."""
        if self._per_step:
            return (
                f"the evaluation time limit of {self.limits.step_expression_timeout:g} s "
                "per engine step (SIROCCO_STEP_EXPRESSION_TIMEOUT)"
            )
        return (
            f"the evaluation time limit of {self.limits.expression_timeout:g} s per expression "
            "(SIROCCO_EXPRESSION_TIMEOUT)"
        )

    def end(self) -> None:
        """Stop the clock of the expression that began last."""
        if self.clock is not None and self._started is not None:
            self._spent += self.clock() - self._started
            self._started = None
            self._deadline = None

    def tick(self) -> None:
        """Called at every unit of work; looks at the clock every 16th time."""
        self._ticks += 1
        if not self._ticks & 15:
            self.check_time()

    def check_time(self) -> None:
        if self._deadline is not None and self.clock is not None and self.clock() > self._deadline:
            raise LimitExceeded(self._problem())

    def check_number(self, value: int) -> None:
        if value.bit_length() > 8 * MAX_NUMBER_BYTES:
            raise LimitExceeded(number_problem())

    def check_bytes(self, size: int) -> None:
        maximum = self.limits.expression_max_bytes
        if 0 <= maximum < size:
            raise LimitExceeded(bytes_problem(maximum))


_UNLIMITED_TIME = Budget()
_local = threading.local()


def current() -> Budget:
    """The budget of the evaluation running in this thread (the default limits, no clock)."""
    found: Budget | None = getattr(_local, "budget", None)
    return _UNLIMITED_TIME if found is None else found


def enter(budget: Budget | None) -> Budget | None:
    """Make ``budget`` the thread's current one; returns the one to give back to :func:`leave`."""
    previous: Budget | None = getattr(_local, "budget", None)
    _local.budget = budget
    return previous


def leave(previous: Budget | None) -> None:
    _local.budget = previous


@contextlib.contextmanager
def active(budget: Budget) -> Iterator[Budget]:
    """Make ``budget`` the thread's current one while one expression evaluates."""
    previous = enter(budget)
    budget.begin()
    try:
        yield budget
    finally:
        budget.end()
        leave(previous)
