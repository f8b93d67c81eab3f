"""std.http and std.mistral_http: one HTTP request, its response as a dict.

The parameters are those of Mistral's action (itself shaped after
``requests.request``); the request is made with httpx, translated so that what
is sent and what comes back match what Mistral's ``requests`` call gives:
``auth`` as ``"user:password"``, numeric header values turned to text, a dict
``body`` sent as JSON text, no redirect followed unless ``allow_redirects`` is
true, a 60 s timeout when none is given, responses declared larger than
5 MiB refused. A status outside 200..306 is an error result carrying the same
dict.

Mistral 23 also refuses loopback and link-local addresses by default
(``[action_std_http] denied_cidrs``); Sirocco does not, so that a service on
the same host can be called. Put Sirocco behind an egress proxy or firewall if
workflow authors must not reach internal addresses.
"""

from __future__ import annotations

import functools
import json
import ssl
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mistral_lib import actions

from sirocco import errors
from sirocco.actions import tracecontext
from sirocco.actions.std.standard import StandardAction

if TYPE_CHECKING:  # httpx is imported when a request is made, not at start-up
    import httpx

#: Seconds to wait for a response when the task gives no ``timeout`` (Mistral's default).
DEFAULT_TIMEOUT_SECONDS = 60.0

#: A response whose Content-Length is larger than this is refused (Mistral's default).
MAX_RESPONSE_SIZE_BYTES = 5 * 1024 * 1024

#: Statuses that count as success (Mistral: ``range(200, 307)``).
SUCCESS_STATUSES = range(200, 307)


class HttpAction(StandardAction):
    """Sends one HTTP request and returns the response (content, status, headers, ...)."""

    names = ("std.http",)
    mistral_class = "HTTPAction"
    side_effects = True
    # It acts on the world: it runs again only if its task says safe-rerun.
    safe_rerun = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return False

    def __init__(
        self,
        url: str,
        method: str = "GET",
        params: Any = None,
        body: Any = None,
        json: Any = None,
        headers: Any = None,
        cookies: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: Any = None,
        proxies: Any = None,
        verify: Any = None,
    ) -> None:
        super().__init__()
        if body and json:
            raise errors.ActionError("Only one of the parameters 'json' and 'body' may be given.")
        self.url = url
        self.method = method
        self.params = params
        self.body = _json_text(body) if isinstance(body, dict) else body
        self.json = json
        self.headers = _text_headers(headers)
        self.cookies = cookies
        self.auth = _auth_pair(auth) if isinstance(auth, str) and auth.count(":") == 1 else auth
        self.timeout = timeout
        self.allow_redirects = allow_redirects
        self.proxies = proxies
        self.verify = verify

    def run(self, context: Any) -> Any:
        content, headers = _body_and_headers(self.body, self.headers)
        headers = _traced(headers)
        try:
            with (
                _client(self) as client,
                client.stream(
                    str(self.method),
                    self.url,
                    params=_query(self.params),
                    headers=headers,
                    content=content,
                    json=self.json,
                ) as response,
            ):
                _refuse_oversized(response)
                response.read()
        except errors.ActionError:
            raise
        except Exception as error:
            raise errors.ActionError(f"Failed to send HTTP request: {error}") from error
        result = response_dict(response)
        if response.status_code not in SUCCESS_STATUSES:
            return actions.Result(error=result)
        return result


class MistralHttpAction(HttpAction):
    """std.http that also sends the Mistral-* headers and completes later through the API."""

    names = ("std.mistral_http",)
    mistral_class = "MistralHTTPAction"
    side_effects = True
    # It acts on the world: it runs again only if its task says safe-rerun.
    safe_rerun = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return False

    def run(self, context: Any) -> Any:
        execution = getattr(context, "execution", None)
        extra = {
            "Mistral-Workflow-Name": getattr(execution, "workflow_name", None),
            "Mistral-Workflow-Execution-Id": getattr(execution, "workflow_execution_id", None),
            "Mistral-Task-Id": getattr(execution, "task_execution_id", None),
            "Mistral-Action-Execution-Id": getattr(execution, "action_execution_id", None),
            "Mistral-Callback-URL": getattr(execution, "callback_url", None),
        }
        # requests leaves out headers whose value is None; so do we.
        self.headers = {**(self.headers or {}), **{k: v for k, v in extra.items() if v is not None}}
        return super().run(context)

    def is_sync(self) -> bool:
        return False


def response_dict(response: httpx.Response) -> dict[str, Any]:
    """The action result for a response, with the keys and value types Mistral gives."""
    encoding = _requests_encoding(response.headers.get("Content-Type"))
    return {
        "content": _content(response.content, encoding),
        "status": response.status_code,
        "headers": _header_dict(response.headers),
        "url": str(response.url),
        "history": [
            {"status": earlier.status_code, "url": str(earlier.url)} for earlier in response.history
        ],
        "encoding": encoding,
        "reason": response.reason_phrase,
        "cookies": dict(response.cookies.items()),
        "elapsed": response.elapsed.total_seconds(),
    }


