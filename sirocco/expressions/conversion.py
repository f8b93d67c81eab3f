"""How data enters and leaves the expression languages: lazy frozen views in, plain Python out.

Mistral converts the whole data context to YAQL's immutable types before every
YAQL evaluation, which costs time in proportion to the context even when the
expression reads one key. :func:`freeze` instead wraps a mapping in a
:class:`FrozenView` that converts a value only when the expression reads it,
so an evaluation costs what it touches. :func:`plain` turns whatever an
expression returns into fresh built-in values (dicts, lists), so a caller can
keep or change a result without touching the data it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from typing import Any

from yaql.language import utils as yaql_utils

from sirocco import references

_SCALAR_TYPES = (str, int, float, type(None))
_EXACT_SCALARS = frozenset({str, int, float, bool, type(None)})


class FrozenView(Mapping[Any, Any]):
    """A read-only, hashable view of a mapping that freezes each value as it is read.

    It stands where YAQL's ``FrozenDict`` would stand after Mistral's input
    conversion: equal to a mapping with the same items, hashable, printed like
    the frozen dictionary (lists shown as tuples), but built in constant time.
    """

    __slots__ = ("_hash", "_source")

    def __init__(self, source: Mapping[Any, Any]) -> None:
        self._source = source
        self._hash: int | None = None

    def __getitem__(self, key: Any) -> Any:
        return freeze(self._source[key])

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            value = self._source[key]
        except KeyError:
            return default
        return freeze(value)

    def __contains__(self, key: object) -> bool:
        return key in self._source

    def __iter__(self) -> Iterator[Any]:
        return iter(self._source)

    def __len__(self) -> int:
        return len(self._source)

    def __hash__(self) -> int:
        if self._hash is None:
            combined = 0
            for item in self.items():
                combined ^= hash(item)
            self._hash = combined
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def freeze(value: Any) -> Any:
    """Return ``value`` as YAQL's input conversion would see it, converting lazily.

    Mappings become :class:`FrozenView` (no copy), sequences become tuples of
    frozen items, mutable sets become frozensets; other values pass unchanged.
    """
    if isinstance(value, _SCALAR_TYPES):
        return value
    if type(value) is references.Blob:
        return freeze(value.load())  # a value stored by reference loads when it is read
    if isinstance(value, FrozenView | yaql_utils.FrozenDict):
        return value
    if isinstance(value, Mapping):
        return FrozenView(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return tuple(freeze(item) for item in value)
    if isinstance(value, Set) and not isinstance(value, frozenset):
        return frozenset(freeze(item) for item in value)
    return value


def plain(value: Any) -> Any:
    """Return a fresh copy of ``value`` made of built-in types.

    Mappings become dicts, lists, tuples and other iterables (generators,
    dictionary views) become lists, sets become sets, string subclasses become
    ``str``; numbers, ``None`` and other objects (dates, for instance) are kept.
    Iterating a Jinja ``StrictUndefined`` found inside raises its error.
    """
    if type(value) in _EXACT_SCALARS:
        return value
    if type(value) is references.Blob:
        return plain(value.load())
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if _EXACT_SCALARS.issuperset(map(type, value)):
            return list(value)  # no call per element (a list of a million numbers)
        return [plain(item) for item in value]
    if isinstance(value, Set):
        return set(value)
    if isinstance(value, Iterable) and not isinstance(value, bytes | bytearray):
        return [plain(item) for item in value]
    return value
