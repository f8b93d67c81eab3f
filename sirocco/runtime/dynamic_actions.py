"""Dynamic actions in a process: found by name for the engine, built by id for the executor.

The engine asks for a dynamic action by the name a task uses, in the workflow's
namespace (then the default one); the signature it gets carries a run name naming
the code source by id and the class (``sirocco.actions.dynamic.run_name``), so the
executor that takes the RunAction builds exactly that class, from the code source's
newest version, without looking the name up again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sirocco import errors
from sirocco.actions import dynamic
from sirocco.actions.registry import ActionDescriptor
from sirocco.store import code_sources
from sirocco.store.database import Connection, Database

_CODE_SOURCE_GONE = "Code source {id} of dynamic action {name} no longer exists"


class DynamicActions:
    """The dynamic actions of one database, their modules loaded once per version."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.modules = dynamic.Modules()

    def find(
        self, connection: Connection, name: str, namespace: str, project_id: str | None = None
    ) -> ActionDescriptor | None:
        """The dynamic action ``name`` as a workflow in ``namespace`` sees it, named by its
        run name; None when there is none. With ``project_id``, only that project's own
        dynamic actions and public ones are found.

        Raises:
            ActionError: its code source fails to load or has no such class.
        """
        found = code_sources.loadable(connection, name, namespace, project_id)
        if found is None:
            return None
        source = dynamic.Source(
            code_source_id=found.code_source_id,
            module_name=found.module_name,
            version=found.version,
            content=found.content,
        )
        descriptor = self.modules.descriptor(source, found.class_name, found.action_name)
        return dataclasses.replace(
            descriptor,
            name=dynamic.run_name(found.code_source_id, found.class_name, found.action_name),
        )

    def find_by_name(
        self, name: str, namespace: str = "", project_id: str | None = None
    ) -> ActionDescriptor | None:
        """:meth:`find` in a connection of its own (direct runs)."""
        with self._database.read() as connection:
            return self.find(connection, name, namespace, project_id)

    def resolve(self, run_name: str) -> ActionDescriptor | None:
        """The action a RunAction names by run name (the registry's resolver), else None.

        Raises:
            ActionError: the code source is gone, fails to load or lacks the class.
        """
        parsed = dynamic.parse_run_name(run_name)
        if parsed is None:
            return None
        code_source_id, class_name, action_name = parsed
        with self._database.read() as connection:
            row: Any = code_sources.code_source_row(connection, code_source_id)
        if row is None:
            raise errors.ActionError(_CODE_SOURCE_GONE.format(id=code_source_id, name=action_name))
        source = dynamic.Source(
            code_source_id=code_source_id,
            module_name=row.name,
            version=int(row.version),
            content=row.content,
        )
        return self.modules.descriptor(source, class_name, action_name)

    def listed(self) -> list[dict[str, Any]]:
        """Every dynamic action as the list of actions shows it (Mistral's action-list
        shows them with the input and description of their class). One whose code fails
        to load is shown without them."""
        with self._database.read() as connection:
            found = code_sources.all_loadable(connection)
        shown: list[dict[str, Any]] = []
        for item in found:
            source = dynamic.Source(
                code_source_id=item.code_source_id,
                module_name=item.module_name,
                version=item.version,
                content=item.content,
            )
            try:
                descriptor = self.modules.descriptor(source, item.class_name, item.action_name)
                text, description = descriptor.input_text, descriptor.description
            except errors.ActionError as exc:
                text, description = "", exc.message
            shown.append(
                {
                    "name": item.action_name,
                    "input": text,
                    "description": description,
                    "is_system": False,
                    "namespace": item.namespace,
                    "scope": item.scope,
                    "project_id": item.project_id,
                }
            )
        return shown
