"""Mistral's field size limit: no stored input, output, params or published data over it.

The size is measured as Mistral measures it (the Python text of the value,
in whole KiB) and the limit is ``Limits.field_size_limit_kb`` (Mistral's
``execution_field_size_limit_kb``, 1024 by default, ``-1`` for none); the
error says what Mistral says.
"""

from __future__ import annotations

import sys
from typing import Any

from sirocco import errors, references
from sirocco.limits import Limits


def check(limits: Limits, class_name: str, field: str, value: Any) -> None:
    """Raise when ``value`` is over the limit for field ``field`` of a ``class_name`` record.

    Raises:
        errors.SizeLimitError: Mistral's "Field size limit exceeded [...]".
    """
    limit = limits.field_size_limit_kb
    if limit < 0 or not value:
        return
    if type(value) is references.Blob and _BLOB_BOUND * value.size + 80 < limit * 1024:
        return  # surely under, known from the reference: the value is not loaded to measure it
    value = _measured(value)
    if isinstance(value, str) and len(value) < limit * 256:  # surely under: skip the text
        return
    bound = _text_bound(value)
    if bound is not None and bound < limit * 1024:  # surely under: skip the text
        return
    size_kb = int(sys.getsizeof(str(value)) / 1024)
    if size_kb > limit:
        raise errors.SizeLimitError(
            f"Field size limit exceeded [class={class_name}, field={field}, "
            f"size={size_kb}KB, limit={limit}KB] (SIROCCO_FIELD_SIZE_LIMIT_KB)"
        )


def _measured(value: Any) -> Any:
    """What is measured: a value stored by reference counts as the value it stands for."""
    if type(value) is references.Blob:
        return value.load()
    if isinstance(value, dict) and any(type(item) is references.Blob for item in value.values()):
        return {key: references.resolve(item) for key, item in value.items()}
    return value


#: ``sys.getsizeof`` of an ASCII ``str`` is its length plus at most this.
_STR_OVERHEAD = 64
#: ``sys.getsizeof(str(value))`` of a value stored by reference is at most this many
#: times its JSON size (``Blob.size``) plus 80 (a text's header): Python's text of a JSON value
#: is at most twice its JSON text (a separator's space, a quote escaped where JSON did not;
#: JSON escapes every non-ASCII character in 6 or 12), at most 4 bytes a character.
_BLOB_BOUND = 8
#: The most entries of an object or list whose text is bounded without being made.
_BOUNDED_ENTRIES = 64


def _text_bound(value: Any) -> int | None:
    """An upper bound of ``sys.getsizeof(str(value))`` for an object or list of a few
    ASCII texts and numbers (a published value), else None (then the text is made).

    ``repr`` writes an ASCII character in at most 4 (``\\x07``), so such a text
    is stored one byte a character.
    """
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = ((None, item) for item in value)
    else:
        return None
    if len(value) > _BOUNDED_ENTRIES:
        return None
    total = _STR_OVERHEAD + 2
    for key, item in items:
        for part in (key, item):
            size = _scalar_bound(part)
            if size is None:
                return None
            total += size + 2
    return total


def _scalar_bound(value: Any) -> int | None:
    kind = type(value)
    if kind is str:
        return 4 * len(value) + 2 if value.isascii() else None
    if value is None or kind is bool:
        return 5
    if kind is float:
        return 24
    if kind is int:
        return int(value.bit_length()) // 3 + 2
    return None
