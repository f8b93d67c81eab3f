"""Large values stored once by content hash (a claim check): the ``blobs`` table and its cache.

When a row is written, each value of a stored field (an action's input and
output, a task's result and each value it published, a workflow
execution's input, context and output, per top-level key where the field
is an object) that is larger than the threshold is stored in ``blobs``, once
however many rows refer to it, and the row holds a reference
(:mod:`sirocco.references`). A text longer than the threshold (in
characters) is stored as it is, under ``t:`` and its SHA-256, so storing it
copies nothing; any other value whose JSON text is longer, as that text
under its SHA-256. ``blob_refs`` records which execution refers to which
blob, so that deleting an execution deletes the blobs no other execution
refers to.

Read back, a reference becomes a :class:`~sirocco.references.Blob` whose
loader is this module's: it loads the value when it is read, through a
cache of decoded values bounded in bytes (content-addressed, so a cached
value is never stale). The cache also knows the values it handed out by
identity, so a loaded value written again (``publish: x: <% task().result
%>``) is referred to again without being encoded or hashed.

Below the threshold, a value longer than the repeat threshold (4 KiB) is stored
by reference from the second time this process writes that very object: a
value that one task's action returns and its result, its published variable
and the next task's input hold again is then stored once, not once per
column. The first write keeps it in its row (a value written once costs no
hashing and no blob). The identity of such values is kept in a table bounded
in characters (``SEEN_CHARACTERS``), which holds them alive while kept.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sirocco import references
from sirocco.store import driver_writes, json_text, tables

#: Default threshold: values whose JSON text is longer are stored by reference.
DEFAULT_THRESHOLD = 64 * 1024
#: Default repeat threshold: a value whose JSON text is longer (and not longer than the
#: threshold) is stored by reference when the process writes the same object again.
DEFAULT_REPEAT_THRESHOLD = 4 * 1024
#: Default bound of the cache of loaded values, in JSON bytes.
DEFAULT_CACHE_BYTES = 128 * 1024 * 1024
#: The most characters of values (between the two thresholds) kept to notice a repeat.
SEEN_CHARACTERS = 2 * 2**20

_blobs = tables.blobs
_chunks = tables.blob_chunks
_refs = tables.blob_refs
#: Characters per piece of a large blob's text (``blob_chunks``).
CHUNK_CHARS = 1 << 20


@dataclass(slots=True)
class _Entry:
    value: Any
    digest: str
    size: int
    kind: str


class BlobStore:
    """The blob settings and cache of one database (one per SQLAlchemy engine).

    Args:
        engine: the database's engine (a blob missing from the cache is read
            with a connection of its own).
        threshold: JSON bytes above which a value is stored by reference; -1: never.
        cache_bytes: bound of the cache of loaded values (the newest entry stays
            even when it alone is larger).
        repeat_threshold: JSON bytes above which a value written a second time (the
            same object) is stored by reference; at or above ``threshold``: never.
    """

    def __init__(
        self,
        engine: sa.Engine,
        threshold: int = DEFAULT_THRESHOLD,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        repeat_threshold: int = DEFAULT_REPEAT_THRESHOLD,
    ) -> None:
        self._engine = engine
        self.threshold = threshold
        self.cache_bytes = cache_bytes
        self.repeat_threshold = repeat_threshold
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_identity: dict[int, str] = {}
        self._cached_bytes = 0
        self._seen: dict[int, tuple[Any, int]] = {}
        self._seen_characters = 0
        #: How many blobs were read from the database (tests and benchmarks look).
        self.reads = 0

    # ---------------------------------------------------------------- the cache

    def load(self, digest: str) -> Any:
        """The value of blob ``digest`` (cached, else read and cached).

        Raises:
            references.BlobMissingError: there is no such blob.
        """
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
                return entry.value
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(_blobs.c.size, _blobs.c.data).where(_blobs.c.digest == digest)
            ).first()
            if row is None:
                raise references.BlobMissingError(f"Stored value {digest} is missing")
            text: str = row.data
            if row.size > CHUNK_CHARS:
                text = _read_pieces(connection, digest)
        value = text if is_text(digest) else json.loads(text)
        self.reads += 1
        self.remember(value, digest, len(text), _kind(value))
        return value

    def remember(self, value: Any, digest: str, size: int, kind: str) -> None:
        """Keep ``value`` as blob ``digest``'s (evicting the oldest values over the bound)."""
        with self._lock:
            old = self._entries.pop(digest, None)
            if old is not None:
                self._forget(old)
            self._entries[digest] = _Entry(value, digest, size, kind)
            self._by_identity[id(value)] = digest
            self._cached_bytes += size
            while self._cached_bytes > self.cache_bytes and len(self._entries) > 1:
                _, oldest = self._entries.popitem(last=False)
                self._forget(oldest)

    def _forget(self, entry: _Entry) -> None:
        self._cached_bytes -= entry.size
        if self._by_identity.get(id(entry.value)) == entry.digest:
            del self._by_identity[id(entry.value)]

    def known(self, value: Any) -> _Entry | None:
        """The cache entry of this very object, if it is one the cache holds."""
        # Without the lock: asked for every large-looking value a step writes, and two
        # dict reads cannot see a torn entry (the identity is checked on the entry).
        digest = self._by_identity.get(id(value))
        if digest is None:
            return None
        entry = self._entries.get(digest)
        if entry is not None and entry.value is value:
            return entry
        return None

    @property
    def floor(self) -> int:
        """JSON bytes at or under which a value always stays in its row (-1: none does;
        the threshold itself when the repeat threshold is not under it)."""
        return min(self.threshold, self.repeat_threshold)

    def repeated(self, value: Any, size: int) -> bool:
        """Whether this very object was offered before (then it is forgotten here: the
        caller stores it as a blob, which the cache then knows by identity); else it is
        kept, forgetting the oldest kept beyond ``SEEN_CHARACTERS``."""
        with self._lock:
            entry = self._seen.get(id(value))
            if entry is not None and entry[0] is value:
                del self._seen[id(value)]
                self._seen_characters -= entry[1]
                return True
            if entry is not None:  # another object that had the same id
                self._seen_characters -= entry[1]
            self._seen[id(value)] = (value, size)
            self._seen_characters += size
            while self._seen_characters > SEEN_CHARACTERS and self._seen:
                _, oldest = self._seen.pop(next(iter(self._seen)))
                self._seen_characters -= oldest
            return False

    def blob(self, digest: str, size: int, kind: str) -> references.Blob:
        """A reference read back, loading through this store."""
        return references.Blob(digest, size, kind, self.load)


