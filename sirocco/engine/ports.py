"""What the engine may ask of the world while deciding: read-only look-ups.

The engine imports no database or action code; the runtime passes an object
with these methods (``sirocco.testing`` has an in-memory one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sirocco.lang import specs


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSignature:
    """The parameters of a system or Python action."""

    name: str
    required: tuple[str, ...] = ()
    optional: Mapping[str, Any] = specs.EMPTY
    accepts_any: bool = False
    is_sync: bool = True


class Lookup(Protocol):
    """Read-only questions the engine asks while it decides."""

    def action_signature(self, name: str) -> ActionSignature | None:
        """The signature of a system/Python action, or None if there is none."""

    def adhoc_action(
        self, name: str, *, namespace: str, workbook: str | None
    ) -> specs.ActionSpec | None:
        """The ad-hoc action that ``name`` resolves to (same workbook first,
        then the namespace, then the default namespace), or None."""

    def item_results(self, task_execution_id: str) -> Sequence[Any]:
        """The accepted results of a with-items task's items, in index order."""

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
