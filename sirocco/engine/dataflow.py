"""Branch contexts as layers: what a task sees without copying what came before it.

A task's outbound context is its inbound context with what it published on
top. Instead of copying, a context is a ``ChainMap`` of the published layers
along its branch; when the chain gets deeper than ``MAX_LAYERS`` it is
flattened into one dict, so lookups stay cheap and memory linear.

Mistral versions every published leaf key (``context_versioning``): a key's
version is how many times it was published along the branch, and when
branches meet (a join, the final context) the value with the higher version
wins, the first context merged in losing ties. Versions are kept the same
way, as layers of ``{"a.b": n}``. Expressions see them as Mistral shows
them, under the key ``__versions`` (each path's md5), in every context that
came out of a task (not in a start task's inbound context).
"""

from __future__ import annotations

import hashlib
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sirocco import references
from sirocco.lang import specs

#: Depth after which a chain of layers is flattened into one dict.
MAX_LAYERS = 32

Value = TypeVar("Value")


def chain(*layers: Mapping[str, Value]) -> ChainMap[str, Value]:
    """A read-only lookup over ``layers``, first hit wins (nothing is copied).

    A layer that is itself a chain gives its layers in its place: a key looked up
    through a task's data (its inbound context's layers under the task's and the
    environment's, over the input) walks one list, not chains inside chains.
    """
    maps: list[MutableMapping[str, Value]] = []
    for layer in cast(tuple[MutableMapping[str, Value], ...], layers):
        if type(layer) is Layers:
            maps += layer.maps
        else:
            maps.append(layer)
    # The list made here is the chain's own: ChainMap's __init__ would copy it again.
    made: Layers[Value] = Layers.__new__(Layers)
    made.maps = maps or [{}]  # as ChainMap: never without a layer
    return made


class Layers(ChainMap[str, Value]):
    """A ``ChainMap`` that asks each layer whether it holds a key before reading it.

    ``ChainMap`` reads each layer and catches the ``KeyError`` of a miss; a key found
    in the workflow input, under the ~35 layers of a long chain's context, raised
    and caught ~35 errors (~1 µs each).
    """

    def __getitem__(self, key: str) -> Value:
        for mapping in self.maps:
            if key in mapping:
                return mapping[key]
        return self.__missing__(key)

    def get(self, key: str, default: Any = None) -> Any:
        for mapping in self.maps:
            if key in mapping:
                return mapping[key]
        return default


@dataclass(frozen=True, slots=True)
class Context:
    """A branch context: values and the version of each published leaf path."""

    values: Mapping[str, Any]
    versions: Mapping[str, int]
    depth: int = 0
    #: Whether the context came out of a task (Mistral then shows ``__versions``).
    versioned: bool = False


EMPTY_CONTEXT = Context(specs.EMPTY, specs.EMPTY, 0)


def extend(context: Context, published: Mapping[str, Any]) -> Context:
    """The context ``published`` makes on top of ``context`` (top-level keys replace)."""
    if not published:
        if context.versioned:
            return context
        return Context(context.values, context.versions, context.depth, versioned=True)
    layer = dict(published)
    version_layer = {path: context.versions.get(path, 0) + 1 for path in leaf_paths(published)}
    depth = context.depth + 1
    if depth > MAX_LAYERS:
        values = _flat(context.values)
        values.update(layer)
        versions = _flat(context.versions)
        versions.update(version_layer)
        return Context(values, versions, 1, versioned=True)
    return Context(
        Layers(layer, *_maps(context.values)),  # the layers below are one chain's: flat
        Layers(version_layer, *_maps(context.versions)),
        depth,
        versioned=True,
    )


def merge(contexts: Sequence[Context]) -> Context:
    """Merge the contexts of branches that meet, as Mistral's versioned merge does.

    The last context is the base; each other one is merged into it in order:
    new keys are added, nested dicts are merged key by key, and a value
    replaces the one already there only if its version is higher.
    """
    if not contexts:
        return EMPTY_CONTEXT
    if len(contexts) == 1:
        return contexts[0]
    base = contexts[-1]
    values: dict[str, Any] = dict(base.values)
    versions: dict[str, int] = dict(base.versions)
    for other in contexts[:-1]:
        right_versions = other.versions
        _merge_values(values, versions, other.values, right_versions, "")
        for path, version in right_versions.items():
            if version > versions.get(path, 0):
                versions[path] = version
    return Context(values, versions, 1, versioned=any(c.versioned for c in contexts))


def _merge_values(
    left: dict[str, Any],
    left_versions: Mapping[str, int],
    right: Mapping[str, Any],
    right_versions: Mapping[str, int],
    prefix: str,
) -> None:
    for key, value in right.items():
        if key not in left:
            left[key] = value
            continue
        path = f"{prefix}.{key}" if prefix else key
        current = _object(left[key])
        value = _object(value)
        if isinstance(current, dict) and isinstance(value, dict):
            copied = dict(current)  # never change a dict another context shares
            _merge_values(copied, left_versions, value, right_versions, path)
            left[key] = copied
        elif right_versions.get(path, 0) > left_versions.get(path, 0):
            left[key] = value


def _object(value: Any) -> Any:
    """A value stored by reference that is an object, loaded (branches merge it by key)."""
    if type(value) is references.Blob and value.is_object:
        return value.load()
    return value


def leaf_paths(published: Mapping[str, Any], prefix: str = "") -> Iterable[str]:
    """The dotted paths of the non-dict values in ``published``."""
    for key, value in published.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if type(value) is references.Blob and value.is_object:
            value = value.load()  # its keys are versioned one by one
        if isinstance(value, dict) and value:
            yield from leaf_paths(value, path)
        elif not isinstance(value, dict):
            yield path


def visible(context: Context) -> Mapping[str, Any]:
    """The values expressions see: with ``__versions`` once the context came out of a task."""
    if not context.versioned:
        return context.values
    return chain(context.values, {VERSIONS_KEY: HashedVersions(context.versions)})


#: The key under which Mistral shows the versions of a context.
VERSIONS_KEY = "__versions"


class HashedVersions(Mapping[str, int]):
    """The versions keyed by the md5 of each path, as Mistral shows them, hashed when read."""

    __slots__ = ("_hashed", "_versions")

    def __init__(self, versions: Mapping[str, int]) -> None:
        self._versions = versions
        self._hashed: dict[str, int] | None = None

    def _data(self) -> dict[str, int]:
        if self._hashed is None:
            self._hashed = {
                hashlib.md5(path.encode("utf-8"), usedforsecurity=False).hexdigest(): version
                for path, version in dict(self._versions).items()
            }
        return self._hashed

    def __getitem__(self, key: str) -> int:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


def as_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict of a context's values (for a workflow output)."""
    return dict(values)


def _flat(values: Mapping[str, Value]) -> dict[str, Value]:
    """A new dict of what ``values`` shows: a chain's layers copied from the bottom up,
    first hit winning (a lookup per key through every layer cost far more)."""
    flat: dict[str, Value] = {}
    for layer in reversed(_maps(values)):
        flat.update(layer)
    return flat


def _maps(values: Mapping[str, Value]) -> list[MutableMapping[str, Value]]:
    if isinstance(values, ChainMap):
        return list(values.maps)
    if not values:
        return []
    return [cast(MutableMapping[str, Value], values)]
