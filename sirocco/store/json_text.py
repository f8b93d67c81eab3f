"""The JSON text of a stored value, with a long text encoded once however many fields hold it.

A large value moves through a task as one Python object: the action's input
holds it, the action returns it, the task's result and its published variable
are that same object, and the next task's input again. Each field is encoded
on its own when its row is written, so a 10 KB text was encoded three or four
times per task (``json.dumps`` of 10 KB costs about 65 µs here).

The encoding of a long text is therefore kept, by the text's identity, in a
small table bounded by the total length it holds. An entry holds the text
itself, so its id cannot name another object while the entry lives. A dict
(str keys) with a long text among its top-level values is written from its
parts, the kept text included, exactly as ``json.dumps`` would write it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from sirocco import references

#: Texts at least this long have their encoding kept.
LONG_TEXT = 1024
#: The most characters of texts (and as many of their encodings) kept at once.
KEPT_CHARACTERS = 2 * 2**20

_dumps = json.dumps
_SEPARATORS = (",", ":")
_kept: dict[int, tuple[str, str]] = {}
_kept_characters = 0
_lock = threading.Lock()


def json_default(value: Any) -> Any:
    """How ``json.dumps`` writes what JSON has no type for (a blob: its value)."""
    if isinstance(value, references.Blob):
        # A reference stands only at the top of a field (the store writes it there);
        # a blob nested deeper is written inline, so a row never needs two reads.
        return value.load()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ")
    return str(value)


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (``json.dumps`` with ``json_default``)."""
    kind = type(value)
    if kind is str:
        return (
            _text(value)
            if len(value) >= LONG_TEXT
            else _dumps(value, separators=_SEPARATORS, default=json_default)
        )
    if kind is dict:
        # Looked at inline: most values written are small dicts, and a call costs.
        for item in value.values():
            if type(item) is str and len(item) >= LONG_TEXT:
                if all(type(key) is str for key in value):
                    return _object(value)
                break
    return _dumps(value, separators=_SEPARATORS, default=json_default)


def _object(value: dict[str, Any]) -> str:
    """A dict with str keys, written from its parts as json.dumps writes it."""
    parts = [f"{_dumps(key)}:{dumps(item)}" for key, item in value.items()]
    return "{" + ",".join(parts) + "}"


def _text(text: str) -> str:
    """A long text's JSON, from the table when this very text was encoded lately."""
    entry = _kept.get(id(text))
    if entry is not None and entry[0] is text:
        return entry[1]
    encoded = _dumps(text, separators=_SEPARATORS, default=json_default)
    if len(text) <= KEPT_CHARACTERS:
        _keep(text, encoded)
    return encoded


def _keep(text: str, encoded: str) -> None:
    """Keep a text's encoding, forgetting the oldest ones beyond ``KEPT_CHARACTERS``."""
    global _kept_characters
    with _lock:
        if id(text) in _kept:
            return  # another thread kept it meanwhile
        _kept[id(text)] = (text, encoded)
        _kept_characters += len(text)
        while _kept_characters > KEPT_CHARACTERS:
            oldest, _ = _kept.pop(next(iter(_kept)))
            _kept_characters -= len(oldest)
