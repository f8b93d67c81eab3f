"""Who is calling: the :class:`Caller` of a request, as one reusable FastAPI dependency.

Every route that reads or changes a project's resources takes the caller as a
parameter (``caller: identity.CallerDep``) and passes it on explicitly; the
``/ui`` pages use the same dependency. How the caller is found (no
authentication, built-in tokens, Keystone, OIDC) is the app's
:class:`sirocco.api.authentication.Gate`; this module only asks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request

#: The project of every resource when authentication is off (Mistral's value).
DEFAULT_PROJECT = "<default-project>"
ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """The identity behind a request.

    Attributes:
        project_id: the project whose resources the caller owns.
        user_id: who the token belongs to, when the mode knows it.
        roles: role names (``admin`` makes an administrator).
        authenticated: False when authentication is off (``--auth none``).
    """

    project_id: str
    user_id: str | None = None
    roles: frozenset[str] = frozenset()
    authenticated: bool = True

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


#: The caller of every request when authentication is off: one project, allowed everything.
ANONYMOUS = Caller(project_id=DEFAULT_PROJECT, roles=frozenset({ADMIN_ROLE}), authenticated=False)


class Gate(Protocol):
    """What finds the caller of a request (``sirocco.api.authentication.Gate``)."""

    async def caller(self, request: Request) -> Caller: ...


async def caller(request: Request) -> Caller:
    """The caller of this request; 401 (Mistral's error body) without a valid token.

    A coroutine, so FastAPI runs it on the event loop; the gate sends only
    the blocking checks (a database or Keystone look-up) to the thread pool.
    """
    found: Caller | None = getattr(request.state, "caller", None)
    if found is None:
        gate: Gate | None = getattr(request.app.state, "gate", None)
        found = ANONYMOUS if gate is None else await gate.caller(request)
        request.state.caller = found
    return found


CallerDep = Annotated[Caller, Depends(caller)]
