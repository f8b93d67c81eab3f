"""A fake of what the engine supplies to Mistral's functions, recording each call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TASKS: dict[str, dict[str, Any]] = {
    "first": {"id": "T1", "name": "first", "state": "SUCCESS", "result": 11, "published": {"p": 1}},
    "second": {"id": "T2", "name": "second", "state": "ERROR", "result": None, "published": {}},
}


@dataclass
class FakeFunctions:
    """Answers like an engine with the two tasks above in execution ``E1``."""

    current_task: str = "second"
    globals: dict[str, Any] = field(default_factory=lambda: {"g": [1, 2]})
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def task(self, name: str | None) -> Mapping[str, Any] | None:
        self.calls.append(("task", (name,)))
        return TASKS.get(name or self.current_task)

    def tasks(
        self, workflow_execution_id: str | None, recursive: bool, state: str | None, flat: bool
    ) -> list[Mapping[str, Any]]:
        self.calls.append(("tasks", (workflow_execution_id, recursive, state, flat)))
        return [task for task in TASKS.values() if state is None or task["state"] == state]

    def execution(self) -> Mapping[str, Any]:
        self.calls.append(("execution", ()))
        return {"id": "E1", "name": "wf", "input": {"a": 1}, "params": {}}

    def executions(
        self,
        id: str | None,
        root_execution_id: str | None,
        state: str | None,
        from_time: str | None,
        to_time: str | None,
    ) -> list[Mapping[str, Any]]:
        self.calls.append(("executions", (id, root_execution_id, state, from_time, to_time)))
        return [{"id": "E1", "state": "RUNNING"}]

    def global_variable(self, name: str) -> Any:
        self.calls.append(("global", (name,)))
        return self.globals.get(name)
