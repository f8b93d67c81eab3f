"""Built-in API tokens: made once, stored as a SHA-256 digest, found again by the digest.

A token is 32 random bytes (``secrets.token_urlsafe``) behind the prefix
``sir_``; only its digest is stored, so a copy of the database gives nobody a
token. A plain SHA-256 is enough here (unlike for passwords): the secret is
random and long, there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sirocco import errors, ids
from sirocco.store import tables

ROLES = ("admin", "member")
PREFIX = "sir_"

_tokens = tables.auth_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """A stored token (never its secret)."""

    id: str
    project_id: str
    role: str
    description: str | None
    expires_at: datetime | None
    created_at: datetime


def digest(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode("utf-8", errors="surrogateescape")).hexdigest()


def create(
    connection: sa.Connection,
    *,
    project_id: str,
    role: str,
    now: datetime,
    expires_at: datetime | None = None,
    description: str | None = None,
) -> tuple[Token, str]:
    """Store a new token; returns it and its secret (shown once, never stored)."""
    if role not in ROLES:
        raise errors.InputError(f"Unknown role: {role} (one of: {', '.join(ROLES)})")
    if not project_id.strip() or len(project_id) > 80:
        raise errors.InputError("A project id is 1 to 80 characters.")
    if expires_at is not None and expires_at <= now:
        raise errors.InputError("The expiry time is in the past.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = Token(
        id=ids.new_id(),
        project_id=project_id,
        role=role,
        description=description,
        expires_at=expires_at,
        created_at=now,
    )
    connection.execute(
        sa.insert(_tokens).values(
            id=token.id,
            digest=digest(secret),
            project_id=project_id,
            role=role,
            description=description,
            expires_at=expires_at,
            created_at=now,
        )
    )
    return token, secret


def find(connection: sa.Connection, secret: str, *, now: datetime) -> Token | None:
    """The token with this secret, if it exists and has not expired."""
    row = connection.execute(sa.select(_tokens).where(_tokens.c.digest == digest(secret))).first()
    if row is None:
        return None
    token = _token(row._mapping)
    if token.expires_at is not None and token.expires_at <= now:
        return None
    return token


def list_all(connection: sa.Connection) -> list[Token]:
    """Every stored token, oldest first."""
    rows = connection.execute(sa.select(_tokens).order_by(_tokens.c.created_at, _tokens.c.id))
    return [_token(row._mapping) for row in rows]


def revoke(connection: sa.Connection, token_id: str) -> None:
    """Delete a token by id; NotFoundError if there is none."""
    deleted = connection.execute(sa.delete(_tokens).where(_tokens.c.id == token_id)).rowcount
    if not deleted:
        raise errors.NotFoundError(f"Token not found: {token_id}")


def _token(row: sa.RowMapping) -> Token:
    return Token(
        id=row["id"],
        project_id=row["project_id"],
        role=row["role"],
        description=row["description"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
    )
