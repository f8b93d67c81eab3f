"""Process-wide settings for Sirocco's long-running commands."""

from __future__ import annotations

import gc
import sys

#: Young-generation threshold for the cyclic garbage collector. An engine step makes
#: thousands of short-lived objects (records, rows, contexts), nearly none of them in
#: cycles; Python's default (700) runs a collection every few tasks.
GC_THRESHOLDS = (20_000, 20, 10)

#: Seconds a thread holds the GIL before another may take it (Python's default: 0.005).
#: The engine thread computes in long stretches while API threads answer requests;
#: each request needs the GIL several times (event loop, worker thread, every
#: database call), so with the default a GET made while a workflow runs waits 30-50 ms.
SWITCH_INTERVAL = 0.0005

_settled = False


def settle_process(*, collect: bool = True) -> None:
    """Call once start-up is over (modules imported, the app built).

    Moves every object alive now (modules, classes, compiled grammars and
    statements) out of the collector's sight, so the first full collection after
    start-up does not walk them all: without it the first workflow a fresh server
    runs pays tens of milliseconds for that walk. Then makes young collections
    rarer and hands the GIL over sooner. Only the first call in a process does
    anything.

    Args:
        collect: collect the start-up garbage first (a server's memory stays lower);
            a short command such as ``sirocco run`` ends before that would matter,
            and the collection costs it tens of milliseconds.
    """
    global _settled
    if _settled:
        return
    _settled = True
    if collect:
        gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL)
