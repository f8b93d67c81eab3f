"""Signing in to the web view: a token typed once, kept in an HttpOnly cookie.

Browsers cannot add ``X-Auth-Token`` to a page load, so the sign-in page
checks the token with the app's authenticator and sets the cookie that
:func:`sirocco.api.authentication.token_of` reads after the headers
(``SameSite=Strict``, so no other site's page can make the browser send it).
"""

from __future__ import annotations

import urllib.parse

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from sirocco.api import authentication
from sirocco.api.errors import ApiError
from sirocco.api.ui import access, templating

router = APIRouter(include_in_schema=False)
#: How long the browser keeps the cookie (the token's own expiry still applies).
COOKIE_SECONDS = 12 * 3600


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of the web view, nothing else."""
    if value and value.startswith("/ui/") and "//" not in value and "\\" not in value:
        return value
    return "/ui/"


@router.get("/ui/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return templating.page(
        request,
        "login.html",
        title="Sign in",
        next=safe_next(next),
        message="",
        mode=_mode(request),
    )


@router.post("/ui/login")
async def login(request: Request) -> Response:
    """Check the token and keep it in the cookie; the form again, with the reason, if bad."""
    fields = urllib.parse.parse_qs((await request.body()).decode("utf-8", errors="replace"))
    token = (fields.get("token") or [""])[0].strip()
    target = safe_next((fields.get("next") or [""])[0])
    gate = getattr(request.app.state, "gate", None)
    authenticator = getattr(gate, "authenticator", None)
    if authenticator is None:
        return RedirectResponse(target, status_code=303)
    try:
        if not token:
            raise authentication.Unauthorized("Type a token.")
        await run_in_threadpool(authenticator.identify, token)
    except ApiError as error:
        return templating.page(
            request,
            "login.html",
            status=401,
            title="Sign in",
            next=target,
            message=error.message,
            mode=_mode(request),
        )
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(access.SPAN_COOKIE, path="/ui")
    response.set_cookie(
        authentication.TOKEN_COOKIE,
        token,
        max_age=COOKIE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/ui/logout")
def logout() -> Response:
    """Forget the cookie."""
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(authentication.TOKEN_COOKIE, path="/")
    response.delete_cookie(access.SPAN_COOKIE, path="/ui")
    return response


def _mode(request: Request) -> str:
    return str(getattr(getattr(request.app.state, "gate", None), "mode", "none"))


@router.post("/ui/span")
async def span(request: Request) -> Response:
    """Keep an administrator's choice: every project's resources, or the own project's."""
    fields = urllib.parse.parse_qs((await request.body()).decode("utf-8", errors="replace"))
    everything = (fields.get("all_projects") or ["0"])[0] == "1"
    target = safe_next((fields.get("next") or [""])[0])
    viewer = await access.viewer(request)
    response = RedirectResponse(target, status_code=303)
    if everything:
        if not viewer.may_span:
            message = f"Policy doesn't allow {access.SPAN_RULE} to be performed."
            return templating.error_page(request, message, 403)
        response.set_cookie(
            access.SPAN_COOKIE,
            "1",
            max_age=COOKIE_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/ui",
        )
    else:
        response.delete_cookie(access.SPAN_COOKIE, path="/ui")
    return response
