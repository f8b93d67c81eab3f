"""WAL checkpoints of a SQLite file on a thread of their own, off the writers' commits.

SQLite's own checkpoint runs inside the commit that takes the WAL past 1,000 pages: it
copies them into the database file and syncs both files while the write lock is held,
so whichever transaction crosses the line (a small execution someone waits for, as
well as a chunk of a million items) waits 20-600 ms for the disk. Here this process's
connections never checkpoint when they commit (``wal_autocheckpoint=0``); a thread
does, in two kinds of pass:

- every ``PASS_FRAMES`` pages or so (counted in commits, from the pages the commits
  before wrote), a PASSIVE checkpoint beside the writers: it copies what is committed
  and syncs, while the writers go on appending to the WAL;
- once the WAL holds ``RESTART_FRAMES`` pages, right after such a pass, a PASSIVE
  checkpoint again holding this process's write lock: it copies only what was committed
  during the pass before (a step or two), so the next write transaction begins with
  every page copied and SQLite starts the WAL over from its beginning. Without it the
  WAL would grow without end: a checkpoint that does not hold the lock almost never ends
  in the gap between two of the engine's transactions (session 7, bench/README.md).

A pass that meets a reader still on old pages copies what it can; the WAL starts over
at a later pass. Other processes on the same file checkpoint as SQLite does by default.
The thread ends after ``IDLE`` seconds without a commit and starts again with the next.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

log = logging.getLogger("sirocco.store")

#: Pages a pass beside the writers copies, about (SQLite's pages, 4 KiB by default): two
#: passes per start over of the WAL. A hot page is copied once per pass: with 256, the
#: thread's CPU was 2.3% of a with-items run's, 1.7% with 500 (30,000 items, load ~60).
PASS_FRAMES = 500
#: Pages in the WAL from which a pass holding the write lock lets it start over
#: (SQLite's own default for ``wal_autocheckpoint``).
RESTART_FRAMES = 1_000
#: Commits between two passes at most, whatever few pages they wrote.
MOST_COMMITS = 512
#: Seconds without a commit after which the thread ends (the next commit starts it).
IDLE = 60.0
#: Seconds ``stop`` waits for a pass under way (its syncs) to end.
STOP_WAIT = 10.0


class Checkpoints:
    """The checkpoint thread of one SQLite file, woken by this process's commits."""

    def __init__(self, file: str, write_lock: Any) -> None:
        self._file = file
        self._write_lock = write_lock
        self._wake = threading.Event()
        #: Guards the thread's start and end against a commit that wakes it meanwhile.
        self._state = threading.Lock()
        self._stopped = False
        self._thread: threading.Thread | None = None
        #: Commits so far, and the count at which the next pass is due (the thread sets it).
        self._commits = 0
        self._due = 1
        #: When a list: each pass, as (``time.perf_counter()`` at its start, seconds, pages
        #: in the WAL, pages copied in all, whether under the write lock) (``bench/items.py
        #: --trace``).
        self.passes: list[tuple[float, float, int, int, bool]] | None = None

    def committed(self) -> None:
        """A write transaction of this process committed (called holding the write lock)."""
        self._commits += 1
        if self._commits < self._due:
            return
        with self._state:
            if self._stopped:
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sirocco-checkpoints", daemon=True
                )
                self._thread.start()
            self._wake.set()

    def stop(self, *, wait: bool = True) -> None:
        """End the thread (its connection's close may checkpoint what is left); ``wait``:
        for the pass under way, if any."""
        with self._state:
            self._stopped = True
            thread = self._thread
            self._wake.set()
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(STOP_WAIT)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            connection = sqlite3.connect(self._file, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA synchronous=NORMAL")
            frames = commits = locked_at = 0
            per_commit = 1.0  # pages a commit writes, as last seen
            while not self._stopped:
                if not self._wake.wait(IDLE):
                    with self._state:
                        if not self._wake.is_set():
                            self._thread = None  # idle: the next commit due starts one again
                            return
                    continue
                self._wake.clear()
                now = self._commits
                log_frames = self._pass(connection, locked=False)
                if log_frames >= RESTART_FRAMES and log_frames != locked_at:
                    with self._write_lock:
                        locked_at = self._pass(connection, locked=True)
                if log_frames > frames and now > commits:
                    # The pages each commit wrote since the last pass (the WAL did not
                    # start over meanwhile) say when the next pass is due.
                    per_commit = max((log_frames - frames) / (now - commits), 1.0)
                self._due = now + max(1, min(int(PASS_FRAMES / per_commit), MOST_COMMITS))
                frames, commits = log_frames, now
        except Exception:  # the file can't be opened (no descriptor left), a pass failed
            log.warning("WAL checkpoint failed; a later commit tries again", exc_info=True)
            self._due = self._commits + MOST_COMMITS
        finally:
            with self._state:
                if self._thread is threading.current_thread():
                    self._thread = None
            if connection is not None:
                connection.close()

    def _pass(self, connection: sqlite3.Connection, *, locked: bool) -> int:
        """One PASSIVE checkpoint; the pages the WAL holds."""
        began = time.perf_counter()
        _, log_frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if self.passes is not None:
            self.passes.append((began, time.perf_counter() - began, log_frames, copied, locked))
        return int(log_frames)
