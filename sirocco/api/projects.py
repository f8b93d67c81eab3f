"""Projects: every resource belongs to the caller's project, checked in one place.

* **Lists** see the caller's rows, plus ``scope: public`` definitions and the
  workflows shared with the caller's project (accepted members);
  ``?all_projects=true`` and a ``project_id`` filter are for administrators
  (Mistral's ``*:list:all_projects`` rules) and lift that restriction.
* **One resource named in the path** (an id, or a name with ``?namespace=``)
  is looked up by :func:`guard` before the route runs: another project's
  resource answers 404 in the route's own words, as if it did not exist;
  a public one of another project can be read but not changed (403).
* **Creations** are stamped with the caller's project (:func:`stamp`) in the
  transaction that writes them.

Names are unique per project, as in Mistral: two projects may each have a
workflow ``x``. A name in a path means the caller's own row first, then one
it may read (public, or shared with it); the routes and the store resolve a
name in the same order (:func:`sirocco.store.definitions.name_order`), so the route acts on the row
the guard checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from fastapi import Request

from sirocco import errors
from sirocco.api.errors import ApiError
from sirocco.api.identity import Caller, CallerDep
from sirocco.api.policy import Policy
from sirocco.store import ownership, queries
from sirocco.store.database import Connection, Database
from sirocco.store.ownership import Found

# ---------------------------------------------------------------- lists


def list_scope(
    view: queries.View, caller: Caller, values: Mapping[str, str | None]
) -> list[ownership.Condition]:
    """The conditions a list of ``view`` adds for ``caller``: none for an
    ``all_projects`` or ``project_id`` list (:func:`authorize` let it through)."""
    if _across_projects(values):
        return []
    return [visible(view, caller)]


def _across_projects(values: Mapping[str, str | None]) -> bool:
    everything = str(values.get("all_projects") or "").lower() in (
        "true",
        "1",
        "yes",
        "on",
        "t",
        "y",
    )
    return everything or bool(values.get("project_id"))


def visible(view: queries.View, caller: Caller) -> ownership.Condition:
    """Rows of ``view`` that ``caller`` may read."""
    return ownership.visible(view, caller.project_id)


#: The resources a route path can end in (the last of them names the policy rule).
RESOURCES = (
    "workflows", "workbooks", "actions", "executions", "tasks", "action_executions",
    "environments", "cron_triggers", "event_triggers", "members", "code_sources",
    "dynamic_actions",
)  # fmt: skip
_OPERATIONS = {"POST": "create", "PUT": "update", "DELETE": "delete"}


@lru_cache(maxsize=1024)
def rule_of(method: str, route: str) -> str | None:
    """The policy rule of a route (``GET /v2/executions/{id}/tasks`` -> ``tasks:list``)."""
    parts = [part for part in route.split("/") if part]
    named = [index for index, part in enumerate(parts) if part in RESOURCES]
    if not named or parts[-1] == "validate":
        return None
    last = named[-1]
    resource = parts[last]
    if resource == "event_triggers" and parts[-1] == "events":
        return "event_triggers:fire"  # Sirocco's extension: POST an event to a trigger
    if method in _READS:
        operation = "list" if last == len(parts) - 1 else "get"
    else:
        operation = _OPERATIONS.get(method, "update")
    return f"{resource}:{operation}"


async def authorize(request: Request, caller: CallerDep) -> None:
    """Enforce the policy rule of the route (a router dependency); lists across
    projects also need the resource's ``list:all_projects`` rule."""
    if not caller.authenticated:
        return
    policy: Policy = request.app.state.policy
    route = getattr(request.scope.get("route"), "path", "")
    rule = rule_of(request.method, route)
    if rule is None:
        return
    policy.enforce(rule, caller)
    if rule.endswith(":list") and _across_projects(request.query_params):
        policy.enforce(f"{rule}:all_projects", caller)


async def checks(request: Request, caller: CallerDep) -> None:
    """The policy rule, then the project of the named resources (one router dependency:
    FastAPI resolves each dependency of every request, so one costs less than two)."""
    if not caller.authenticated:
        return
    await authorize(request, caller)
    await guard(request, caller)


