"""``--auth keystone``: a token is valid when Keystone says so (``GET /v3/auth/tokens``).

Mistral wires Keystone in through keystonemiddleware's ``auth_token``, a WSGI
middleware configured through oslo.config (``[keystone_authtoken]``, service
credentials, memcache). Sirocco serves ASGI and has no oslo.config, so it
makes the same check itself: it asks Keystone to validate the token (the
token validates itself, ``X-Auth-Token`` and ``X-Subject-Token`` being the
same, which Keystone's default policy allows) and reads the project and
roles of the answer. Answers are cached for a minute by the gate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from sirocco.api.authentication import Unauthorized
from sirocco.api.errors import ApiError
from sirocco.api.identity import Caller

log = logging.getLogger("sirocco.api.keystone")


@dataclass(frozen=True, slots=True)
class Keystone:
    """Validates tokens against the Keystone at ``url`` (``http://host:5000``, ``.../v3``)."""

    url: str
    timeout: float = 10.0
    mode: str = "keystone"
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_client", httpx.Client(timeout=self.timeout))

    @property
    def tokens_url(self) -> str:
        base = self.url.rstrip("/")
        if not base.endswith("/v3"):
            base += "/v3"
        return base + "/auth/tokens"

    def identify(self, token: str) -> Caller:
        try:
            response = self._client.get(
                self.tokens_url, headers={"X-Auth-Token": token, "X-Subject-Token": token}
            )
        except httpx.HTTPError as exc:
            log.error("keystone unreachable", extra={"error": type(exc).__name__})
            raise ApiError("The identity service could not be reached.", 503) from exc
        if response.status_code in (401, 403, 404):
            raise Unauthorized()
        if response.status_code != 200:
            log.error("keystone refused", extra={"status": response.status_code})
            raise ApiError("The identity service could not validate the token.", 503)
        return _caller(response.json())


def _caller(body: Any) -> Caller:
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, dict):
        raise Unauthorized("The identity service gave no token.")
    project = token.get("project")
    if not isinstance(project, dict) or not project.get("id"):
        raise Unauthorized("The token is not scoped to a project.")
    roles = frozenset(
        str(role.get("name")) for role in token.get("roles") or () if isinstance(role, dict)
    )
    user = token.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    return Caller(project_id=str(project["id"]), user_id=user_id, roles=roles)
