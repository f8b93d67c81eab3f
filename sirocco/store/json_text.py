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

The result of a with-items task of a million items is read in chunks, each
decoded from the stored texts of its items (``executions.item_results``):
those chunks keep the text they were decoded from, and the whole result is
written from them joined (``keep_joined``), so the step that completes the
task does not encode a million values again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sirocco import references

#: Texts at least this long have their encoding kept.
LONG_TEXT = 1024
#: The most characters of texts (and as many of their encodings) kept at once.
KEPT_CHARACTERS = 2 * 2**20

_SEPARATORS = (",", ":")
_kept: dict[int, tuple[str, str]] = {}
_kept_characters = 0
#: The most characters of list texts kept at once (the chunks of a gather, then its
#: whole): 1,000,000 small results are about 7 MB. A list kept is held alive.
KEPT_LIST_CHARACTERS = 16 * 2**20
_kept_lists: dict[int, tuple[list[Any], str]] = {}
_kept_list_characters = 0
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


#: ``json.dumps(value, separators=_SEPARATORS, default=json_default)`` without making its
#: encoder again at every call (an encoder keeps nothing from one call to the next).
_encode = json.JSONEncoder(separators=_SEPARATORS, default=json_default).encode


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (``json.dumps`` with ``json_default``)."""
    kind = type(value)
    if kind is list and _kept_lists:
        text = _kept_list_text(value)
        if text is not None:
            return text
    if kind is str:
        return _text(value) if len(value) >= LONG_TEXT else _encode(value)
    if kind is dict:
        # Looked at inline: most values written are small dicts, and a call costs.
        for item in value.values():
            if type(item) is str and len(item) >= LONG_TEXT:
                if all(type(key) is str for key in value):
                    return _object(value)
                break
    return _encode(value)


def _object(value: dict[str, Any]) -> str:
    """A dict with str keys, written from its parts as json.dumps writes it."""
    parts = [f"{json.dumps(key)}:{dumps(item)}" for key, item in value.items()]
    return "{" + ",".join(parts) + "}"


def _text(text: str) -> str:
    """A long text's JSON, from the table when this very text was encoded lately."""
    entry = _kept.get(id(text))
    if entry is not None and entry[0] is text:
        return entry[1]
    encoded = _encode(text)
    if len(text) <= KEPT_CHARACTERS:
        _keep(text, encoded)
    return encoded


def keep_list(value: list[Any], text: str) -> None:
    """Keep the JSON text of a list just decoded from it (a chunk of item results),
    forgetting the oldest lists kept beyond ``KEPT_LIST_CHARACTERS``.

    The list must not change while kept: the lists kept are those the gather of
    a with-items task reads, which nothing changes in place.
    """
    global _kept_list_characters
    with _lock:
        if id(value) in _kept_lists:
            return
        _kept_lists[id(value)] = (value, text)
        _kept_list_characters += len(text)
        while _kept_list_characters > KEPT_LIST_CHARACTERS:
            _, oldest = _kept_lists.pop(next(iter(_kept_lists)))
            _kept_list_characters -= len(oldest)


def _kept_list_text(value: list[Any]) -> str | None:
    """A kept list's text, forgotten once used (the list is written once)."""
    global _kept_list_characters
    with _lock:
        entry = _kept_lists.get(id(value))
        if entry is None or entry[0] is not value:
            return None
        del _kept_lists[id(value)]
        _kept_list_characters -= len(entry[1])
        return entry[1]


def keep_joined(whole: list[Any], parts: Sequence[Sequence[Any]]) -> None:
    """``whole`` is ``parts`` one after the other: keep its text, joined from the
    parts' kept texts (the parts are forgotten). Nothing is kept when one part's
    text is not, as ``whole`` is then encoded when written."""
    global _kept_list_characters
    with _lock:
        entries = [_kept_lists.pop(id(part), None) for part in parts]
        for entry in entries:
            if entry is not None:
                _kept_list_characters -= len(entry[1])
    texts = []
    for part, entry in zip(parts, entries, strict=True):
        if entry is None or entry[0] is not part:
            return
        if len(entry[1]) > 2:  # not "[]"
            texts.append(entry[1][1:-1])
    keep_list(whole, "[" + ",".join(texts) + "]")


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
