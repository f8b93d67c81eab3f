"""Read-only dicts and lists for the spec tree, still usable wherever a dict or list is expected.

Parsed specs are cached and shared by every execution of a workflow, so the
data they hold must never change under the engine's feet (Mistral's engine
once merged publish clauses into its cached spec dictionaries). A
:class:`FrozenDict` is a ``dict`` and a :class:`FrozenList` is a ``list``
(``isinstance``, ``json.dumps`` and YAQL's input conversion work as usual) but
every method that would change them raises ``TypeError``. ``copy.copy`` and
``copy.deepcopy`` return plain, changeable dicts and lists.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]


def _read_only(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is read-only: copy it (copy.deepcopy) before changing it"
    )


class FrozenDict(dict[Any, Any]):
    """A dict that refuses to change."""

    __slots__ = ()

    __setitem__ = _read_only
    __delitem__ = _read_only
    __ior__ = _read_only  # type: ignore[assignment]
    clear = _read_only
    pop = _read_only
    popitem = _read_only
    setdefault = _read_only
    update = _read_only

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A list that refuses to change."""

    __slots__ = ()

    __setitem__ = _read_only
    __delitem__ = _read_only
    __iadd__ = _read_only  # type: ignore[assignment]
    __imul__ = _read_only  # type: ignore[assignment]
    append = _read_only
    clear = _read_only
    extend = _read_only
    insert = _read_only
    pop = _read_only
    remove = _read_only
    reverse = _read_only
    sort = _read_only

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(item, memo) for item in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


def freeze(value: Any) -> Any:
    """A read-only deep copy of plain data (dicts and lists become frozen)."""
    if isinstance(value, dict):
        if isinstance(value, FrozenDict):
            return value
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        if isinstance(value, FrozenList):
            return value
        return FrozenList(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, changeable deep copy of frozen data."""
    return copy.deepcopy(value)
