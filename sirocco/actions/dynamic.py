"""Dynamic actions: action classes defined by Python code uploaded as a code source.

A code source's text is run as a module named after the code source (so that its
classes are ``my_module.Greet``, as Mistral names them), once per version in each
process, and the class a dynamic action names is taken from it. The module runs with
the rights of the process, exactly like an installed ``mistral.actions`` plugin:
there is no sandbox. Whoever may create or update a code source runs code on every
executor and engine of the deployment (``docs/security.md``).
"""

from __future__ import annotations

import threading
import types
from dataclasses import dataclass

from sirocco import errors
from sirocco.actions import registry

#: How a RunAction names a dynamic action: ``dynamic:<code source id>:<class>:<name>``.
PREFIX = "dynamic:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A code source as loaded: its id, module name, version and text."""

    code_source_id: str
    module_name: str
    version: int
    content: str


def run_name(code_source_id: str, class_name: str, action_name: str) -> str:
    """The name under which an executor finds a dynamic action (ids, not names: the
    namespace it was found in is already decided)."""
    return f"{PREFIX}{code_source_id}:{class_name}:{action_name}"


def is_run_name(text: str) -> bool:
    """Whether ``text`` names a dynamic action by its run name."""
    return text.startswith(PREFIX)


def parse_run_name(text: str) -> tuple[str, str, str] | None:
    """``(code_source_id, class_name, action_name)`` of a :func:`run_name`, else None."""
    if not text.startswith(PREFIX):
        return None
    parts = text[len(PREFIX) :].split(":", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


class Modules:
    """The modules of the code sources this process loaded, by id, newest version only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[int, types.ModuleType]] = {}

    def module(self, source: Source) -> types.ModuleType:
        """The module of ``source``, run now unless this version ran already.

        Raises:
            ActionError: the code raised while it ran (a syntax error, a failed import...).
        """
        with self._lock:
            found = self._loaded.get(source.code_source_id)
            if found is not None and found[0] == source.version:
                return found[1]
        module = types.ModuleType(source.module_name)
        module.__file__ = f"<code source {source.module_name} v{source.version}>"
        try:
            code = compile(source.content, module.__file__, "exec")
            exec(code, module.__dict__)
        except BaseException as exc:  # the uploaded code may raise anything, even SystemExit
            where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
            raise errors.ActionError(
                f"Code source {source.module_name} (version {source.version}) failed to load"
                f"{where}: {type(exc).__name__}: {exc}"
            ) from None
        with self._lock:
            self._loaded[source.code_source_id] = (source.version, module)
        return module

    def descriptor(
        self, source: Source, class_name: str, action_name: str
    ) -> registry.ActionDescriptor:
        """The action ``action_name``: class ``class_name`` of ``source``.

        Raises:
            ActionError: the code does not load, has no such class, or it is no action.
        """
        module = self.module(source)
        action_class = getattr(module, class_name, None)
        if action_class is None:
            raise errors.ActionError(
                f"Class {class_name} not found in code source {source.module_name} "
                f"(version {source.version}) [action={action_name}]"
            )
        return registry.describe(
            action_name,
            action_class,
            source=f"code source {source.module_name} v{source.version} ({class_name})",
        )