# ---------------------------------------------------------------- one resource


#: How a route's path names one resource: (connection, path parameters, query parameters,
#: the caller's project) -> the owner of the row the name means for that caller, or None.
Finder = Callable[[Connection, Mapping[str, str], Mapping[str, str], str], Found | None]


def _by_id(kind: str, key: str) -> Finder:
    def find(
        connection: Connection,
        path: Mapping[str, str],
        _query: Mapping[str, str],
        _project: str,
    ) -> Found | None:
        return ownership.owner_by_id(connection, kind, path[key])

    return find


def _named(kind: str, key: str) -> Finder:
    def find(
        connection: Connection,
        path: Mapping[str, str],
        query: Mapping[str, str],
        project: str,
    ) -> Found | None:
        # Names are unique per project: the caller's own row first, then one it may read
        # (public, or a workflow shared with it), then any (refused by ``check``).
        namespace = path.get("namespace") or query.get("namespace") or ""
        return ownership.owner_by_name(
            connection, kind, path[key], namespace=namespace, project_id=project
        )

    return find


#: path parameter -> how to find the owner of the resource it names, and the 404 message.
FINDERS: Mapping[str, tuple[str, Finder, str]] = {
    "execution_id": (
        "/v2/executions/",
        _by_id("execution", "execution_id"),
        "WorkflowExecution not found [id={value}]",
    ),
    "task_id": (
        "/v2/tasks/",
        _by_id("task", "task_id"),
        "Task execution not found [id={value}]",
    ),
    "action_execution_id": (
        "",
        _by_id("action_execution", "action_execution_id"),
        "ActionExecution not found [id={value}]",
    ),
}

#: route prefix -> (path parameter, finder, 404 message) for resources named by name.
NAMED: tuple[tuple[str, str, Finder, str], ...] = (
    (
        "/v2/workflows/",
        "identifier",
        _named("workflow", "identifier"),
        "Workflow not found [workflow_identifier={value}, namespace={namespace}]",
    ),
    (
        "/v2/workbooks/",
        "name",
        _named("workbook", "name"),
        "Workbook not found [workbook_name={value}, namespace={namespace}]",
    ),
    (
        "/v2/actions/",
        "name",
        _named("action", "name"),
        "Action not found [name={value}, namespace={namespace}]",
    ),
    (
        "/v2/environments/",
        "name",
        _named("environment", "name"),
        "Environment not found [name={value}]",
    ),
    (
        "/v2/cron_triggers/",
        "identifier",
        _named("cron_trigger", "identifier"),
        "Cron trigger not found [identifier={value}]",
    ),
    (
        "/v2/event_triggers/",
        "identifier",
        _named("event_trigger", "identifier"),
        "Event trigger not found [id={value}].",
    ),
)

_READS = ("GET", "HEAD")

#: A change refused on another project's readable resource: Mistral 23's words where
#: Mistral refuses it (``check_db_obj_access`` in mistral/db/utils.py, HTTP 403), else ours.
FORBIDDEN = "Can not modify a resource of another project."
FORBIDDEN_WORDS: Mapping[str, str] = {
    "/v2/workflows/": "Can not access WorkflowDefinition resource of other projects, ID: {id}",
    "/v2/cron_triggers/": "Can not access CronTrigger resource of other projects, ID: {id}",
}


async def guard(request: Request, caller: CallerDep) -> None:
    """Refuse a request naming another project's resource (a router dependency).

    A coroutine that does its look-ups in the thread pool only when auth is on:
    with ``--auth none`` everything belongs to the one default project.
    """
    if not caller.authenticated:
        return
    from starlette.concurrency import run_in_threadpool

    route = getattr(request.scope.get("route"), "path", "")
    if not _route_has_checks(route, frozenset(request.path_params)):
        return  # nothing to look up: no hop to the thread pool
    database: Database = request.app.state.service.database
    await run_in_threadpool(_check_path, database, request, caller)


@lru_cache(maxsize=1024)
def _route_has_checks(route: str, keys: frozenset[str]) -> bool:
    """Whether :func:`_check_path` looks anything up for this route (worked out once)."""
    if "/members" in route:
        return False
    return any(
        key in keys and route.startswith(prefix or "/v2/")
        for key, (prefix, _finder, _message) in FINDERS.items()
    ) or any(key in keys and route.startswith(prefix) for prefix, key, _finder, _message in NAMED)


