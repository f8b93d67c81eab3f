"""``--auth oidc``: JSON Web Tokens of an OpenID Connect issuer (Keycloak), checked
against the issuer's published keys (JWKS).

Like Mistral's ``keycloak-oidc`` mode, the token comes in ``X-Auth-Token``
(``Authorization: Bearer`` works too). Its signature is checked with the key
the issuer publishes at ``SIROCCO_OIDC_JWKS_URL`` (fetched once, fetched again
for an unknown key id), then its expiry, issuer and, when set, audience. The
project is the claim ``SIROCCO_OIDC_PROJECT_CLAIM`` (default ``project_id``);
the roles are Keycloak's ``realm_access.roles`` plus a ``roles`` claim.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import jwt

from sirocco import errors
from sirocco.api.authentication import Unauthorized
from sirocco.api.errors import ApiError
from sirocco.api.identity import Caller
from sirocco.settings import Settings

log = logging.getLogger("sirocco.api.oidc")

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256"]


@dataclass(frozen=True, slots=True)
class Oidc:
    """Checks JWTs of ``issuer`` with the keys at ``jwks_url``."""

    issuer: str
    jwks_url: str
    audience: str | None = None
    project_claim: str = "project_id"
    mode: str = "oidc"
    _keys: jwt.PyJWKClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keys", jwt.PyJWKClient(self.jwks_url, timeout=10))

    @classmethod
    def from_settings(cls, settings: Settings) -> Oidc:
        if not settings.oidc_issuer:
            raise errors.ConfigurationError("--auth oidc needs SIROCCO_OIDC_ISSUER")
        jwks_url = settings.oidc_jwks_url or (
            settings.oidc_issuer.rstrip("/") + "/protocol/openid-connect/certs"
        )
        return cls(
            issuer=settings.oidc_issuer,
            jwks_url=jwks_url,
            audience=settings.oidc_audience,
            project_claim=settings.oidc_project_claim,
        )

    def identify(self, token: str) -> Caller:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            log.error("oidc keys unreachable", extra={"error": type(exc).__name__})
            raise ApiError("The identity provider's keys could not be fetched.", 503) from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid token: {exc}") from exc
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                options={"verify_aud": self.audience is not None, "require": ["exp", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid token: {exc}") from exc
        return self._caller(claims)

    def _caller(self, claims: dict[str, Any]) -> Caller:
        project = claims.get(self.project_claim)
        if not isinstance(project, str) or not project:
            raise Unauthorized(f"The token has no '{self.project_claim}' claim.")
        roles: set[str] = set()
        realm = claims.get("realm_access")
        if isinstance(realm, dict):
            roles.update(str(role) for role in realm.get("roles") or ())
        listed = claims.get("roles")
        if isinstance(listed, list):
            roles.update(str(role) for role in listed)
        subject = claims.get("sub")
        return Caller(
            project_id=project,
            user_id=str(subject) if subject is not None else None,
            roles=frozenset(roles),
        )