#: Pieces of a long blob read per statement (the driver holds a statement's rows at once).
PIECES_PER_READ = 8


def _read_pieces(connection: sa.Connection, digest: str) -> str:
    """A long blob's text from its pieces, read a few at a time and appended in place.

    ``text += piece`` on the only reference to ``text`` grows it where it is (CPython
    resizes the string, and a large block is remapped, not copied), so the load peaks
    near the value's size, not twice it (a list of pieces joined at the end) or three
    times (with every row the driver fetched at once).
    """
    text = ""
    first = 0
    while True:
        pieces = connection.execute(
            sa.select(_chunks.c.data)
            .where(
                _chunks.c.digest == digest,
                _chunks.c.seq >= first,
                _chunks.c.seq < first + PIECES_PER_READ,
            )
            .order_by(_chunks.c.seq)
        ).scalars()
        read = 0
        for piece in pieces:
            text += piece
            read += 1
        if read < PIECES_PER_READ:
            return text
        first += PIECES_PER_READ


_STORES: weakref.WeakKeyDictionary[sa.Engine, BlobStore] = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()
#: The store of the database this process was built on (``configure``): what reads the
#: references inside commands decoded from outbox rows and parcels.
_PROCESS_STORE: BlobStore | None = None


def store_for(engine: sa.Engine) -> BlobStore:
    """The blob store of a database engine (made with the defaults when first asked)."""
    with _STORES_LOCK:
        found = _STORES.get(engine)
        if found is None:
            found = _STORES[engine] = BlobStore(engine)
        return found


