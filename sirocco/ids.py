"""The one id generator: every record Sirocco creates is named by ``new_id()``.

Ids are time-ordered UUIDs (version 7) as text, so ids made later sort later:
records created within one second (the API's time resolution) still list in
creation order. The engine never calls this module; the shell passes
``new_id`` into ``decide`` (and tests pass a counter of their own).
"""

from __future__ import annotations

import random
import time

_random = random.Random()  # seeded from os.urandom; ids need uniqueness, not secrecy
_last_stamp = 0
_counter = 0


def new_id() -> str:
    """A new time-ordered UUID (version 7) as text."""
    global _last_stamp, _counter
    stamp = time.time_ns() // 1_000_000
    if stamp <= _last_stamp:
        stamp = _last_stamp
        _counter = (_counter + 1) & 0xFFF
        if _counter == 0:  # 4096 ids in one millisecond: borrow the next one
            stamp += 1
    else:
        _counter = 0
    _last_stamp = stamp
    value = (
        (stamp & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | _counter << 64
        | 0b10 << 62
        | _random.getrandbits(62)
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
