"""The action registry: every Python action Sirocco can run, by name.

Three sources, in this order:

1. the standard actions (``std.*``), always;
2. the entry point group ``mistral.actions`` of installed distributions (the
   entry point's name is the action's name), as Mistral's legacy provider
   reads it, so packages written for Mistral plug in unchanged;
3. the ``modules`` given: ``"NAME=package.module:Class"`` names the action;
   a bare ``"package.module:Class"`` or ``"package.module.Class"`` is named by
   its dotted class path (``package.module.Class``).

A plugin that cannot be imported, is not a class or has no ``run`` is skipped
with a logged warning; it never stops the registry from loading. The names of
standard actions cannot be taken by plugins (an installed Mistral declares its
own ``std.*`` entry points; they are ignored).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mistral_lib import actions

from sirocco import errors
from sirocco.actions import signature
from sirocco.actions.std import STANDARD_ACTIONS, javascript
from sirocco.actions.std.standard import StandardAction
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits

logger = logging.getLogger(__name__)

#: The entry point group Mistral loads Python actions from.
ENTRY_POINT_GROUP = "mistral.actions"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionDescriptor:
    """One registered action: its name, class and what Mistral's API shows of it.

    Attributes:
        name: the action's name, e.g. ``"std.echo"``.
        action_class: the Python class (normally a ``mistral_lib.actions.Action``).
        input_text: the parameters as Mistral's API shows them, e.g. ``"output, delay=0"``.
        description: the action's description (its class docstring by default).
        is_sync: False when the action completes later through the API.
        is_system: True for the built-in ``std.*`` actions.
        source: where the action comes from: ``"built-in"``, the distribution that
            declares its entry point (``"acme-actions 1.0 (acme_actions:Checksum)"``),
            or ``"module acme_actions:Checksum"``.
        side_effects: whether running it may change anything outside Sirocco (a
            standard action declares it; any other action is taken to have some).
        safe_rerun: the default of its task's ``safe-rerun`` (declared by a
            standard action; False for any other).
    """

    name: str
    action_class: type
    input_text: str
    description: str
    is_sync: bool
    is_system: bool
    source: str = ""
    side_effects: bool = True
    safe_rerun: bool = False

    @property
    def class_path(self) -> str:
        """``module.ClassName`` of the action class, as Mistral's messages name it (the
        std actions by the names of Mistral's own classes, which users' checks quote)."""
        if self.is_system and issubclass(self.action_class, StandardAction):
            return self.action_class.mistral_class_path()
        return f"{self.action_class.__module__}.{self.action_class.__qualname__}"

    def runs_inline(self, given: Mapping[str, Any], timeout: float | None) -> bool:
        """Whether, with input ``given``, it may run inside the engine's step (a standard
        action without side effects that takes no time says so; never another action)."""
        if self.is_system and issubclass(self.action_class, StandardAction):
            return self.action_class.runs_inline(given, timeout)
        return False


def describe(
    name: str,
    action_class: type,
    *,
    description: str = "",
    is_system: bool = False,
    source: str = "",
) -> ActionDescriptor:
    """Build the descriptor of an action class (its input text and sync-ness by introspection).

    Args:
        name: the action's name.
        action_class: the action's class.
        description: the description; the class docstring when empty.
        is_system: whether this is a built-in action.
        source: where it comes from (see :class:`ActionDescriptor`).

    Returns:
        The descriptor.

    Raises:
        ActionError: ``action_class`` is not a class with a ``run`` method.
    """
    if not inspect.isclass(action_class) or not callable(getattr(action_class, "run", None)):
        raise errors.ActionError(
            f"Not an action class (a class with a run method): {action_class!r}"
        )
    standard = action_class if is_system and issubclass(action_class, StandardAction) else None
    return ActionDescriptor(
        name=name,
        action_class=action_class,
        input_text=signature.input_text(action_class),
        description=description or inspect.getdoc(action_class) or "",
        is_sync=_class_is_sync(action_class),
        is_system=is_system,
        source=source or ("built-in" if is_system else ""),
        side_effects=standard.side_effects if standard is not None else True,
        safe_rerun=standard.safe_rerun if standard is not None else False,
    )


class ActionRegistry:
    """The Python actions known to this process, by name."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        modules: Sequence[str] = (),
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """Load the standard actions, then the plugins.

        Args:
            load_entry_points: read the ``mistral.actions`` entry points.
            modules: extra action classes, ``"NAME=package.module:Class"`` or a bare class path.
            limits: the time and memory of each ``std.javascript`` call.
        """
        limited = javascript.with_limits(limits)
        self._descriptors: dict[str, ActionDescriptor] = {
            name: describe(
                name,
                limited if action_class is javascript.JavaScriptAction else action_class,
                is_system=True,
            )
            for name, action_class in STANDARD_ACTIONS.items()
        }
        # Reading the entry points scans every installed distribution: done when an action
        # is not found otherwise, or all are listed, so that a run of std actions skips it.
        self._entry_points_pending = load_entry_points
        self._entry_points_lock = threading.Lock()
        self._resolver: Callable[[str], ActionDescriptor | None] | None = None
        for module_spec in modules:
            self._load_module_spec(module_spec)

    def get(self, name: str) -> ActionDescriptor | None:
        """The action called ``name``, or None.

        Raises:
            ActionError: the resolver found the action but could not build it (a dynamic
                action whose code source fails to load).
        """
        found = self._descriptors.get(name)
        if found is None and self._entry_points_pending:
            self._load_pending_entry_points()
            found = self._descriptors.get(name)
        if found is None and self._resolver is not None:
            found = self._resolver(name)
        return found

    def attach_resolver(self, resolver: Callable[[str], ActionDescriptor | None]) -> None:
        """Ask ``resolver`` for names nothing registered has: the runtime resolves the
        names it gave dynamic actions (``sirocco.actions.dynamic.run_name``) through it."""
        self._resolver = resolver

    def list(self) -> list[ActionDescriptor]:
        """Every action, sorted by name."""
        self._load_pending_entry_points()
        return [self._descriptors[name] for name in sorted(self._descriptors)]

    def register(self, name: str, action_class: type, *, description: str = "") -> None:
        """Add an action, replacing any action of that name (a standard one included).

        Raises:
            ActionError: ``action_class`` is not a class with a ``run`` method.
        """
        self._descriptors[name] = describe(
            name, action_class, description=description, source="registered in code"
        )

    def _load_pending_entry_points(self) -> None:
        with self._entry_points_lock:
            if self._entry_points_pending:
                self._load_entry_points()
                self._entry_points_pending = False

    def _load_entry_points(self) -> None:
        # Module specs and actions registered in code were added first; they keep their names.
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            name = entry_point.name
            if name in STANDARD_ACTIONS:
                logger.debug("Built-in action name in a plugin ignored", extra={"action": name})
                continue
            if name in self._descriptors:
                _skip(name, entry_point.value, "an action of that name is already registered")
                continue
            try:
                loaded = entry_point.load()
            except Exception as error:
                _skip(name, entry_point.value, f"{type(error).__name__}: {error}")
                continue
            self._add_plugin(name, loaded, entry_point.value, _distribution(entry_point))

    def _load_module_spec(self, module_spec: str) -> None:
        name, equals, path = module_spec.partition("=")
        if not equals:
            name, path = "", module_spec
        name, path = name.strip(), path.strip()
        try:
            loaded = import_class_path(path)
        except Exception as error:
            _skip(name or path, path, f"{type(error).__name__}: {error}")
            return
        name = name or f"{loaded.__module__}.{loaded.__qualname__}"
        if name in STANDARD_ACTIONS:
            _skip(name, path, "the name of a standard action")
            return
        self._add_plugin(name, loaded, path, f"module {path}")

    def _add_plugin(self, name: str, loaded: Any, source: str, origin: str) -> None:
        try:
            self._descriptors[name] = describe(name, loaded, source=origin)
        except errors.ActionError:
            _skip(name, source, "not a class with a run method")
            return
        logger.debug("Action plugin registered", extra={"action": name, "source": source})


