"""Read-side queries for the REST API: list and get over every table, Mistral-style.

The resources are the views of :mod:`sirocco.store.views` (a
:class:`~sirocco.store.views.View` names a resource's fields and the SQL
behind each). :func:`list_rows` applies a :class:`Page` to a view:
``op:value`` filters, tags, null checks, sorting on any column with ``id``
as the last tie-breaker, keyset pagination after a marker and a limit. Rows
come back as plain dicts of Python values (datetimes, dicts); turning them
into Mistral's JSON is the API's business.

Filter operators: ``eq, neq, gt, gte, lt, lte, in, nin, has`` (``has`` is a
substring match). Values arrive as text and are converted to the column's
type; a value that does not convert raises :class:`sirocco.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import errors, references
from sirocco.engine import records
from sirocco.store import blobs, json_text, tables
from sirocco.store.database import Database
from sirocco.store.views import (
    ACTION_EXECUTIONS,
    ACTIONS,
    CODE_SOURCES,
    CRON_TRIGGERS,
    DYNAMIC_ACTIONS,
    ENVIRONMENTS,
    EVENT_TRIGGERS,
    EXECUTIONS,
    TASKS,
    WORKBOOKS,
    WORKFLOWS,
    View,
    published_global,
)

__all__ = [
    "ACTIONS",
    "ACTION_EXECUTIONS",
    "CODE_SOURCES",
    "CRON_TRIGGERS",
    "DYNAMIC_ACTIONS",
    "ENVIRONMENTS",
    "EVENT_TRIGGERS",
    "EXECUTIONS",
    "MAX_LIMIT",
    "OPERATORS",
    "TASKS",
    "WORKBOOKS",
    "WORKFLOWS",
    "Filter",
    "Page",
    "View",
    "created_execution",
    "get_by_id",
    "get_row",
    "list_rows",
    "page_in_memory",
    "sort_order",
]

#: Rows to keep: fields equal to values (by field name), or conditions already built.
Where = Mapping[str, Any] | Sequence[sa.ColumnElement[bool]] | None

OPERATORS: tuple[str, ...] = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "has")
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """One filter: ``field <operator> value`` (value is a list for ``in``/``nin``)."""

    field: str
    operator: str = "eq"
    value: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """What a list request asks for, already validated by the API."""

    filters: tuple[Filter, ...] = ()
    tags: tuple[str, ...] = ()
    nulls: tuple[str, ...] = ()
    sort_keys: tuple[str, ...] = ("created_at",)
    sort_dirs: tuple[str, ...] = ("asc",)
    limit: int = MAX_LIMIT
    marker: str | None = None


# ---------------------------------------------------------------- reading


def get_row(
    connection: sa.Connection,
    view: View,
    *,
    where: Where = None,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
    fields: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The first row of ``view`` whose fields equal ``where`` and that meets ``conditions``
    (all fields, or only ``fields``)."""
    query = (
        _select(view, fields)
        .select_from(view.source)
        .where(*_equal(view, where), *conditions)
        .limit(1)
    )
    return _finished(connection, view, connection.execute(query).first())


def get_by_id(
    connection: sa.Connection, view: View, identifier: str, *, fields: Sequence[str] = ()
) -> dict[str, Any]:
    """One row by id; raises NotFoundError with Mistral's message."""
    found = connection.execute(_by_id_query(view, tuple(fields)), {"_by_id": identifier}).first()
    row = _finished(connection, view, found)
    if row is None:
        raise errors.NotFoundError(f"{view.entity} not found [id={identifier}]")
    return row


def execution_by_id(database: Database, identifier: str) -> dict[str, Any]:
    """Every field of one execution (``get_by_id`` of ``EXECUTIONS``) in a read of its own.

    On a SQLite file the row is read straight through the driver (``Database.
    fetch_mapped``: one statement, its own consistent read) unless it holds a value
    stored by reference, which is then read with its blobs in one read transaction.
    """
    query = _by_id_query(EXECUTIONS, ())
    rows = database.fetch_mapped(query, {"_by_id": identifier})
    if rows is not None and not _holds_references(rows):
        if not rows:
            raise errors.NotFoundError(f"{EXECUTIONS.entity} not found [id={identifier}]")
        published_global(rows)
        return {name: value for name, value in rows[0].items() if not name.startswith("_")}
    with database.read() as connection:
        return get_by_id(connection, EXECUTIONS, identifier)


def _holds_references(rows: list[dict[str, Any]]) -> bool:
    """Whether a field of ``rows`` that may be stored by reference holds a reference."""
    for row in rows:
        for name in _STORED_VALUES:
            stored = row.get(name)
            if type(stored) is dict and (
                references.is_reference(stored)
                or any(references.is_reference(item) for item in stored.values())
            ):
                return True
    return False


