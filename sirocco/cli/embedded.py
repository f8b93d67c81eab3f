"""The embedded process: runtime, executor pool and timers in one process on one database
(wired by ``sirocco.compose.embedded``)."""

from __future__ import annotations

from sirocco import compose
from sirocco.compose import Embedded
from sirocco.settings import Settings

__all__ = ["Embedded", "open_embedded"]


def open_embedded(
    db_url: str | None, *, start: bool = True, settings: Settings | None = None
) -> Embedded:
    """Build every role of Sirocco in this process and (by default) start its threads.

    ``settings``: the process's settings (default: from ``SIROCCO_*``); ``db_url`` wins.
    """
    settings = Settings.load({"db": db_url}) if settings is None else settings
    return compose.embedded(compose.with_database(settings, db_url), start=start)
