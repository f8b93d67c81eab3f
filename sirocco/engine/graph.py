"""Facts about a workflow's task graph, computed once per spec.

For direct workflows: the tasks each task can reach (its outbound names) and
the joins a task's completion may unblock or fail. For reverse workflows:
the tasks a target needs, in the order Mistral runs them, and who depends on
whom.
"""

from __future__ import annotations

from collections.abc import Mapping

from sirocco.lang import specs


class Graph:
    """Graph facts of one workflow spec (lazily computed, then cached)."""

    def __init__(self, spec: specs.WorkflowSpec) -> None:
        self.spec = spec
        self._outbound: dict[str, tuple[str, ...]] = {}
        self._affected_joins: dict[str, tuple[str, ...]] = {}
        self._has_joins = any(task.is_join for task in spec.tasks.values())
        self._dependents: dict[str, tuple[str, ...]] | None = None
        self._plans: dict[str, tuple[str, ...]] = {}
        self._plan_members: dict[str, frozenset[str]] = {}

    def outbound(self, task_name: str) -> tuple[str, ...]:
        """Names (tasks or engine commands) mentioned in the task's ``on-*`` clauses."""
        found = self._outbound.get(task_name)
        if found is None:
            task = self.spec.tasks.get(task_name)
            names: dict[str, None] = {}
            if task is not None:
                for _, clause in task.clauses():
                    for transition in clause.transitions:
                        names[transition.name] = None
            found = tuple(names)
            self._outbound[task_name] = found
        return found

    def affected_joins(self, task_name: str) -> tuple[str, ...]:
        """Joins reachable from ``task_name`` through tasks that are not joins."""
        if not self._has_joins:
            return ()
        found = self._affected_joins.get(task_name)
        if found is not None:
            return found
        tasks = self.spec.tasks
        joins: dict[str, None] = {}
        visited = {task_name}
        pending = list(self.outbound(task_name))
        while pending:
            name = pending.pop()
            if name in visited:
                continue
            visited.add(name)
            task = tasks.get(name)
            if task is None or name in specs.ENGINE_COMMANDS:
                continue
            if task.is_join:
                joins[name] = None
                continue
            pending.extend(self.outbound(name))
        found = tuple(joins)
        self._affected_joins[task_name] = found
        return found

    # Reverse workflows.

    def requirements_order(self, target: str) -> tuple[str, ...]:
        """The target and what it needs, dependencies first (DFS post-order)."""
        found = self._plans.get(target)
        if found is None:
            found = self._plans[target] = self._requirements_order(target)
        return found

    def requirements_of(self, target: str) -> frozenset[str]:
        """The target and every task it needs, as a set."""
        found = self._plan_members.get(target)
        if found is None:
            found = self._plan_members[target] = frozenset(self.requirements_order(target))
        return found

    def _requirements_order(self, target: str) -> tuple[str, ...]:
        tasks = self.spec.tasks
        order: list[str] = []
        seen: set[str] = set()
        stack: list[tuple[str, int]] = [(target, 0)]
        seen.add(target)
        while stack:
            name, position = stack.pop()
            requires = tasks[name].requires if name in tasks else ()
            if position < len(requires):
                stack.append((name, position + 1))
                dependency = requires[position]
                if dependency not in seen and dependency in tasks:
                    seen.add(dependency)
                    stack.append((dependency, 0))
            else:
                order.append(name)
        return tuple(order)

    def dependents(self) -> Mapping[str, tuple[str, ...]]:
        """For each task, the tasks whose ``requires`` name it."""
        if self._dependents is None:
            found: dict[str, list[str]] = {}
            for task in self.spec.tasks.values():
                for dependency in task.requires:
                    found.setdefault(dependency, []).append(task.name)
            self._dependents = {name: tuple(names) for name, names in found.items()}
        return self._dependents
