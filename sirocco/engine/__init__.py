"""Sirocco's pure engine: ``decide(snapshot, events, now, new_id) -> Decision``.

No I/O, no database, no clock: the runtime loads a ``Snapshot``, calls
``start_workflow`` or ``decide``, writes the Decision's records and
commands, then calls ``Snapshot.apply``.
"""

from sirocco.engine.core import decide, start_workflow
from sirocco.engine.decision import Decision
from sirocco.engine.snapshot import Snapshot

__all__ = ["Decision", "Snapshot", "decide", "start_workflow"]