def import_class_path(path: str) -> Any:
    """Import ``package.module:Class`` (or ``package.module.Class``) and return the object.

    Raises:
        ImportError, AttributeError, ValueError: the path does not lead to an object.
    """
    module_name, colon, attribute_path = path.partition(":")
    if not colon:
        module_name, _, attribute_path = path.rpartition(".")
    if not module_name or not attribute_path:
        raise ValueError(f"Not a class path: {path!r}")
    loaded: Any = importlib.import_module(module_name)
    for attribute in attribute_path.split("."):
        loaded = getattr(loaded, attribute)
    return loaded


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    """``"acme-actions 1.0 (acme_actions:Checksum)"``: who declares the entry point."""
    distribution = entry_point.dist
    if distribution is None:
        return f"entry point {entry_point.value}"
    return f"{distribution.name} {distribution.version} ({entry_point.value})"


def _skip(name: str, source: str, reason: str) -> None:
    logger.warning(
        "Action plugin skipped", extra={"action": name, "source": source, "reason": reason}
    )


def _class_is_sync(action_class: type) -> bool:
    """Whether instances of the class are synchronous, asked without calling the constructor.

    ``is_sync`` is an instance method; nearly every action answers it without
    looking at its parameters, so it is asked of an instance made without
    ``__init__``. If that fails the action counts as synchronous.
    """
    method = getattr(action_class, "is_sync", None)
    if method is None or method is actions.Action.is_sync:
        return True
    try:
        bare: Any = action_class
        return bool(method(bare.__new__(bare)))
    except Exception:
        return True
