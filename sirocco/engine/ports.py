"""What the engine may ask of the world while deciding: read-only look-ups.

The engine imports no database or action code; the runtime passes an object
with these methods (``sirocco.testing`` has an in-memory one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sirocco.engine import records
from sirocco.lang import specs


def _empty() -> Mapping[str, Any]:
    return specs.EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSignature:
    """The parameters of a system or Python action."""

    name: str
    required: tuple[str, ...] = ()
    optional: Mapping[str, Any] = field(default_factory=_empty)
    accepts_any: bool = False
    is_sync: bool = True
    #: The class Mistral names in "Invalid input [name=..., class=...]".
    class_name: str = ""
    #: The name an executor runs it by, when not ``name`` (a dynamic action's).
    run_name: str = ""


class Lookup(Protocol):
    """Read-only questions the engine asks while it decides."""

    def action_signature(self, name: str, *, namespace: str = "") -> ActionSignature | None:
        """The signature of a system/Python action, or of a dynamic action found in
        ``namespace`` (then the default one), or None if there is none."""

    def adhoc_action(
        self, name: str, *, namespace: str, workbook: str | None
    ) -> specs.ActionSpec | None:
        """The ad-hoc action that ``name`` resolves to (same workbook first,
        then the namespace, then the default namespace), or None."""

    def item_results(self, task_execution_id: str) -> Sequence[Any]:
        """The accepted results of a with-items task's items, in index order."""

    def item_results_between(self, task_execution_id: str, start: int, stop: int) -> Sequence[Any]:
        """The accepted results of a with-items task's action items whose index is in
        ``[start, stop)``, in index order (the newest for an index run again)."""

    def joined_results(self, whole: list[Any], parts: Sequence[Sequence[Any]]) -> None:
        """``whole`` is ``parts`` (lists :meth:`item_results_between` returned) one
        after the other: the store may then write it from their texts instead of
        encoding it again. A hint only; nothing read changes."""

    def task_action_executions(self, task_execution_id: str) -> Sequence[records.ActionExecution]:
        """All action executions of a task, in creation order (accepted or not).

        The engine asks only on rare paths: rerun, retry of a with-items task
        and the failure message of a workflow.
        """

    def task_executions(self, workflow_execution_id: str) -> Sequence[Mapping[str, Any]]:
        """``task()``-style dicts of another execution's tasks (for ``tasks(id)``)."""

    def executions(
        self,
        *,
        id: str | None,
        root_execution_id: str | None,
        state: str | None,
        from_time: str | None,
        to_time: str | None,
    ) -> Sequence[Mapping[str, Any]]:
        """``execution()``-style dicts of workflow executions matching the filters."""