def configure(
    engine: sa.Engine,
    *,
    threshold: int,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    repeat_threshold: int = DEFAULT_REPEAT_THRESHOLD,
) -> None:
    """Set the thresholds and cache bound of a database's blobs (the settings' values)."""
    global _PROCESS_STORE
    store = store_for(engine)
    store.threshold = threshold
    store.cache_bytes = cache_bytes
    store.repeat_threshold = repeat_threshold
    _PROCESS_STORE = store


def process_value(stored: Any) -> Any:
    """``stored`` (a value decoded from an outbox row or a parcel) as a lazy blob of the
    process's database when it is a reference; else as it is."""
    if _PROCESS_STORE is None or not references.is_reference(stored):
        return stored
    return _PROCESS_STORE.blob(stored[references.REF_KEY], stored["bytes"], stored["kind"])


def process_values(stored: Any) -> Any:
    """``stored`` (an object decoded from an outbox row or a parcel) with its references
    made lazy blobs of the process's database; as it is when there are none."""
    if type(stored) is not dict or _PROCESS_STORE is None:
        return stored
    if not any(references.is_reference(item) for item in stored.values()):
        return stored
    return {key: process_value(item) for key, item in stored.items()}


def stored_texts(value: Any) -> list[str]:
    """The JSON texts a field holding ``value`` may have in its row: its own text, and
    when the value (or a top-level value of an object) may be stored by reference under
    this process's thresholds (the offloader's rules: ``Offloader``), the text with its
    reference in its place (a field stored whole) or with its large values' references
    (a field stored per key: those over the threshold, or those over the repeat
    threshold). What a list filter compares a stored field with (``?output=...``)."""
    texts = [_dumps(value)]
    store = _PROCESS_STORE
    if store is None or store.threshold < 0:
        return texts
    floor = store.floor
    whole = _reference_of(value, floor)
    if whole is not None:
        texts.append(_dumps(whole))
    if type(value) is dict and len(texts[0]) > floor:
        for limit in (store.threshold, floor):
            per_key = {key: _reference_of(item, limit) or item for key, item in value.items()}
            if per_key != value:
                text = _dumps(per_key)
                if text not in texts:
                    texts.append(text)
    return texts


def _reference_of(value: Any, limit: int) -> dict[str, Any] | None:
    """The reference a value is stored under when it is over ``limit`` (None: it is
    not, or it is not a text, an object or a list)."""
    if type(value) is not str and type(value) is not dict and type(value) is not list:
        return None
    if _size(value) <= limit:
        return None
    digest, size, kind, _ = _address(value, None)
    return references.reference(digest, size, kind)


def _size(value: Any) -> int:
    """What a value's size is measured as against the thresholds: a text's length in
    characters (it is stored as it is), else the length of its JSON text."""
    return len(value) if type(value) is str else len(_dumps(value))


def _address(value: Any, text: str | None) -> tuple[str, int, str, str]:
    """Where a value is stored: its digest, size, kind and the text the blob holds. A
    text is stored as it is under its ``t:`` digest; any other value as its JSON text
    (``text``, when already made) under that text's SHA-256."""
    if type(value) is str:
        return text_digest(value), len(value), references.OTHER, value
    if text is None:
        text = _dumps(value)
    return _sha256(text), len(text), _kind(value), text