def created_execution(record: records.WorkflowExecution) -> dict[str, Any]:
    """The fields of ``EXECUTIONS`` (all but the derived ``published_global`` and
    ``source_execution_id``) as a read by id gives them, made from the record a start
    has just committed: the start's answer needs no read of the row it wrote.

    Derived from the view itself (``_created_fields``): each field takes the record's
    value of the same name as its column (the record's fields are named as the
    table's columns), JSON columns through their text and back, as a read gives them
    (a value stored by reference is there in full, as a read serves it).
    """
    answer: dict[str, Any] = {}
    for name, columns, first, is_json in _created_fields():
        value = columns(record)
        if first:  # coalesce: the first that is not null
            value = next((item for item in value if item is not None), None)
        if is_json:
            value = _as_read(value)
        elif isinstance(value, enum.Enum):
            value = value.value
        answer[name] = value
    return answer


_RECORD_FIELDS = frozenset(field.name for field in dataclasses.fields(records.WorkflowExecution))


@functools.cache
def _created_fields() -> tuple[tuple[str, Callable[[Any], Any], bool, bool], ...]:
    """Per stored field of ``EXECUTIONS``: its name, what reads its column(s) from a
    record, whether it is a ``coalesce`` (the first of them not null) and whether it is
    JSON."""
    fields = []
    for name, expression in EXECUTIONS.columns.items():
        if name in EXECUTIONS.derived:
            continue
        element = expression.element if isinstance(expression, sa.Label) else expression
        if isinstance(element, sa.Column):
            arguments: list[Any] = [element]
        elif isinstance(element, sa.sql.functions.coalesce):
            arguments = list(element.clauses)
        else:
            raise TypeError(f"no value for the field {name} from a written row")
        if not all(isinstance(argument, sa.Column) for argument in arguments):
            raise TypeError(f"no value for the field {name} from a written row")
        missing = [arg.name for arg in arguments if arg.name not in _RECORD_FIELDS]
        if missing:
            raise TypeError(f"the field {name} reads {missing}: not fields of the record")
        is_json = any(isinstance(argument.type, tables.JSONText) for argument in arguments)
        getter = operator.attrgetter(*(arg.name for arg in arguments))
        fields.append((name, getter, len(arguments) > 1, is_json))
    return tuple(fields)


def _as_read(value: Any) -> Any:
    """A JSON column's value as a read gives it back."""
    if value is None:
        return None
    return json.loads(json_text.dumps(value))


def _finished(
    connection: sa.Connection, view: View, found: sa.Row[Any] | None
) -> dict[str, Any] | None:
    """One fetched row as a dict of fields, its derived fields done."""
    if found is None:
        return None
    rows = [dict(found._mapping)]
    _finish(connection, view, rows)
    return rows[0]


#: Built ``get_by_id`` queries by (view, fields). The API reads single rows more than
#: anything else (every client polls), and building a select (and its cache key) took
#: most of such a read's time.
_BY_ID: dict[tuple[int, tuple[str, ...]], sa.Select[Any]] = {}
_BY_ID_SIZE = 256


def _by_id_query(view: View, fields: tuple[str, ...]) -> sa.Select[Any]:
    key = (id(view), fields)  # views are module constants: their ids are stable
    query = _BY_ID.get(key)
    if query is None:
        query = (
            _select(view, fields)
            .select_from(view.source)
            .where(view.id_column == sa.bindparam("_by_id"))
            .limit(1)
        )
        # ``fields`` come from requests: keep the first ones, and always the whole row's
        # (``execution_by_id``'s driver-level read keeps a compiled statement per query).
        if len(_BY_ID) < _BY_ID_SIZE or not fields:
            _BY_ID[key] = query
    return query


def list_rows(
    connection: sa.Connection,
    view: View,
    page: Page,
    *,
    fields: Sequence[str] = (),
    where: Where = None,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
) -> list[dict[str, Any]]:
    """One page of ``view`` (rows as dicts keyed by field name) among the rows whose
    fields equal ``where`` and that meet ``conditions``."""
    keys, directions = sort_order(view, page)
    query = _select(view, fields).select_from(view.source).where(*_equal(view, where), *conditions)
    query = query.where(*[_condition(view, item) for item in page.filters])
    tags = view.columns.get("tags")
    for tag in page.tags:
        # A resource without tags (dynamic actions) has none to match.
        query = query.where(
            sa.false() if tags is None else _text(tags).like(f'%"{_escape(tag)}"%', escape="\\")
        )
    for name in page.nulls:
        query = query.where(_stored(view, name).is_(None))
    if page.marker is not None:
        query = query.where(_after_marker(connection, view, page.marker, keys, directions))
    for name, direction in zip(keys, directions, strict=True):
        column = _stored(view, name)
        query = query.order_by(
            column.asc().nulls_first() if direction == "asc" else column.desc().nulls_last()
        )
    rows = [dict(row._mapping) for row in connection.execute(query.limit(page.limit))]
    _finish(connection, view, rows)
    return rows


