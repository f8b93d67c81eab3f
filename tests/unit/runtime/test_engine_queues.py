"""Which engine queues an engine consumes as the live engine slots change."""

from __future__ import annotations

from sirocco.runtime import engine_queues


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def following(self) -> engine_queues.Following:
        return engine_queues.Following(
            lambda queue: self.calls.append(("start", queue)),
            lambda queue: self.calls.append(("stop", queue)),
        )


def test_an_engine_consumes_its_slots_queue_and_those_of_slots_no_engine_holds() -> None:
    recorder = _Recorder()
    following = recorder.following()
    following.update(0, [0, 1])
    assert recorder.calls == [("start", "sirocco.engine.0")]
    following.update(0, [0, 1])  # nothing changed: nothing done
    assert recorder.calls == [("start", "sirocco.engine.0")]
    following.update(0, [0])  # the engine of slot 1 died: its queue is emptied here
    assert recorder.calls[1:] == [("start", "sirocco.engine.1")]
    following.update(0, [0, 1])  # an engine holds slot 1 again: it consumes its queue
    assert recorder.calls[2:] == [("stop", "sirocco.engine.1")]
    assert following.following == {0}


def test_an_engine_that_holds_no_slot_keeps_consuming_what_it_consumes() -> None:
    recorder = _Recorder()
    following = recorder.following()
    following.update(None, [])  # SQLite, or no slot yet: nothing to follow
    assert recorder.calls == []
    following.update(1, [1, 2])  # slot 0 held by no engine: its queue is emptied here too
    following.update(None, [])  # the database is away: the queues stay consumed
    assert recorder.calls == [("start", "sirocco.engine.0"), ("start", "sirocco.engine.1")]
    assert following.following == {0, 1}


def test_an_engine_whose_slot_moves_stops_consuming_its_old_queue() -> None:
    recorder = _Recorder()
    following = recorder.following()
    following.update(2, [0, 1, 2])
    assert recorder.calls == [("start", "sirocco.engine.2")]
    following.update(0, [0, 1, 2])  # a new slot, after the database came back
    assert recorder.calls[1:] == [("start", "sirocco.engine.0"), ("stop", "sirocco.engine.2")]
