"""Parsed specs, cached by their definition text so that a text is parsed once per process."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from sirocco import errors, lang
from sirocco.lang import specs


class SpecCache:
    """Workflow and ad-hoc action specs by (name, definition text, workbook)."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._workflows: OrderedDict[tuple[str, str, str | None], specs.WorkflowSpec] = (
            OrderedDict()
        )
        self._actions: OrderedDict[tuple[str, str, str | None], specs.ActionSpec] = OrderedDict()

    def workflow(self, name: str, definition: str, workbook: str | None) -> specs.WorkflowSpec:
        """The spec of workflow ``name`` in ``definition`` (raises DefinitionError)."""
        key = (name, _digest(definition), workbook)
        with self._lock:
            found = self._workflows.get(key)
            if found is not None:
                self._workflows.move_to_end(key)
                return found
        document = lang.parse_workflows(definition, workbook=workbook)
        spec = document.workflow(name)
        if spec is None:
            raise errors.DefinitionError(f"Workflow '{name}' is not in its definition.")
        with self._lock:
            self._workflows[key] = spec
            if len(self._workflows) > self._size:
                self._workflows.popitem(last=False)
        return spec

    def action(self, name: str, definition: str, workbook: str | None) -> specs.ActionSpec:
        """The spec of ad-hoc action ``name`` in ``definition``."""
        key = (name, _digest(definition), workbook)
        with self._lock:
            found = self._actions.get(key)
            if found is not None:
                return found
        document = lang.parse_actions(definition, workbook=workbook)
        short = name.split(".", 1)[1] if workbook and name.startswith(workbook + ".") else name
        spec = document.actions.get(name) or document.actions.get(short)
        if spec is None and len(document.actions) == 1:
            spec = next(iter(document.actions.values()))
        if spec is None:
            raise errors.DefinitionError(f"Action '{name}' is not in its definition.")
        with self._lock:
            self._actions[key] = spec
            if len(self._actions) > self._size:
                self._actions.popitem(last=False)
        return spec


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
