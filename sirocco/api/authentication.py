"""How a request proves who it is: ``--auth none|tokens|keystone|oidc``.

The token travels in ``X-Auth-Token``, as python-mistralclient sends it
(``--os-auth-token``, or the token it got from Keystone); OIDC also takes
``Authorization: Bearer``. A request without a valid token gets 401 with
Mistral's error body. Each mode is an :class:`Authenticator`: a blocking
``identify(token)`` run in the thread pool; Keystone answers are kept for a
minute (keystonemiddleware caches them too), built-in tokens are looked up on
every request so that a revoked token stops at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from sirocco import clock as clocks
from sirocco import errors
from sirocco.api.errors import ApiError
from sirocco.api.identity import ANONYMOUS, Caller
from sirocco.settings import Settings
from sirocco.store import tokens
from sirocco.store.database import Database

MODES = ("none", "tokens", "keystone", "oidc")
UNAUTHORIZED = "The request you have made requires authentication."


class Unauthorized(ApiError):
    """The request has no valid token (401)."""

    def __init__(self, message: str = UNAUTHORIZED) -> None:
        super().__init__(message, 401)


class Authenticator(Protocol):
    """Turns a token into a caller, or raises :class:`Unauthorized`."""

    @property
    def mode(self) -> str: ...

    def identify(self, token: str) -> Caller: ...


@dataclass(frozen=True, slots=True)
class BuiltInTokens:
    """Tokens made with ``sirocco token create``, stored hashed in the database."""

    database: Database
    mode: str = "tokens"

    def identify(self, token: str) -> Caller:
        now = clocks.utcnow()
        with self.database.read() as connection:
            found = tokens.find(connection, token, now=now)
        if found is None:
            raise Unauthorized("Invalid or expired token.")
        return Caller(project_id=found.project_id, user_id=found.id, roles=frozenset({found.role}))


class Gate:
    """Finds the caller of each request for one app (see :mod:`sirocco.api.identity`)."""

    def __init__(
        self,
        authenticator: Authenticator | None,
        *,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = clocks.monotonic,
    ) -> None:
        self.authenticator = authenticator
        self.mode = authenticator.mode if authenticator is not None else "none"
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    async def caller(self, request: Request) -> Caller:
        if self.authenticator is None:
            return ANONYMOUS
        token = token_of(request)
        if not token:
            raise Unauthorized()
        key = hashlib.sha256(token.encode("utf-8", errors="surrogateescape")).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await run_in_threadpool(self.authenticator.identify, token)
        if self._cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (now + self._cache_seconds, found)
        return found


#: The cookie the web view's sign-in page sets (HttpOnly, SameSite=Strict), so that a
#: browser's page loads and the pages' own API calls carry the token.
TOKEN_COOKIE = "sirocco_token"


def token_of(request: Request) -> str | None:
    """The token of a request: ``X-Auth-Token``, else an ``Authorization: Bearer`` value,
    else the web view's :data:`TOKEN_COOKIE`."""
    token = request.headers.get("x-auth-token")
    if token:
        return token.strip()
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cookie = request.cookies.get(TOKEN_COOKIE, "").strip()
    return cookie or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``0.0.0.0`` and names are not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mode_for(settings: Settings, host: str, *, insecure_no_auth: bool = False) -> str:
    """The mode a server on ``host`` runs in.

    Without ``--auth``: ``none`` on a loopback address, built-in ``tokens``
    anywhere else. ``none`` on a non-loopback address is refused unless
    ``--insecure-no-auth`` is given.
    """
    mode = settings.auth or ("none" if is_loopback(host) else "tokens")
    if mode == "none" and not is_loopback(host) and not insecure_no_auth:
        raise errors.ConfigurationError(
            f"refusing to serve {host} without authentication: use --auth tokens "
            "(see `sirocco token create`), keystone or oidc, or --insecure-no-auth"
        )
    return mode


def gate_for(mode: str, settings: Settings, database: Database) -> Gate:
    """The gate of ``mode``, configured from ``settings``."""
    if mode == "none":
        return Gate(None)
    if mode == "tokens":
        return Gate(BuiltInTokens(database))
    if mode == "keystone":
        from sirocco.api import keystone

        if not settings.keystone_url:
            raise errors.ConfigurationError(
                "--auth keystone needs SIROCCO_KEYSTONE_URL (Keystone's URL, e.g. "
                "http://keystone:5000)"
            )
        return Gate(keystone.Keystone(settings.keystone_url), cache_seconds=60.0)
    if mode == "oidc":
        from sirocco.api import oidc

        return Gate(oidc.Oidc.from_settings(settings))
    raise errors.ConfigurationError(f"Unknown auth mode: {mode} (one of: {', '.join(MODES)})")
