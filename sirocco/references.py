"""Large values by reference (a claim check): what a record holds in place of a stored value.

A value larger than the blob threshold (``SIROCCO_BLOB_THRESHOLD``) is stored
once, keyed by the SHA-256 of its JSON text (``sirocco.store.blobs``); the
row keeps a small reference, ``{"$sirocco.blob": digest, "bytes": n, "kind":
k}``. Read back, a reference becomes a :class:`Blob`: it holds the digest and
a loader that the store injected, and loads the value only when something
reads it (an expression, the API, an action's input). References stand only
at the top of a stored field (or one level down in a mapping field such as
``published`` or ``input``); a value nested deeper is always stored inline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: The key that marks a stored reference.
REF_KEY = "$sirocco.blob"
#: ``kind`` of a reference to a JSON object (the engine merges and versions those by key).
OBJECT = "object"
#: ``kind`` of a reference to any other JSON value.
OTHER = "other"

Loader = Callable[[str], Any]


class BlobMissingError(LookupError):
    """A stored value's blob is not in the database (deleted with every execution that used it)."""


class Blob:
    """A value stored by reference: its digest, its JSON size, and how to load it.

    Two blobs are equal when their digests are; a blob compared to a plain
    value loads itself. ``str()`` and ``repr()`` are those of the value, as
    Mistral's text splicing expects.
    """

    __slots__ = ("_loader", "digest", "kind", "size")

    def __init__(self, digest: str, size: int, kind: str, loader: Loader) -> None:
        self.digest = digest
        self.size = size
        self.kind = kind
        self._loader = loader

    @property
    def is_object(self) -> bool:
        """Whether the value is a JSON object (known without loading it)."""
        return self.kind == OBJECT

    def load(self) -> Any:
        """The value (from the store's cache, else from the database).

        Raises:
            BlobMissingError: the blob was deleted.
        """
        return self._loader(self.digest)

    def reference(self) -> dict[str, Any]:
        """The reference a row stores for this value."""
        return reference(self.digest, self.size, self.kind)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Blob):
            return self.digest == other.digest
        return bool(self.load() == other)

    def __hash__(self) -> int:
        return hash(self.digest)

    def __str__(self) -> str:
        return str(self.load())

    def __repr__(self) -> str:
        return repr(self.load())


def reference(digest: str, size: int, kind: str) -> dict[str, Any]:
    """The reference a row stores for a value of ``size`` JSON bytes."""
    return {REF_KEY: digest, "bytes": size, "kind": kind}


def is_reference(value: Any) -> bool:
    """Whether a stored JSON value is a reference."""
    return type(value) is dict and REF_KEY in value and len(value) == 3


def resolve(value: Any) -> Any:
    """``value``, loaded when it is a :class:`Blob`."""
    if type(value) is Blob:
        return value.load()
    return value


def resolve_values(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """``values`` with each blob among its values loaded (the mapping itself when none is)."""
    if not any(type(item) is Blob for item in values.values()):
        return values
    return {key: resolve(item) for key, item in values.items()}


def resolve_deep(value: Any) -> Any:
    """``value`` with every blob inside it loaded (lists and dicts copied only where one is)."""
    kind = type(value)
    if kind is Blob:
        return value.load()
    if kind is dict:
        if any(type(item) in _CONTAINERS for item in value.values()):
            return {key: resolve_deep(item) for key, item in value.items()}
        return value
    if kind is list or kind is tuple:
        if any(type(item) in _CONTAINERS for item in value):
            return [resolve_deep(item) for item in value]
        return value
    return value


_CONTAINERS = frozenset({Blob, dict, list, tuple})
