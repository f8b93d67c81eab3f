"""YAQL's parser tables, computed once per machine instead of at every start.

yaql builds its LALR tables with PLY each time an engine is created (about half
a second). The tables depend only on the grammar, so they are stored as JSON in
the user's cache folder under a digest of the grammar, and read back by later
processes. Anything unexpected (no cache folder, a damaged file) falls back to
computing them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from yaql._ply import yacc


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sirocco"


def _digest(grammar: Any) -> str:
    text = "\n".join(str(production) for production in grammar.Productions)
    text += "\n" + repr(sorted(grammar.Precedence.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class _CachedLRTable(yacc.LRTable):  # type: ignore[misc]
    def __init__(self, grammar: Any, log: Any = None) -> None:
        path = _cache_dir() / f"yaql-lr-{_digest(grammar)}.json"
        try:
            tables = json.loads(path.read_text())
        except (OSError, ValueError):
            super().__init__(grammar, log)
            _store(path, self.lr_action, self.lr_goto)  # type: ignore[has-type]
            return
        self.grammar = grammar
        self.log = log or yacc.NullLogger()
        self.lr_productions = grammar.Productions
        self.lr_action = {int(state): row for state, row in tables["action"].items()}
        self.lr_goto = {int(state): row for state, row in tables["goto"].items()}
        self.lr_goto_cache: dict[Any, Any] = {}
        self.lr0_cidhash: dict[Any, Any] = {}
        self._add_count = 0
        self.sr_conflict = self.rr_conflict = 0
        self.conflicts: list[Any] = []
        self.sr_conflicts: list[Any] = []
        self.rr_conflicts: list[Any] = []


def _store(path: Path, action: dict[int, Any], goto: dict[int, Any]) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
            json.dump({"action": action, "goto": goto}, handle)
        os.replace(handle.name, path)


@contextlib.contextmanager
def cached_tables() -> Iterator[None]:
    """Within this block, yaql's parser tables come from (and go to) the cache."""
    original = yacc.LRTable
    yacc.LRTable = _CachedLRTable
    try:
        yield
    finally:
        yacc.LRTable = original