def _client(action: HttpAction) -> httpx.Client:
    import httpx

    is_https = urllib.parse.urlsplit(action.url).scheme == "https"
    verify = _verify(action.verify if is_https else None)
    mounts: dict[str, httpx.BaseTransport | None] | None = None
    if isinstance(action.proxies, Mapping) and action.proxies:
        mounts = {
            (key if "://" in key else f"{key}://"): (
                httpx.HTTPTransport(proxy=str(url), verify=verify) if url else None
            )
            for key, url in action.proxies.items()
        }
    return httpx.Client(
        auth=_auth_pair(action.auth),
        cookies=action.cookies,
        verify=verify,
        mounts=mounts,
        timeout=_timeout(action.timeout),
        follow_redirects=bool(action.allow_redirects),
    )


def _refuse_oversized(response: httpx.Response) -> None:
    """Refuse, before reading it, a response that says it is larger than the limit."""
    declared_size = response.headers.get("Content-Length", "")
    if declared_size.isdigit() and int(declared_size) > MAX_RESPONSE_SIZE_BYTES:
        raise errors.ActionError(
            f"The HTTP response is too large (Content-Length={declared_size}, "
            f"limit={MAX_RESPONSE_SIZE_BYTES} bytes)."
        )


def _json_text(value: Any) -> str:
    return json.dumps(value, default=str)


def _traced(headers: Any) -> Any:
    """The headers with the running action's ``traceparent`` (W3C trace context), unless
    tracing is off or the workflow sets its own."""
    traceparent = tracecontext.current()
    if traceparent is None:
        return headers
    if headers is None:
        return {"traceparent": traceparent}
    if not isinstance(headers, Mapping):
        return headers  # not a mapping: httpx reports it as the workflow wrote it
    if any(str(key).lower() == "traceparent" for key in headers):
        return headers
    return {**headers, "traceparent": traceparent}


def _text_headers(headers: Any) -> Any:
    if not isinstance(headers, Mapping):
        return headers
    return {
        key: (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )
        for key, value in headers.items()
        if value is not None
    }


def _auth_pair(auth: Any) -> tuple[str, str] | None:
    """Basic-auth credentials from ``"user:password"`` or a pair; anything else is refused."""
    if not auth:
        return None
    if isinstance(auth, list | tuple) and len(auth) == 2:
        return str(auth[0]), str(auth[1])
    if isinstance(auth, str) and auth.count(":") == 1:
        user, _, password = auth.partition(":")
        return user, password
    raise errors.ActionError("Failed to send HTTP request: 'auth' must be 'user:password'.")


def _query(params: Any) -> Any:
    """Query parameters as requests sends them: None values dropped, booleans as True/False."""
    if not isinstance(params, Mapping):
        return params
    return {
        key: (str(value) if isinstance(value, bool) else value)
        for key, value in params.items()
        if value is not None
    }


def _body_and_headers(body: Any, headers: Any) -> tuple[str | bytes | None, Any]:
    if body is None or body == "":
        return None, headers
    if isinstance(body, str | bytes):
        return body, headers
    if isinstance(body, list | tuple):
        # requests form-encodes a list of pairs and says so.
        content = urllib.parse.urlencode(list(body), doseq=True)
        if isinstance(headers, Mapping) and any(
            str(key).lower() == "content-type" for key in headers
        ):
            return content, headers
        return content, {**(headers or {}), "Content-Type": "application/x-www-form-urlencoded"}
    return str(body), headers


def _timeout(timeout: Any) -> httpx.Timeout:
    import httpx

    if timeout is None:
        return httpx.Timeout(DEFAULT_TIMEOUT_SECONDS)
    if isinstance(timeout, list | tuple) and len(timeout) == 2:
        connect, read = timeout
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(float(timeout))


def _verify(verify: Any) -> ssl.SSLContext | bool:
    """``verify`` as requests reads it: a CA bundle path, false, or else the default."""
    if isinstance(verify, str) and verify:
        return ssl.create_default_context(cafile=verify)
    if verify is None or verify:
        return _default_ssl_context()
    return False


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds: once per process, not per request.
    import httpx

    return httpx.create_ssl_context()


def _requests_encoding(content_type: str | None) -> str | None:
    """The encoding requests reports for a response: the charset, else its text/JSON default."""
    if not content_type:
        return None
    media_type, *parameters = content_type.split(";")
    for parameter in parameters:
        key, _, value = parameter.strip().partition("=")
        if key.strip().lower() == "charset":
            return value.strip("'\" ")
    if "text" in media_type:
        return "ISO-8859-1"
    if "application/json" in media_type:
        return "utf-8"
    return None


def _content(raw: bytes, encoding: str | None) -> Any:
    try:
        return json.loads(raw.decode(encoding) if encoding else raw)
    except (ValueError, LookupError):
        pass
    try:
        return raw.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _header_dict(headers: httpx.Headers) -> dict[str, str]:
    """Response headers with their original spelling; repeated ones joined by ", "."""
    by_lower_name: dict[str, tuple[str, str]] = {}
    for raw_name, raw_value in headers.raw:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        lower = name.lower()
        if lower in by_lower_name:
            first_name, first_value = by_lower_name[lower]
            by_lower_name[lower] = (first_name, f"{first_value}, {value}")
        else:
            by_lower_name[lower] = (name, value)
    return dict(by_lower_name.values())