def sort_order(view: View, page: Page) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The sort keys with ``id`` appended as the final tie-breaker, and their directions."""
    keys = list(page.sort_keys)
    directions = list(page.sort_dirs) + ["asc"] * (len(keys) - len(page.sort_dirs))
    for key in keys:
        if view.expression(key) is None:
            raise errors.InputError(f"Sort key supplied is invalid: {key}")
    if "id" not in keys:
        keys.append("id")
        directions.append("asc")
    return tuple(keys), tuple(directions)


def _select(view: View, fields: Sequence[str]) -> sa.Select[Any]:
    wanted = [name for name in view.columns if not fields or name in fields]
    columns = [view.columns[name].label(name) for name in wanted]
    hidden: list[str] = []
    for name in wanted:
        hidden.extend(source for source in view.derived.get(name, ()) if source in view.hidden)
    columns.extend(view.hidden[name].label(name) for name in dict.fromkeys(hidden))
    return sa.select(*columns)


#: The fields whose values may be stored by reference (``_context``: an execution's, hidden).
_STORED_VALUES = ("input", "output", "result", "published", "params", "_context")


def _finish(connection: sa.Connection, view: View, rows: list[dict[str, Any]]) -> None:
    # Values stored by reference are served in full.
    blobs.inline_rows(connection, rows, _STORED_VALUES)
    if view.finish is not None and rows:
        view.finish(connection, rows)
    for row in rows:
        for name in list(row):
            if name.startswith("_"):
                del row[name]


def _equal(view: View, where: Where) -> list[sa.ColumnElement[bool]]:
    if where is None:
        return []
    if isinstance(where, Mapping):
        return [_stored(view, name) == value for name, value in where.items()]
    return list(where)


def _stored(view: View, name: str) -> sa.ColumnElement[Any]:
    expression = view.expression(name)
    if expression is None:
        raise errors.InputError(f"Unknown filter or sort field: {name}")
    return expression


def _condition(view: View, item: Filter) -> sa.ColumnElement[bool]:
    column = _stored(view, item.field)
    if item.operator == "has":
        if _is_json(column):
            # Also inside the values it holds by reference.
            return blobs.text_search(_text(column), str(item.value), _blob_owner(view))
        return _text(column).like(f"%{_escape(str(item.value))}%", escape="\\")
    if item.operator in ("in", "nin"):
        values = [text for value in item.value for text in _converted(column, item.field, value)]
        comparable = _comparable(column)
        return comparable.in_(values) if item.operator == "in" else comparable.not_in(values)
    if item.operator in ("eq", "neq") and item.value is not None and _is_json(column):
        # A large value is stored by reference: the row holds one of these texts.
        texts = _converted(column, item.field, item.value)
        if len(texts) > 1:
            comparable = _comparable(column)
            if item.operator == "eq":
                return comparable.in_(texts)
            return sa.or_(comparable.not_in(texts), comparable.is_(None))
    value = _convert(column, item.field, item.value)
    comparable = _comparable(column)
    if value is None:
        return comparable.is_(None) if item.operator == "eq" else comparable.is_not(None)
    operations: dict[str, Callable[[Any, Any], sa.ColumnElement[bool]]] = {
        "eq": lambda left, right: left == right,
        "neq": lambda left, right: sa.or_(left != right, left.is_(None)),
        "gt": lambda left, right: left > right,
        "gte": lambda left, right: left >= right,
        "lt": lambda left, right: left < right,
        "lte": lambda left, right: left <= right,
    }
    operation = operations.get(item.operator)
    if operation is None:
        raise errors.InputError(f"Unknown filter operation encountered [operation={item.operator}]")
    return operation(comparable, value)


def _blob_owner(view: View) -> sa.ColumnElement[Any] | None:
    """Whose blobs a row of the view refers to: its workflow execution's (a task, an
    action of a workflow), else its own (an execution, an action run alone)."""
    own = view.columns.get("id")
    table = getattr(own, "table", None)
    if own is None or not isinstance(table, sa.Table):
        return None
    execution = table.columns.get("workflow_execution_id")
    return own if execution is None else sa.func.coalesce(execution, own)


def _is_json(column: sa.ColumnElement[Any]) -> bool:
    return isinstance(column.type, tables.JSONText)


def _comparable(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """JSON columns compare as their stored text."""
    return sa.type_coerce(column, sa.Text) if _is_json(column) else column


def _text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.cast(sa.type_coerce(column, sa.Text), sa.Text)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _converted(column: sa.ColumnElement[Any], name: str, value: Any) -> list[Any]:
    """The filter value as the column may hold it: for a JSON column, every text it may
    be stored as (``blobs.stored_texts``: with references for values over the blob
    threshold); else the one converted value."""
    if value is None or not _is_json(column):
        return [_convert(column, name, value)]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    return blobs.stored_texts(value)


def _convert(column: sa.ColumnElement[Any], name: str, value: Any) -> Any:
    """A filter value (text from the query string) as the column's Python type."""
    if value is None:
        return None
    if _is_json(column):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        return json.dumps(value, separators=(",", ":"))
    column_type = column.type
    text = str(value)
    try:
        if isinstance(column_type, sa.DateTime):
            return value if isinstance(value, datetime) else datetime.fromisoformat(text)
        if isinstance(column_type, sa.Boolean):
            lowered = text.lower()
            if lowered in ("true", "1", "yes", "on", "t", "y"):
                return True
            if lowered in ("false", "0", "no", "off", "f", "n"):
                return False
            raise ValueError(text)
        if isinstance(column_type, sa.Integer):
            return int(text)
    except ValueError as exc:
        raise errors.InputError(
            f"Invalid input for field/attribute {name}. Value: '{text}'. {exc}"
        ) from exc
    return text


