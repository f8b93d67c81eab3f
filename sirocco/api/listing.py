"""List requests: query parameters in, a checked Page and the ``next`` link out.

Every list endpoint takes ``marker``, ``limit``, ``sort_keys``, ``sort_dirs``
and ``fields`` plus its own filters. :func:`query_dependency` builds a FastAPI
dependency that declares exactly those query parameters (so they show in
``/openapi.json`` and unknown ones can be refused), and :func:`parse` checks
them with Mistral's messages. :func:`add_list_route` declares a whole plain list
endpoint (``GET /v2/<collection>``) and :func:`add_get_route` a get-one endpoint
(``GET /v2/<collection>/{identifier}``), so each resource's module only says what
differs: its view, fields, filters, how a row is found and how it is shown.
"""

from __future__ import annotations

import inspect
import re
import urllib.parse
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from sirocco import errors
from sirocco.api import deps, identity, projects, render
from sirocco.api.errors import ApiError
from sirocco.api.identity import Caller
from sirocco.store import queries
from sirocco.store.database import Connection, Database

#: Finds the id of the resource a get-one request names: (connection, the path's
#: identifier, the ``?namespace=`` ("" without one), the caller's project or None
#: without authentication) -> its id, or None; it may raise its own NotFoundError.
Locate = Callable[[Connection, str, str, str | None], str | None]

PAGING = ("marker", "limit", "sort_keys", "sort_dirs", "fields")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_TRUE = frozenset({"true", "1", "on", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "off", "no", "n", "f"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRequest:
    """A checked list request."""

    page: queries.Page
    fields: tuple[str, ...] = ()
    link_filters: tuple[tuple[str, str], ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)


def query_dependency(
    filters: Sequence[str], options: Sequence[str] = ()
) -> Callable[..., Coroutine[Any, Any, dict[str, str | None]]]:
    """A dependency declaring the paging parameters, ``filters`` and ``options`` as queries."""
    names = [*PAGING, *filters, *options]

    async def dependency(**values: str | None) -> dict[str, str | None]:
        return values  # a coroutine, so that FastAPI does not send it to the thread pool

    parameters = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=Query(None),
            annotation=str | None,
        )
        for name in dict.fromkeys(names)
    ]
    dependency.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return dependency


def comma_list(value: str | None, *, unique: bool = True) -> list[str]:
    """A comma-separated parameter, lower-cased, without empty items (and duplicates)."""
    items = [item.strip().lower() for item in str(value or "").split(",")]
    items = [item for item in items if item]
    return list(dict.fromkeys(items)) if unique else items


def boolean(name: str, value: str | None, default: bool = False) -> bool:
    """A boolean query parameter."""
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ApiError(
        f"Invalid input for field/attribute {name}. Value: '{value}'. "
        "Wrong type. Expected 'bool', got 'str'"
    )


def check_uuid(name: str, value: str) -> str:
    """Refuse a parameter that must be a UUID, in Mistral's words."""
    if not _UUID.match(value):
        raise ApiError(
            f"Invalid input for field/attribute {name}. Value: '{value}'. "
            f"unable to convert to uuid. Error: Expected a uuid but received {value}."
        )
    return value


def parse(
    values: Mapping[str, str | None],
    *,
    resource_fields: Sequence[str],
    filters: Sequence[str],
    default_sort: str = "created_at",
    marker_is_uuid: bool = True,
    defaults: Mapping[str, str] | None = None,
) -> ListRequest:
    """Check the paging parameters and turn filters into a :class:`queries.Page`."""
    limit = _limit(values.get("limit"))
    marker = values.get("marker") or None
    if marker is not None and marker_is_uuid:
        check_uuid("marker", marker)
    sort_keys = comma_list(values.get("sort_keys")) or [default_sort]
    sort_dirs = comma_list(values.get("sort_dirs"), unique=False) or ["asc"]
    if len(sort_keys) < len(sort_dirs):
        raise ApiError("Length of sort_keys must be equal or greater than sort_dirs.")
    sort_dirs += ["asc"] * (len(sort_keys) - len(sort_dirs))
    if any(direction not in ("asc", "desc") for direction in sort_dirs):
        raise ApiError("Unknown sort direction, must be 'desc' or 'asc'.")
    fields = selected_fields(values.get("fields"), resource_fields)
    given = dict(defaults or {})
    given.update({name: value for name in filters if (value := values.get(name)) is not None})
    parsed: list[queries.Filter] = []
    link: list[tuple[str, str]] = []
    tags: list[str] = []
    nulls: list[str] = []
    for name in filters:
        if name not in given:
            continue
        value = str(given[name])
        if name == "tags":
            tags = comma_list(value)
            link.append((name, ",".join(tags)))
        elif name == "nulls":
            nulls = comma_list(value)
            link.append((name, ",".join(nulls)))
        else:
            item = filter_of(name, value)
            parsed.append(item)
            shown = ",".join(item.value) if isinstance(item.value, list) else item.value
            link.append((name, f"{item.operator}:{shown}"))
    page = queries.Page(
        filters=tuple(parsed),
        tags=tuple(tags),
        nulls=tuple(nulls),
        sort_keys=tuple(sort_keys),
        sort_dirs=tuple(sort_dirs),
        limit=limit,
        marker=marker,
    )
    return ListRequest(page=page, fields=tuple(fields), link_filters=tuple(link))


