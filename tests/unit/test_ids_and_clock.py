"""The one id generator and the one clock."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sirocco import clock, ids


def test_ids_are_version_7_uuids_that_sort_in_the_order_they_were_made() -> None:
    made = [ids.new_id() for _ in range(5000)]  # more than one millisecond's counter
    assert all(uuid.UUID(text).version == 7 for text in made)
    assert all(uuid.UUID(text).variant == uuid.RFC_4122 for text in made)
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_an_id_carries_the_time_it_was_made() -> None:
    before = clock.utcnow()
    stamp_ms = int(ids.new_id().replace("-", "")[:12], 16)
    after = clock.utcnow()
    epoch = before.replace(year=1970, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    made = epoch + timedelta(milliseconds=stamp_ms)
    # the generator may borrow a millisecond ahead when many ids are made at once
    assert before - timedelta(milliseconds=1) <= made <= after + timedelta(seconds=1)


def test_the_clock_is_naive_utc_and_whole_seconds_when_asked() -> None:
    now = clock.utcnow()
    assert now.tzinfo is None
    assert clock.utcnow_seconds().microsecond == 0
    first = clock.monotonic()
    assert clock.monotonic() >= first
