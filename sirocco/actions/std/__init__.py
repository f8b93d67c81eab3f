"""Mistral's standard actions (``std.*``): each a class that declares what it is.

Each module below defines its actions as subclasses of
:class:`~sirocco.actions.std.standard.StandardAction`; defining one registers
it under its names, with its Mistral class, side effects, safe-rerun default
and whether it may run inline (see ``standard.py``).

``std.wait_ssh`` is not here: in Mistral it is an ad-hoc action built on
``std.ssh``, and ad-hoc actions are defined elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sirocco.actions.std import basic, http, javascript, mail, ssh, standard

__all__ = ["STANDARD_ACTIONS", "basic", "http", "javascript", "mail", "ssh", "standard"]

#: Every standard action class by its name.
STANDARD_ACTIONS: Mapping[str, type[standard.StandardAction]] = MappingProxyType(
    dict(sorted(standard.registered().items()))
)


def safe_rerun_by_default(name: str) -> bool:
    """Whether the standard action ``name`` declares that running it again is harmless
    (the default of its task's ``safe-rerun``); False for any other action."""
    action_class = STANDARD_ACTIONS.get(name)
    return action_class is not None and action_class.safe_rerun
