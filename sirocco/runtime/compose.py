"""Wiring of one process: database, registry, runtime and service.

The executor is attached by the callers (``sirocco.cli.embedded``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sirocco.actions.registry import ActionRegistry
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime.loop import Runtime
from sirocco.runtime.service import Service
from sirocco.store import blobs, migrate
from sirocco.store.database import Database


@dataclass(frozen=True, slots=True, kw_only=True)
class Parts:
    database: Database
    registry: ActionRegistry
    runtime: Runtime
    service: Service


def build(
    db_url: str | None = None,
    *,
    upgrade: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    blob_threshold: int = blobs.DEFAULT_THRESHOLD,
) -> Parts:
    """Open the database (applying migrations) and build the runtime and service.

    ``blob_threshold``: JSON bytes above which a value is stored once, by reference
    (``SIROCCO_BLOB_THRESHOLD``; -1: never).
    """
    database = Database(db_url)
    blobs.configure(database.engine, threshold=blob_threshold)
    if upgrade:
        migrate.prepare(database)
    registry = ActionRegistry(limits=limits)
    runtime = Runtime(database, registry, limits=limits)
    return Parts(database=database, registry=registry, runtime=runtime, service=Service(runtime))
