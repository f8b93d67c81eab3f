"""Secrets kept out of sight: values under keys that look secret, masked in logs and views.

A key looks secret when it contains one of the configured parts
(``SIROCCO_SECRET_KEYS``, default ``password,token,secret,auth``; case does
not matter): ``password``, ``os_auth_token``, ``client_secret``, ``X-Auth-Token``...
:func:`mask` hides such values in data, :func:`mask_text` in a text that
quotes data (``'password': 'x'``, ``"token": "x"``, ``password=x``), and
:class:`MaskingFilter` does both for every log record. What is stored is not
changed: action inputs and results are kept as given, as in Mistral.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

MASK = "***"
DEFAULT_PARTS = ("password", "token", "secret", "auth")


def parts_of(setting: str | None) -> tuple[str, ...]:
    """The key parts of a comma-separated setting (the defaults when empty)."""
    parts = tuple(part.strip().lower() for part in (setting or "").split(",") if part.strip())
    return parts or DEFAULT_PARTS


def configured_parts() -> tuple[str, ...]:
    """The key parts of this process's ``SIROCCO_SECRET_KEYS``."""
    return parts_of(os.environ.get("SIROCCO_SECRET_KEYS"))


def is_secret(key: Any, parts: Iterable[str] = DEFAULT_PARTS) -> bool:
    lowered = str(key).lower()
    return any(part in lowered for part in parts)


def mask(value: Any, parts: tuple[str, ...] = DEFAULT_PARTS) -> Any:
    """``value`` with the values under secret keys replaced by ``***`` (a copy)."""
    if isinstance(value, Mapping):
        return {
            key: MASK if is_secret(key, parts) and item is not None else mask(item, parts)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [mask(item, parts) for item in value]
    if isinstance(value, str):
        return mask_text(value, parts)
    return value


@lru_cache(maxsize=16)
def _pattern(parts: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join(re.escape(part) for part in parts)
    key = rf"[\w.-]*(?:{words})[\w.-]*"
    quoted = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
    return re.compile(
        rf"(?P<key>(?P<q>['\"]?){key}(?P=q)\s*(?::|=)\s*)(?P<value>{quoted}|[^\s,;&}}\]\)]+)",
        re.IGNORECASE,
    )


@lru_cache(maxsize=16)
def _ascii_parts(parts: tuple[str, ...]) -> bool:
    return all(part.isascii() and part == part.lower() for part in parts)


def _may_hold_secret(text: str, parts: tuple[str, ...]) -> bool:
    """False only when no key in ``text`` can contain one of ``parts``.

    For ASCII text and lowercase ASCII parts, ``lower()`` compares exactly as the
    pattern's IGNORECASE does; anything else goes to the pattern. Most log lines
    (ids, names, states) take this exit instead of the slower pattern.
    """
    if not (text.isascii() and _ascii_parts(parts)):
        return True
    lowered = text.lower()
    return any(part in lowered for part in parts)


def mask_text(text: str, parts: tuple[str, ...] = DEFAULT_PARTS) -> str:
    """``text`` with the values written after secret keys replaced by ``***``."""
    if not text or not _may_hold_secret(text, parts):
        return text

    def hide(match: re.Match[str]) -> str:
        value = match.group("value")
        quote = value[0] if value[:1] in ("'", '"') else ""
        return f"{match.group('key')}{quote}{MASK}{quote}"

    return _pattern(parts).sub(hide, text)


_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class MaskingFilter(logging.Filter):
    """Masks secrets in a record's message, its arguments and its ``extra`` values."""

    def __init__(self, parts: tuple[str, ...] = DEFAULT_PARTS) -> None:
        super().__init__()
        self.parts = parts

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            message = record.getMessage()
            record.args = None
            record.msg = mask_text(message, self.parts)
        elif isinstance(record.msg, str):
            record.msg = mask_text(record.msg, self.parts)
        for name, value in list(record.__dict__.items()):
            if name in _STANDARD:
                continue
            if is_secret(name, self.parts) and value is not None:
                setattr(record, name, MASK)
            elif isinstance(value, (str, Mapping, list, tuple)):
                setattr(record, name, mask(value, self.parts))
        return True


def install(parts: tuple[str, ...] = DEFAULT_PARTS, loggers: Iterable[str] = ("",)) -> None:
    """Mask every record that reaches the handlers of ``loggers`` (the root by default;
    call once they are configured)."""
    masking = MaskingFilter(parts)
    for name in loggers:
        for handler in logging.getLogger(name or None).handlers:
            if not any(isinstance(item, MaskingFilter) for item in handler.filters):
                handler.addFilter(masking)