def text_search(
    stored: sa.ColumnElement[Any], needle: str, owner: sa.ColumnElement[Any] | None = None
) -> sa.ColumnElement[bool]:
    """A ``has`` list filter on a JSON field: its stored text (``stored``) contains
    ``needle``, or a value it holds by reference does. Such a value is searched in what
    its blob holds: a text as it is (``needle`` read as the inside of a JSON string when
    it is one, so ``a\\"b`` finds ``a"b``), any other value in its JSON text, as the row
    would hold it; a blob kept in pieces, piece by piece with the start of the next one
    (a needle shorter than a piece is found across their boundary). ``owner``: the
    row's blob owner (its execution's id), so only the blobs it refers to are looked at
    (through ``blob_refs``); without it, every blob is."""
    pattern = f"%{_escape_like(needle)}%"
    raw_pattern = f"%{_escape_like(_inside_of_json_string(needle))}%"
    inline = stored.like(pattern, escape="\\")
    blob = _blobs.alias("searched_blob")
    piece, following = _chunks.alias("searched_piece"), _chunks.alias("searched_next")
    is_text = blob.c.digest.like(TEXT_PREFIX + "%")

    def found(text: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        return sa.or_(
            sa.and_(is_text, text.like(raw_pattern, escape="\\")),
            sa.and_(~is_text, text.like(pattern, escape="\\")),
        )

    across = piece.c.data + sa.func.coalesce(
        sa.func.substr(following.c.data, 1, max(len(needle) - 1, 0)), ""
    )
    in_pieces = (
        sa.exists()
        .select_from(
            piece.outerjoin(
                following,
                sa.and_(following.c.digest == piece.c.digest, following.c.seq == piece.c.seq + 1),
            )
        )
        .where(piece.c.digest == blob.c.digest, found(across))
    )
    referenced = sa.exists().where(
        stored.contains(blob.c.digest),
        sa.or_(sa.and_(blob.c.size <= CHUNK_CHARS, found(blob.c.data)), in_pieces),
    )
    if owner is not None:
        ref = _refs.alias("searched_ref")
        referenced = referenced.where(ref.c.owner_id == owner, ref.c.digest == blob.c.digest)
    return sa.or_(inline, sa.and_(stored.contains(references.REF_KEY), referenced))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _inside_of_json_string(needle: str) -> str:
    """``needle`` read as the inside of a JSON string (its escapes undone), or itself
    when it is not one."""
    try:
        inside = json.loads(f'"{needle}"')
    except ValueError:
        return needle
    return inside if type(inside) is str else needle


#: How the digest of a text stored as it is (not as JSON) starts.
TEXT_PREFIX = "t:"
_HASH_CHUNK = 1 << 20


def is_text(digest: str) -> bool:
    """Whether blob ``digest`` holds a text as it is (else JSON text)."""
    return digest.startswith(TEXT_PREFIX)


def text_digest(text: str) -> str:
    """The digest of a text stored as it is: its SHA-256 (UTF-8), marked as a text."""
    return TEXT_PREFIX + _sha256(text)[: 64 - len(TEXT_PREFIX)]


def _sha256(text: str) -> str:
    """The SHA-256 of ``text`` in UTF-8, encoded a chunk at a time (no copy of it whole)."""
    digest = hashlib.sha256()
    for start in range(0, len(text), _HASH_CHUNK):
        digest.update(text[start : start + _HASH_CHUNK].encode("utf-8"))
    return digest.hexdigest()


def _data(digest: str, value: Any) -> str:
    """What the ``data`` column holds for ``value``."""
    return value if is_text(digest) else _dumps(value)


def _kind(value: Any) -> str:
    return references.OBJECT if isinstance(value, Mapping) else references.OTHER


# ---------------------------------------------------------------- reading rows


class Reader:
    """Turns the references of rows read on a connection into lazy blobs."""

    __slots__ = ("_store",)

    def __init__(self, connection: sa.Connection) -> None:
        self._store = store_for(connection.engine)

    def value(self, stored: Any) -> Any:
        """A stored field: a blob if it is a reference, else itself."""
        if references.is_reference(stored):
            return self._store.blob(stored[references.REF_KEY], stored["bytes"], stored["kind"])
        return stored

    def values(self, stored: Any) -> Any:
        """A stored object field whose values may be references."""
        if type(stored) is not dict:
            return self.value(stored)
        if not any(references.is_reference(item) for item in stored.values()):
            return stored
        return {key: self.value(item) for key, item in stored.items()}


def inline_rows(
    connection: sa.Connection, rows: Iterable[dict[str, Any]], fields: Iterable[str]
) -> None:
    """Replace, in place, the references in ``fields`` of ``rows`` (API reads) by their values."""
    store = store_for(connection.engine)
    wanted = tuple(fields)
    for row in rows:
        for name in wanted:
            stored = row.get(name)
            if type(stored) is not dict:
                continue
            if references.is_reference(stored):
                row[name] = store.load(stored[references.REF_KEY])
            elif any(references.is_reference(item) for item in stored.values()):
                row[name] = {
                    key: store.load(item[references.REF_KEY])
                    if references.is_reference(item)
                    else item
                    for key, item in stored.items()
                }


def inline(connection: sa.Connection, stored: Any) -> Any:
    """One stored field (a value or an object of values) with its references loaded."""
    row = {"value": stored}
    inline_rows(connection, [row], ("value",))
    return row["value"]


# ---------------------------------------------------------------- writing rows


class Offloader:
    """Moves the large values of the rows one transaction writes into ``blobs``.

    Each field's JSON text is made once: a small one is handed to the row as
    :class:`~sirocco.store.tables.Encoded`, a large one is stored (unless it already is) and the
    row gets its reference. A value between the repeat threshold and the threshold is
    stored by reference when the cache knows it, or when it is the second write of the
    same object (``BlobStore.repeated``); else it stays in its row.
    """

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        self._store = store_for(connection.engine)
        self._threshold = self._store.threshold
        self._floor = self._store.floor
        self._is_postgresql = connection.dialect.name == "postgresql"
        #: Blobs stored or found present in this transaction, and references written.
        self._present: set[str] = set()
        self._refs: set[tuple[str, str]] = set()

    @property
    def active(self) -> bool:
        return self._threshold >= 0

    def value(self, owner: str | None, value: Any) -> Any:
        """A field stored whole: itself, its JSON text, or a reference."""
        if not self.active or owner is None:
            return value
        kind = type(value)
        if kind is references.Blob:
            return self._refer_blob(owner, value)
        if kind is str:
            # A text is stored as it is, not as JSON: no copy of it is made to store it.
            size = len(value)
            if size <= self._floor:
                return value
            known = self._known(owner, value)
            if known is not None:
                return known
            if size <= self._threshold and not self._store.repeated(value, size):
                return value
            return self._store_value(owner, value, None)
        if kind is not dict and kind is not list:
            return value
        known = self._known(owner, value)
        if known is not None:
            return known
        text = _dumps(value)
        size = len(text)
        if size <= self._floor or (
            size <= self._threshold and not self._store.repeated(value, size)
        ):
            return tables.Encoded(text)
        return self._store_value(owner, value, text)

    def field(self, owner: str | None, value: Any) -> Any:
        """What the column of a field stored whole holds: as :meth:`value`, with a reference
        as its JSON text, made once per blob (``encoded_reference``), not encoded per row."""
        if value is None or not self.active:
            return value
        made = self.value(owner, value)
        if made is not value and type(made) is dict:  # a reference (value() made it)
            return encoded_reference(made)
        return made

    def object_field(self, owner: str | None, values: Any) -> Any:
        """What the column of an object field holds: as :meth:`values`, and when it refers
        to stored values, its JSON text made from their references' texts (each made once
        per blob) and its other values' texts, as ``json.dumps`` writes the whole."""
        if not self.active or owner is None or not values:
            return values  # as values() (empty, or nothing goes by reference)
        if type(values) is not dict and not isinstance(values, Mapping):
            return self.field(owner, values)
        made = self.values(owner, values)
        if type(made) is not dict or made is values:
            return made
        parts = []
        for key, item in made.items():
            if type(key) is not str:
                return made  # json.dumps writes such a key as a text: left to it
            # An item not the original is the reference _per_key made for it.
            text = encoded_reference(item).text if item is not values[key] else _dumps(item)
            parts.append(f"{json.dumps(key)}:{text}")
        return tables.Encoded("{" + ",".join(parts) + "}")

    def values(self, owner: str | None, values: Any) -> Any:
        """An object field stored per top-level key (others as :meth:`value`)."""
        if not self.active or owner is None:
            return values
        if not isinstance(values, Mapping):
            return self.value(owner, values)
        if not values:
            return values
        if not any(self._maybe_large(item) for item in values.values()):
            text = _dumps(values)
            if len(text) <= self._threshold:
                return tables.Encoded(text)
        return self._per_key(owner, values)

    def inner_values(self, owner: str | None, values: Any) -> Any:
        """An object inside another stored value (a command's input): its large values
        as references, the object itself when it has none."""
        if not self.active or owner is None or type(values) is not dict:
            return values
        if not any(self._maybe_large(item) for item in values.values()):
            return values
        return self._per_key(owner, values)

    def _per_key(self, owner: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """An object with each value stored as :meth:`value` stores it. When one value
        under the threshold goes by reference, every value over the repeat threshold
        does: a field then has one of two forms per key (the threshold's, the repeat
        threshold's), which is what a list filter compares with (``stored_texts``)."""
        stored: dict[str, Any] = {}
        repeat = False
        for key, item in values.items():
            made = self.value(owner, item)
            if type(made) is tables.Encoded:
                made = item  # a small value stays itself: the object's text is made whole
            elif made is not item and made["bytes"] <= self._threshold:
                repeat = True
            stored[key] = made
        if repeat:
            for key, item in values.items():
                if stored[key] is item and _size(item) > self._floor:
                    stored[key] = self._store_value(owner, item, None)
        return stored

    def _maybe_large(self, value: Any) -> bool:
        """Whether a value may be stored by reference, known without encoding it (a long
        text, a blob, a value the cache holds): those are looked at one by one."""
        kind = type(value)
        if kind is str:
            return len(value) > self._floor
        if kind is references.Blob:
            return True
        if kind is dict or kind is list:
            return self._store.known(value) is not None
        return False

    def _known(self, owner: str, value: Any) -> dict[str, Any] | None:
        entry = self._store.known(value)
        if entry is None:
            return None
        self._refer(owner, entry.digest, entry.size, lambda: _data(entry.digest, entry.value))
        return references.reference(entry.digest, entry.size, entry.kind)

    def _store_value(self, owner: str, value: Any, text: str | None) -> dict[str, Any]:
        """Store ``value`` (``text``: its JSON text, when made) and refer to it."""
        digest, size, kind, data = _address(value, text)
        self._refer(owner, digest, size, lambda: data)
        self._store.remember(value, digest, size, kind)
        return references.reference(digest, size, kind)

    def _refer_blob(self, owner: str, blob: references.Blob) -> dict[str, Any]:
        self._refer(owner, blob.digest, blob.size, lambda: _data(blob.digest, blob.load()))
        return blob.reference()

    def _refer(self, owner: str, digest: str, size: int, text: Any) -> None:
        """Make sure blob ``digest`` is stored and ``owner`` refers to it."""
        if digest not in self._present:
            if not self._exists(digest):
                self._store_text(digest, text())
            self._present.add(digest)
        if (owner, digest) not in self._refs:
            if self._is_postgresql:
                self._connection.execute(
                    self._insert(_refs, ("owner_id", "digest")),
                    {"owner_id": owner, "digest": digest},
                )
            else:
                driver_writes.execute_text(self._connection, _SQLITE_INSERT_REF, (owner, digest))
            self._refs.add((owner, digest))

    def _store_text(self, digest: str, text: str) -> None:
        """Insert a blob: its text in the row, or in pieces when it is long (then no
        statement carries, and the database never copies, the whole text)."""
        size = len(text)
        whole = size <= CHUNK_CHARS
        data = text if whole else ""
        if self._is_postgresql:
            self._connection.execute(
                self._insert(_blobs, ("digest",)), {"digest": digest, "size": size, "data": data}
            )
        else:
            driver_writes.execute_text(self._connection, _SQLITE_INSERT_BLOB, (digest, size, data))
        if whole:
            return
        for seq, start in enumerate(range(0, size, CHUNK_CHARS)):
            self._connection.execute(
                self._insert(_chunks, ("digest", "seq")),
                {"digest": digest, "seq": seq, "data": text[start : start + CHUNK_CHARS]},
            )

    def _exists(self, digest: str) -> bool:
        if not self._is_postgresql:
            return bool(driver_writes.execute_text(self._connection, _SQLITE_EXISTS, (digest,)))
        # Shared lock: a concurrent release (FOR UPDATE) waits for this
        # transaction, then sees its reference and keeps the blob.
        found = self._connection.execute(_POSTGRESQL_EXISTS, {"digest": digest}).first()
        return found is not None

    def _insert(self, table: sa.Table, keys: tuple[str, ...]) -> sa.Executable:
        return _insert_ignoring(table, keys, self._is_postgresql)


# A run's blob statements on SQLite, as SQLAlchemy's SQLite dialect writes them (sent
# through the driver: compiled, the three cost more the first time than a run's blobs).
_SQLITE_EXISTS = "SELECT 1 FROM blobs WHERE blobs.digest = ?"
_SQLITE_INSERT_BLOB = (
    "INSERT INTO blobs (digest, size, data) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING"
)
_SQLITE_INSERT_REF = (
    "INSERT INTO blob_refs (owner_id, digest) VALUES (?, ?) "
    "ON CONFLICT (owner_id, digest) DO NOTHING"
)
_POSTGRESQL_EXISTS = (
    sa.select(_blobs.c.digest)
    .where(_blobs.c.digest == sa.bindparam("digest"))
    .with_for_update(read=True)
)


#: The most references whose JSON text is kept (then they are all forgotten).
REFERENCE_TEXTS = 4096
_reference_texts: dict[tuple[str, int, str], tables.Encoded] = {}


def encoded_reference(reference: dict[str, Any]) -> tables.Encoded:
    """A reference's JSON text (``json_text.dumps``), made once per blob: a value stored
    by reference is referred to by several columns of every task that passes it on."""
    key = (reference[references.REF_KEY], reference["bytes"], reference["kind"])
    found = _reference_texts.get(key)
    if found is None:
        if len(_reference_texts) >= REFERENCE_TEXTS:
            _reference_texts.clear()
        found = _reference_texts[key] = tables.Encoded(_dumps(reference))
    return found


def claim_check(connection: sa.Connection, owner: str, value: Any) -> Any:
    """An action's result as a remote executor hands it back: over the threshold, the
    value is stored in ``blobs`` in the caller's transaction (the one that writes the
    ActionResult row) and its reference stands in for it; else the value itself.

    The engine takes the reference as a lazy blob (``process_values``) and stores it
    again by reference, so a large result crosses the outbox row and the broker once,
    as a digest.
    """
    made = Offloader(connection).value(owner, value)
    return value if type(made) is tables.Encoded else made


@functools.lru_cache(maxsize=8)
def _insert_ignoring(table: sa.Table, keys: tuple[str, ...], postgres: bool) -> sa.Executable:
    """INSERT ... ON CONFLICT DO NOTHING in the database's dialect (imported here: the
    PostgreSQL dialect takes a tenth of a second to import, which a SQLite run never needs)."""
    if postgres:
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))