def filter_of(name: str, value: str) -> queries.Filter:
    """``op:value`` (or a plain value, meaning ``eq``) as a filter."""
    operator, separator, rest = value.partition(":")
    if operator in queries.OPERATORS and separator:
        if operator in ("in", "nin"):
            return queries.Filter(field=name, operator=operator, value=rest.split(","))
        return queries.Filter(field=name, operator=operator, value=rest)
    return queries.Filter(field=name, operator="eq", value=value)


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return queries.MAX_LIMIT
    try:
        limit = int(value)
    except ValueError as exc:
        raise ApiError(
            f"Invalid input for field/attribute limit. Value: '{value}'. "
            f"unable to convert to int. Error: {exc}"
        ) from exc
    if limit <= 0:
        raise ApiError("Limit must be positive.")
    return min(limit, queries.MAX_LIMIT)


def next_link(
    request: Request,
    collection: str,
    listing: ListRequest,
    keys: Sequence[str],
    directions: Sequence[str],
    items: Sequence[Mapping[str, Any]],
) -> str | None:
    """Mistral's ``next`` URL: present only when the page is full."""
    page = listing.page
    if not items or len(items) != page.limit:
        return None
    base = str(request.base_url).rstrip("/")
    parts = [f"sort_keys={','.join(keys)}", f"sort_dirs={','.join(directions)}"]
    parts.extend(f"{name}={_quote(value)}" for name, value in listing.link_filters)
    parts.append(f"limit={page.limit}")
    parts.append(f"marker={_quote(str(items[-1].get('id')))}")
    if listing.fields:
        parts.append(f"fields={','.join(listing.fields)}")
    return f"{base}/v2/{collection}?{'&'.join(parts)}"


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe=":,*.-_~")


