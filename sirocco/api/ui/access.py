"""Who may see the pages: the one dependency every page of the web view goes through.

The web view applies the API's own rules: the caller is found as for the API
(:func:`sirocco.api.identity.caller`, 401 without a valid token when
authentication is on). The pages do not filter by project yet, so with
authentication on only administrators may see them (403 for the others);
without authentication everyone is the default project's administrator.
"""

from __future__ import annotations

import urllib.parse

from fastapi import HTTPException, Request

from sirocco.api.errors import ApiError
from sirocco.api.identity import caller


async def viewer(request: Request) -> None:
    """Let the request see the pages: any caller without authentication, admins with it.

    A browser without a valid token is sent to the sign-in page (``/ui/login``).
    """
    try:
        found = await caller(request)
    except ApiError as error:
        if error.status_code != 401:
            raise
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = "/ui/login?" + urllib.parse.urlencode({"next": path})
        raise HTTPException(303, "Sign in first.", headers={"Location": target}) from None
    if found.authenticated and not found.is_admin:
        raise ApiError("The web view is for administrators while authentication is on.", 403)