def _dumps(value: Any) -> str:
    return json_text.dumps(value)


# ---------------------------------------------------------------- deleting


def release(connection: sa.Connection, owners: Iterable[str]) -> int:
    """Drop the references of ``owners`` (deleted executions) and delete the blobs no
    other owner refers to; returns how many blobs were deleted."""
    owner_ids = list(owners)
    digests: set[str] = set()
    for start in range(0, len(owner_ids), 500):
        chunk = owner_ids[start : start + 500]
        digests.update(
            connection.execute(sa.select(_refs.c.digest).where(_refs.c.owner_id.in_(chunk)))
            .scalars()
            .all()
        )
        connection.execute(sa.delete(_refs).where(_refs.c.owner_id.in_(chunk)))
    deleted = 0
    ordered = sorted(digests)  # one lock order for every releasing transaction
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.select(_blobs.c.digest).where(_blobs.c.digest.in_(chunk)).with_for_update()
            ).all()
        result = connection.execute(
            sa.delete(_blobs).where(
                _blobs.c.digest.in_(chunk),
                ~sa.exists().where(_refs.c.digest == _blobs.c.digest),
            )
        )
        deleted += result.rowcount or 0
        connection.execute(
            sa.delete(_chunks).where(
                _chunks.c.digest.in_(chunk),
                ~sa.exists().where(_blobs.c.digest == _chunks.c.digest),
            )
        )
    return deleted


def count(connection: sa.Connection) -> tuple[int, int]:
    """How many blobs and references are stored (tests and ``sirocco`` reports)."""
    blobs = connection.execute(sa.select(sa.func.count()).select_from(_blobs)).scalar_one()
    refs = connection.execute(sa.select(sa.func.count()).select_from(_refs)).scalar_one()
    return int(blobs), int(refs)