def body(
    request: Request,
    collection: str,
    listing: ListRequest,
    view: queries.View,
    rows: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """``{collection: items}`` plus ``next`` when the page is full (``rows`` are the raw rows)."""
    keys, directions = queries.sort_order(view, listing.page)
    result: dict[str, Any] = {collection: list(items)}
    link = next_link(request, collection, listing, keys, directions, rows)
    if link is not None:
        result["next"] = link
    return result


def page(
    request: Request,
    values: Mapping[str, str | None],
    database: Database,
    *,
    collection: str,
    view: queries.View,
    resource_fields: Sequence[str],
    filters: Sequence[str],
    show: Callable[..., dict[str, Any]],
    caller: Caller,
) -> dict[str, Any]:
    """The body of a plain list endpoint: parse the query, read one page of what
    ``caller`` may see, show each row."""
    wanted = parse(values, resource_fields=resource_fields, filters=filters)
    where = projects.list_scope(view, caller, values)
    with database.read() as connection:
        rows = queries.list_rows(connection, view, wanted.page, fields=wanted.fields, where=where)
    items = [show(row, only=wanted.fields or None) for row in rows]
    return body(request, collection, wanted, view, rows, items)


def selected_fields(value: str | None, resource_fields: Sequence[str]) -> tuple[str, ...]:
    """The ``fields`` parameter, checked (``id`` first when fields are named)."""
    fields = comma_list(value)
    unknown = [name for name in fields if name not in resource_fields]
    if unknown:
        raise ApiError(
            f"Some fields do not exist  [{', '.join(unknown)}], please choose from "
            f"[{', '.join(resource_fields)}]"
        )
    if fields and "id" not in fields:
        fields.insert(0, "id")
    return tuple(fields)


def add_list_route(
    router: APIRouter,
    path: str,
    *,
    collection: str,
    view: queries.View,
    resource_fields: Sequence[str],
    filters: Sequence[str],
    show: Callable[..., dict[str, Any]],
    query: Callable[..., Any],
    description: str,
) -> None:
    """Declare ``GET path``: one page of ``collection`` that the caller may see.

    Args:
        router: the resource's router.
        path: the collection's path (``/v2/workflows``).
        collection: the key of the list in the answer; the route is named ``list_<collection>``.
        view: what the rows are read from.
        resource_fields: the fields ``?fields=`` may name.
        filters: the filters the query may use (``query`` declares them).
        show: turns a row into the resource's body.
        query: the dependency of :func:`query_dependency` for these filters.
        description: the route's description in the OpenAPI document.
    """
    # a default, not an Annotated hint: the hint would be a string naming a local
    query_values = Depends(query)

    def endpoint(
        *,
        request: Request,
        values: dict[str, str | None] = query_values,
        database: deps.DatabaseDep,
        caller: identity.CallerDep,
    ) -> Response:
        return render.MistralJSONResponse(
            page(
                request,
                values,
                database,
                collection=collection,
                view=view,
                resource_fields=resource_fields,
                filters=filters,
                show=show,
                caller=caller,
            )
        )

    router.add_api_route(
        path, endpoint, methods=["GET"], name=f"list_{collection}", description=description
    )


def add_get_route(
    router: APIRouter,
    path: str,
    *,
    name: str,
    view: queries.View,
    resource_fields: Sequence[str],
    show: Callable[..., dict[str, Any]],
    locate: Locate,
    missing: str | None = None,
    namespaced: bool = True,
    namespace_default: str | None = None,
    check: Callable[[str], object] | None = None,
    description: str,
) -> None:
    """Declare ``GET path``: one resource that the caller may see, with ``?fields=``.

    Args:
        router: the resource's router.
        path: the resource's path, ending in its one path parameter
            (``/v2/workflows/{identifier}``).
        name: the route's name (``get_workflow``).
        view: what the row is read from, by the id ``locate`` finds.
        resource_fields: the fields ``?fields=`` may name.
        show: turns a row into the resource's body.
        locate: finds the resource's id (:data:`Locate`).
        missing: Mistral's 404 message when ``locate`` finds nothing (returns None),
            formatted with the path's identifier (as ``identifier`` or ``name``) and
            ``namespace``; None where ``locate`` raises NotFoundError with its own.
        namespaced: whether the route takes ``?namespace=``.
        namespace_default: its default, as the OpenAPI document shows it (None: the
            parameter may be null; both mean the default namespace).
        check: refuses a malformed identifier before anything else is read.
        description: the route's description in the OpenAPI document.
    """
    parameter = _path_parameter(path)

    def endpoint(**values: Any) -> Response:
        identifier: str = values[parameter]
        if check is not None:
            check(identifier)
        only = selected_fields(values["fields"], resource_fields)
        namespace = values.get("namespace") or ""
        database: Database = values["database"]
        with database.read() as connection:
            found = locate(connection, identifier, namespace, projects.owner(values["caller"]))
            row = (
                None
                if found is None
                else queries.get_row(connection, view, where={"id": found}, fields=only)
            )
        if row is None:
            # Without ``missing``: located, then deleted before it was read.
            text = missing or "Not found [identifier={identifier}]"
            raise errors.NotFoundError(
                text.format(identifier=identifier, name=identifier, namespace=namespace)
            )
        return render.MistralJSONResponse(show(row, only=only or None))

    endpoint.__signature__ = _signature(  # type: ignore[attr-defined]
        parameter, namespaced, namespace_default, fields=True
    )
    router.add_api_route(path, endpoint, methods=["GET"], name=name, description=description)


#: Deletes the resource a request names: (connection, the path's identifier, the
#: ``?namespace=`` ("" without one), the caller's project or None without
#: authentication); raises NotFoundError (or refuses) in Mistral's words.
Delete = Callable[[Connection, str, str, str | None], object]


def add_delete_route(
    router: APIRouter,
    path: str,
    *,
    name: str,
    delete: Delete,
    namespaced: bool = True,
    namespace_default: str | None = None,
    check: Callable[[str], object] | None = None,
    description: str,
) -> None:
    """Declare ``DELETE path`` (204): delete, in one transaction, the resource named
    by the path's one parameter; the arguments are :func:`add_get_route`'s."""
    parameter = _path_parameter(path)

    def endpoint(**values: Any) -> Response:
        identifier: str = values[parameter]
        if check is not None:
            check(identifier)
        namespace = values.get("namespace") or ""
        database: Database = values["database"]
        with database.transaction() as connection:
            delete(connection, identifier, namespace, projects.owner(values["caller"]))
        return Response(status_code=204)

    endpoint.__signature__ = _signature(  # type: ignore[attr-defined]
        parameter, namespaced, namespace_default, fields=False
    )
    router.add_api_route(
        path, endpoint, methods=["DELETE"], status_code=204, name=name, description=description
    )


def _path_parameter(path: str) -> str:
    """The name of the one parameter a resource's path ends with."""
    return path.rsplit("{", 1)[1].rstrip("}/")


def _signature(
    parameter: str, namespaced: bool, namespace_default: str | None, *, fields: bool
) -> inspect.Signature:
    """What a one-resource endpoint declares to FastAPI: the path parameter, then
    ``?namespace=`` and ``?fields=`` when it takes them, the database and the caller."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    declared = [inspect.Parameter(parameter, keyword, annotation=str)]
    if namespaced:
        kind = str if namespace_default is not None else str | None
        declared.append(
            inspect.Parameter("namespace", keyword, default=namespace_default, annotation=kind)
        )
    if fields:
        declared.append(inspect.Parameter("fields", keyword, default=None, annotation=str | None))
    declared += [
        inspect.Parameter("database", keyword, annotation=deps.DatabaseDep),
        inspect.Parameter("caller", keyword, annotation=identity.CallerDep),
    ]
    return inspect.Signature(declared)