def _after_marker(
    connection: sa.Connection,
    view: View,
    marker: str,
    keys: Sequence[str],
    directions: Sequence[str],
) -> sa.ColumnElement[bool]:
    """Rows that sort after the marker row (NULL sorts lowest, in both directions)."""
    query = sa.select(*[_stored(view, key).label(key) for key in keys]).select_from(view.source)
    found = connection.execute(query.where(view.id_column == marker)).first()
    if found is None:
        raise errors.NotFoundError(f"{view.entity} not found [id={marker}]")
    values = found._mapping
    alternatives = []
    for index, (key, direction) in enumerate(zip(keys, directions, strict=True)):
        column = _stored(view, key)
        equal = [_same(_stored(view, previous), values[previous]) for previous in keys[:index]]
        alternatives.append(sa.and_(*equal, _beyond(column, values[key], direction)))
    return sa.or_(*alternatives)


def _same(column: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _beyond(column: sa.ColumnElement[Any], value: Any, direction: str) -> sa.ColumnElement[bool]:
    if direction == "asc":
        return column.is_not(None) if value is None else column > value
    if value is None:
        return sa.false()
    return sa.or_(column < value, column.is_(None))


# ---------------------------------------------------------------- in memory


def page_in_memory(rows: Iterable[Mapping[str, Any]], page: Page) -> list[dict[str, Any]]:
    """Apply a page to rows already in memory (actions come from two sources)."""
    keys = list(page.sort_keys) or ["name"]
    directions = list(page.sort_dirs) + ["asc"] * (len(keys) - len(page.sort_dirs))
    selected = [dict(row) for row in rows if _matches(row, page)]
    for key, direction in reversed(list(zip(keys, directions, strict=True))):
        selected.sort(key=functools.partial(_sort_field, key), reverse=direction == "desc")
    if page.marker is not None:
        positions = [index for index, row in enumerate(selected) if row.get("id") == page.marker]
        if not positions:
            return []
        selected = selected[positions[0] + 1 :]
    return selected[: page.limit]


def _sort_field(key: str, row: Mapping[str, Any]) -> tuple[int, Any]:
    return _sort_value(row.get(key))


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, (list, dict)):
        return (1, json.dumps(value, sort_keys=True))
    if isinstance(value, bool):
        return (1, int(value))
    return (1, value)


def _matches(row: Mapping[str, Any], page: Page) -> bool:
    for item in page.filters:
        if item.field not in row:
            continue
        if not _match_value(row[item.field], item):
            return False
    tags = row.get("tags") or ()
    if any(tag not in tags for tag in page.tags):
        return False
    return all(row.get(name) is None for name in page.nulls)


def _match_value(actual: Any, item: Filter) -> bool:
    expected: Any = item.value
    if isinstance(actual, bool) and isinstance(expected, str):
        expected = expected.lower() in ("true", "1", "yes", "on", "t", "y")
    if item.operator == "has":
        return str(expected) in str(actual if actual is not None else "")
    if item.operator in ("in", "nin"):
        inside = actual in list(expected)
        return inside if item.operator == "in" else not inside
    if item.operator == "eq":
        return bool(actual == expected)
    if item.operator == "neq":
        return bool(actual != expected)
    if actual is None:
        return False
    try:
        return bool(
            {
                "gt": actual > expected,
                "gte": actual >= expected,
                "lt": actual < expected,
                "lte": actual <= expected,
            }[item.operator]
        )
    except TypeError:
        return False
