"""What a standard action declares about itself, on its own class.

A standard action is a subclass of :class:`StandardAction` that declares, in
its class body:

* ``names``: the names it is registered under (``("std.echo",)``);
* ``mistral_class``: Mistral's class for it, as Mistral's messages name it
  (``"EchoAction"`` in ``class=mistral.actions.std_actions.EchoAction``);
* ``side_effects``: whether running it may change anything outside Sirocco
  (a request, a mail, a remote command);
* ``safe_rerun``: the default of the task's ``safe-rerun`` for it: whether it
  runs again when the executor it was handed to went away (otherwise it fails
  with Mistral's "cannot be re-run safely" message);
* ``runs_inline(given, timeout)``: whether, with this input, it may run inside
  the engine's step (it has no side effect and takes no time).

Its signature is its constructor, as for any Mistral action (see
``sirocco.actions.signature``). A class that lacks one of these is refused
when it is defined, and defining the class registers it: adding a standard
action is one class (in a module ``sirocco.actions.std`` imports) and its test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from mistral_lib import actions

#: What every standard action declares in its own class body.
DECLARED = ("names", "mistral_class", "side_effects", "safe_rerun", "runs_inline")

#: Where Mistral's standard action classes live (its messages name them with it).
MISTRAL_MODULE = "mistral.actions.std_actions"

_REGISTERED: dict[str, type[StandardAction]] = {}


class StandardAction(actions.Action):  # type: ignore[misc]
    """The base of the ``std.*`` actions: see the module's docstring."""

    names: ClassVar[tuple[str, ...]] = ()
    mistral_class: ClassVar[str] = ""
    side_effects: ClassVar[bool] = True
    safe_rerun: ClassVar[bool] = False
    #: Whether ``run`` reads its context: one that does not is given None, not a context
    #: built for it (an inline action runs once per task).
    reads_context: ClassVar[bool] = True

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        """Whether the action may run inside the step with input ``given``."""
        return False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "names" not in vars(cls):
            return  # a variant of a standard action (limits bound), not a new one
        missing = [name for name in DECLARED if name not in vars(cls)]
        if missing:
            raise TypeError(f"Standard action {cls.__qualname__} does not declare {missing}")
        if cls.side_effects and cls.runs_inline({}, None):
            raise TypeError(f"Standard action {cls.__qualname__} has side effects: not inline")
        for name in cls.names:
            if name in _REGISTERED:
                raise TypeError(f"Two standard actions are named {name}")
            _REGISTERED[name] = cls

    @classmethod
    def mistral_class_path(cls) -> str:
        """``mistral.actions.std_actions.EchoAction``: the class Mistral's messages name."""
        return f"{MISTRAL_MODULE}.{cls.mistral_class}"


def registered() -> dict[str, type[StandardAction]]:
    """Every standard action class defined so far, by name."""
    return dict(_REGISTERED)