def _check_path(database: Database, request: Request, caller: Caller) -> None:
    path = {key: str(value) for key, value in request.path_params.items()}
    query = dict(request.query_params)
    route = getattr(request.scope.get("route"), "path", "")
    if "/members" in route:
        return  # sharing has its own rules: the member project acts on another's workflow
    writing = request.method not in _READS
    checks: list[tuple[Finder, str, str, str]] = []
    for key, (prefix, finder, message) in FINDERS.items():
        if key in path and route.startswith(prefix or "/v2/"):
            checks.append((finder, message, path[key], FORBIDDEN))
    for prefix, key, finder, message in NAMED:
        if key in path and route.startswith(prefix):
            checks.append((finder, message, path[key], FORBIDDEN_WORDS.get(prefix, FORBIDDEN)))
    if not checks:
        return
    with database.read() as connection:
        for finder, message, value, forbidden in checks:
            found = finder(connection, path, query, caller.project_id)
            namespace = path.get("namespace") or query.get("namespace") or ""
            check(
                found,
                caller,
                writing=writing,
                missing=message.format(value=value, namespace=namespace),
                forbidden=forbidden,
            )


def check(
    found: Found | None,
    caller: Caller,
    *,
    writing: bool,
    missing: str,
    forbidden: str = FORBIDDEN,
) -> None:
    """404 (``missing``) unless ``caller`` may see ``found``; 403 (``forbidden``, formatted
    with the row's ``id``) to change another's.

    Administrators too see only their project here, as in Mistral: only lists
    reach across projects (``all_projects``)."""
    if found is None or found.project_id == caller.project_id:
        return
    readable = found.public or caller.project_id in found.members
    if not readable:
        raise errors.NotFoundError(missing)
    if writing:
        raise ApiError(forbidden.format(id=found.id), 403)


def check_workflow(
    connection: Connection, caller: Caller, identifier: str, namespace: str = ""
) -> None:
    """The workflow an execution or trigger would start must be one the caller may read."""
    if not caller.authenticated:
        return
    found = ownership.owner_by_name(
        connection, "workflow", identifier, namespace=namespace, project_id=caller.project_id
    )
    check(
        found,
        caller,
        writing=False,
        missing=f"Workflow not found [workflow_identifier={identifier}, namespace={namespace}]",
    )


def check_execution(connection: Connection, caller: Caller, execution_id: str) -> None:
    """A workflow execution named in a body must be the caller's."""
    if not caller.authenticated:
        return
    _prefix, finder, message = FINDERS["execution_id"]
    found = finder(connection, {"execution_id": execution_id}, {}, caller.project_id)
    check(found, caller, writing=True, missing=message.format(value=execution_id))


def check_named(connection: Connection, caller: Caller, kind: str, name: str, missing: str) -> None:
    """A definition named in a body (an environment, an ad-hoc action: ``kind`` as in
    :func:`sirocco.store.ownership.owner_by_name`) must be readable."""
    if not caller.authenticated:
        return
    found = ownership.readable_owner(connection, kind, name, caller.project_id)
    check(found, caller, writing=False, missing=missing)


def owner(caller: Caller) -> str | None:
    """The project whose names a caller's request means first (None without
    authentication: every row is the default project's)."""
    return caller.project_id if caller.authenticated else None


def require_own(
    rows: Iterable[Mapping[str, Any]],
    caller: Caller,
    missing: str,
    forbidden: str = FORBIDDEN,
) -> None:
    """Refuse (inside the writing transaction, so nothing stays) a change that
    reached another project's definitions: 404 (``missing``, formatted with the
    row) unless public, 403 then (``forbidden``, formatted with the row)."""
    if not caller.authenticated:
        return
    for row in rows:
        if row.get("project_id") in (None, caller.project_id):
            continue
        if row.get("scope") == "public":
            raise ApiError(forbidden.format(**row), 403)
        raise errors.NotFoundError(missing.format(**row))
