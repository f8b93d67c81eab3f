"""The cache of a database's blobs: bounded in bytes (the newest value stays), and it knows
the values it holds by identity."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sirocco import references
from sirocco.store import blobs


def _store(cache_bytes: int) -> blobs.BlobStore:
    # An engine that is never connected: only the cache is used.
    return blobs.BlobStore(sa.create_engine("sqlite://"), cache_bytes=cache_bytes)


def test_the_oldest_values_go_past_the_bound_and_the_newest_stays() -> None:
    store = _store(cache_bytes=100)
    first, second, third = ["a" * 40], ["b" * 40], ["c" * 500]
    store.remember(first, "d1", 40, references.OTHER)
    store.remember(second, "d2", 40, references.OTHER)
    assert store.load("d1") is first and store.load("d2") is second
    store.remember(third, "d3", 500, references.OTHER)  # alone over the bound: kept
    assert store.load("d3") is third
    assert store.known(first) is None and store.known(second) is None
    assert store.reads == 0


def test_a_value_the_cache_holds_is_known_by_identity_only() -> None:
    store = _store(cache_bytes=1000)
    value = {"rows": [1, 2, 3]}
    store.remember(value, "d", 20, references.OBJECT)
    entry = store.known(value)
    assert entry is not None and (entry.digest, entry.kind) == ("d", references.OBJECT)
    assert store.known({"rows": [1, 2, 3]}) is None  # equal, but another object
    assert store.blob("d", 20, references.OBJECT).load() is value


def test_text_digests_are_marked_and_differ_from_json_ones() -> None:
    digest = blobs.text_digest("x" * 10)
    assert blobs.is_text(digest) and len(digest) == 64
    assert not blobs.is_text("0" * 64)
    assert blobs.text_digest("x" * 10) == digest != blobs.text_digest("x" * 11)


def test_a_repeat_is_the_same_object_offered_again_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blobs, "SEEN_CHARACTERS", 25)
    store = _store(1000)
    first, equal = "a" * 10, "".join(["a"] * 10)
    assert first == equal and first is not equal
    assert store.repeated(first, 10) is False
    assert store.repeated(equal, 10) is False  # equal, but another object
    assert store.repeated(first, 10) is True
    # Forgotten once repeated (the caller stores it; the cache knows it from then on).
    assert store.repeated(first, 10) is False
    # Beyond the bound the oldest are forgotten: equal (10) went when two more came.
    assert store.repeated("b" * 10, 10) is False
    assert store.repeated(equal, 10) is False
