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
    value = _measured(value)
    if isinstance(value, str) and len(value) < limit * 256:  # surely under: skip the text
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
