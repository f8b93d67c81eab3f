"""Small identity services on 127.0.0.1 for the tests: a fake Keystone v3 and a JWKS server.

The fake Keystone answers what keystoneauth (python-mistralclient) and Sirocco's
``--auth keystone`` ask: version discovery (``GET /v3``), password and token
authentication (``POST /v3/auth/tokens``, the token in ``X-Subject-Token``
and a catalog with a ``workflowv2`` endpoint), and token validation
(``GET /v3/auth/tokens`` with ``X-Subject-Token``).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Account:
    password: str
    project: str
    roles: tuple[str, ...] = ("member",)


@dataclass
class FakeKeystone:
    accounts: Mapping[str, Account]
    workflow_url: str = ""
    url: str = ""
    tokens: dict[str, tuple[str, Account]] = field(default_factory=dict)
    validations: int = 0

    def issue(self, user: str) -> str:
        token = "ks-" + secrets.token_hex(16)
        self.tokens[token] = (user, self.accounts[user])
        return token

    def body(self, user: str, account: Account) -> dict[str, Any]:
        now = datetime.now(UTC).replace(microsecond=0)
        domain = {"id": "default", "name": "Default"}
        return {
            "token": {
                "methods": ["password"],
                "issued_at": now.isoformat().replace("+00:00", ".000000Z"),
                "expires_at": (now + timedelta(hours=1)).isoformat().replace("+00:00", ".000000Z"),
                "user": {"id": f"id-{user}", "name": user, "domain": domain},
                "project": {"id": account.project, "name": account.project, "domain": domain},
                "roles": [{"id": role, "name": role} for role in account.roles],
                "catalog": [
                    {
                        "id": "mistral",
                        "type": "workflowv2",
                        "name": "mistral",
                        "endpoints": [
                            {
                                "id": "mistral-public",
                                "interface": "public",
                                "region": "RegionOne",
                                "region_id": "RegionOne",
                                "url": self.workflow_url,
                            }
                        ],
                    }
                ],
            }
        }


def _handler(keystone: FakeKeystone) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any, headers: Mapping[str, str] = {}) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v3":
                link = {"rel": "self", "href": f"{keystone.url}/v3/"}
                self._send(200, {"version": {"id": "v3.14", "status": "stable", "links": [link]}})
            elif self.path == "/v3/auth/tokens":
                keystone.validations += 1
                found = keystone.tokens.get(self.headers.get("X-Subject-Token", ""))
                if found is None or self.headers.get("X-Auth-Token") not in keystone.tokens:
                    self._send(404, {"error": {"code": 404, "title": "Not Found"}})
                else:
                    self._send(200, keystone.body(*found))
            else:
                self._send(404, {"error": {"code": 404}})

        def do_POST(self) -> None:
            if self.path != "/v3/auth/tokens":
                self._send(404, {"error": {"code": 404}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            identity = json.loads(self.rfile.read(length) or b"{}")["auth"]["identity"]
            user = None
            if "password" in identity["methods"]:
                given = identity["password"]["user"]
                account = keystone.accounts.get(given.get("name", ""))
                if account is not None and account.password == given.get("password"):
                    user = given["name"]
            elif "token" in identity["methods"]:
                found = keystone.tokens.get(identity["token"]["id"])
                user = found[0] if found else None
            if user is None:
                self._send(401, {"error": {"code": 401, "title": "Unauthorized"}})
                return
            token = keystone.issue(user)
            self._send(
                201, keystone.body(user, keystone.accounts[user]), {"X-Subject-Token": token}
            )

    return Handler


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free port of 127.0.0.1; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def fake_keystone(accounts: Mapping[str, Account]) -> Iterator[FakeKeystone]:
    keystone = FakeKeystone(accounts)
    with serve(_handler(keystone)) as url:
        keystone.url = url
        yield keystone


@contextmanager
def jwks_server(keys: Mapping[str, Any]) -> Iterator[str]:
    """Publish ``keys`` (a JWKS document) at ``/certs``; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            data = json.dumps(keys).encode()
            self.send_response(200 if self.path == "/certs" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serve(Handler) as url:
        yield url
