"""Who may see what in the web view: the one dependency every page goes through.

The pages apply the REST API's own rules, with the API's own functions:

* the caller is found as for the API (:func:`sirocco.api.identity.caller`); a
  browser without a valid token is sent to the sign-in page;
* each page checks the policy rule of the API route that reads the same thing
  (``executions:list``, ``workflows:get``...), so a policy file that narrows
  the API narrows the pages too;
* every list and every page shows only what :func:`sirocco.api.projects.visible`
  lets the caller read: the caller's project, ``scope: public`` definitions and
  workflows shared with the caller's project;
* ``?all_projects=1`` lifts that for the callers the API lets list across
  projects (the ``*:list:all_projects`` rules: administrators by default).

Without authentication everyone is the default project's administrator and
every row belongs to that project, so nothing is filtered.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from sirocco.api import projects
from sirocco.api.errors import ApiError
from sirocco.api.identity import Caller, caller
from sirocco.api.policy import Policy
from sirocco.store import queries

_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
#: The cookie that keeps an administrator's choice to see every project (``/ui/span``).
SPAN_COOKIE = "sirocco_all_projects"
#: The rule that lets a caller span projects (the API's, for the executions list).
SPAN_RULE = "executions:list:all_projects"


@dataclass(frozen=True, slots=True, kw_only=True)
class Viewer:
    """The caller of a page, the policy in force, and whether the page spans projects."""

    caller: Caller
    policy: Policy
    all_projects: bool = False
    may_span: bool = False  # whether the policy lets the caller list across projects
    asked: bool = False  # the span was asked on this page (?all_projects=), not kept

    @property
    def filtered(self) -> bool:
        """Whether rows are limited to what the caller's project may read."""
        return self.caller.authenticated and not self.all_projects

    def checked(self, rule: str) -> Viewer:
        """The viewer of a page that reads what the API's ``rule`` lets read: 403 in the
        API's words unless the policy allows ``rule``. A page that spans projects also
        needs the resource's ``list:all_projects`` rule, as the API's lists do: asked on
        the page (``?all_projects=1``), a refusal is a 403; kept in the cookie, the page
        shows the caller's own project instead (the API has no such rule for some
        resources, e.g. environments)."""
        self.policy.enforce(rule, self.caller)
        if not self.all_projects:
            return self
        spanning = f"{rule.split(':', 1)[0]}:list:all_projects"
        if self.asked:
            self.policy.enforce(spanning, self.caller)
            return self
        if self.policy.allows(spanning, self.caller):
            return self
        return dataclasses.replace(self, all_projects=False)

    def where(self, view: queries.View) -> list[Any]:
        """The conditions (SQL expressions for the store's readers) that keep the rows of
        ``view`` this viewer may read."""
        if not self.filtered:
            return []
        return [projects.visible(view, self.caller)]


async def viewer(request: Request) -> Viewer:
    """The :class:`Viewer` of this request; a browser without a valid token is sent to
    the sign-in page (``/ui/login``)."""
    found = getattr(request.state, "viewer", None)
    if isinstance(found, Viewer):
        return found
    try:
        who = await caller(request)
    except ApiError as error:
        if error.status_code != 401:
            raise
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = "/ui/login?" + urllib.parse.urlencode({"next": path})
        raise HTTPException(303, "Sign in first.", headers={"Location": target}) from None
    policy = getattr(request.app.state, "policy", None) or Policy.defaults()
    may_span = who.authenticated and policy.allows(SPAN_RULE, who)
    asked = request.query_params.get("all_projects")
    if asked is not None:  # asked on this page: the page enforces the rule (403 if refused)
        everything = asked.lower() in _TRUE
    else:  # the choice kept in the cookie: honoured while the policy allows it
        everything = may_span and request.cookies.get(SPAN_COOKIE) == "1"
    found = Viewer(
        caller=who,
        policy=policy,
        all_projects=everything and who.authenticated,
        may_span=may_span,
        asked=asked is not None,
    )
    request.state.viewer = found
    return found


ViewerDep = Annotated[Viewer, Depends(viewer)]
