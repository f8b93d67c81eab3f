"""std.http and std.mistral_http against an http.server started by the test on 127.0.0.1."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from sirocco.actions import registry, runner
from sirocco.actions.std import http as std_http

REGISTRY = registry.ActionRegistry(load_entry_points=False)


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers by path; remembers every request it got in ``server.requests``."""

    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        url = urlsplit(self.path)
        request = {
            "method": self.command,
            "path": url.path,
            "query": parse_qsl(url.query, keep_blank_values=True),
            "headers": dict(self.headers.items()),
            "body": body,
        }
        self.server.requests.append(request)
        if url.path.startswith("/status/"):
            self._send(int(url.path.rsplit("/", 1)[1]), b'{"problem": "yes"}', "application/json")
        elif url.path == "/text":
            self._send(200, "h\u00e9llo".encode("latin-1"), "text/plain")
        elif url.path == "/utf8":
            self._send(200, "h\u00e9llo".encode(), "text/html; charset=utf-8")
        elif url.path == "/redirect":
            self._send(302, b"", None, extra=[("Location", "/echo")])
        elif url.path == "/slow":
            time.sleep(0.2)
            self._send(200, b"{}", "application/json")
        elif url.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(6 * 1024 * 1024))
            self.end_headers()
        else:
            self._send(
                200,
                json.dumps(request).encode(),
                "application/json",
                extra=[("Set-Cookie", "session=s1; Path=/"), ("X-Twice", "1"), ("X-Twice", "2")],
            )

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        extra: list[tuple[str, str]] = (),  # type: ignore[assignment]
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.requests: list[dict[str, Any]] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that gave up (timeouts, refused bodies) are expected here


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    httpd = QuietServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def base(server: Any) -> str:
    server.requests.clear()
    return f"http://127.0.0.1:{server.server_port}"


def run(name: str, action_input: dict[str, Any], **execution: Any) -> runner.ActionOutcome | None:
    descriptor = REGISTRY.get(name)
    assert descriptor is not None
    return runner.run_action(
        descriptor, action_input, execution={"action_execution_id": "h-1", **execution}
    )


def test_get_returns_the_response_as_mistrals_dict(base: str) -> None:
    outcome = run("std.http", {"url": f"{base}/echo", "params": {"q": "a b", "n": 1, "x": None}})
    assert outcome is not None and not outcome.error
    result = outcome.result
    assert set(result) == {
        "content", "status", "headers", "url", "history", "encoding", "reason", "cookies", "elapsed"
    }  # fmt: skip
    assert result["status"] == 200
    assert result["reason"] == "OK"
    assert result["encoding"] == "utf-8"
    assert result["url"] == f"{base}/echo?q=a+b&n=1"
    assert result["history"] == []
    assert result["cookies"] == {"session": "s1"}
    assert isinstance(result["elapsed"], float) and result["elapsed"] >= 0
    assert result["headers"]["Content-Type"] == "application/json"
    assert result["headers"]["X-Twice"] == "1, 2"
    assert result["content"]["method"] == "GET"
    assert result["content"]["query"] == [["q", "a b"], ["n", "1"]]


def test_post_json(base: str) -> None:
    outcome = run("std.http", {"url": f"{base}/echo", "method": "POST", "json": {"a": [1, 2]}})
    assert outcome is not None and not outcome.error
    sent = outcome.result["content"]
    assert sent["method"] == "POST"
    assert json.loads(sent["body"]) == {"a": [1, 2]}
    assert sent["headers"]["Content-Type"] == "application/json"


def test_dict_body_is_sent_as_json_text_without_content_type(base: str, server: Any) -> None:
    outcome = run("std.http", {"url": f"{base}/echo", "method": "PUT", "body": {"k": "v"}})
    assert outcome is not None and not outcome.error
    request = server.requests[-1]
    assert request["body"] == '{"k": "v"}'
    assert "Content-Type" not in request["headers"]


def test_auth_headers_and_cookies_are_sent(base: str, server: Any) -> None:
    outcome = run(
        "std.http",
        {
            "url": f"{base}/echo",
            "auth": "alice:s3cret",
            "headers": {"X-Count": 3, "X-Ratio": 0.5, "X-Name": "n"},
            "cookies": {"flavour": "oat"},
        },
    )
    assert outcome is not None and not outcome.error
    headers = server.requests[-1]["headers"]
    expected_auth = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert headers["Authorization"] == expected_auth
    assert (headers["X-Count"], headers["X-Ratio"], headers["X-Name"]) == ("3", "0.5", "n")
    assert headers["Cookie"] == "flavour=oat"


def test_error_status_is_an_error_outcome_carrying_the_dict(base: str) -> None:
    outcome = run("std.http", {"url": f"{base}/status/404"})
    assert outcome is not None
    assert outcome.error is True
    assert outcome.result["status"] == 404
    assert outcome.result["content"] == {"problem": "yes"}
    assert outcome.message == str(outcome.result)


def test_statuses_up_to_306_count_as_success(base: str) -> None:
    outcome = run("std.http", {"url": f"{base}/status/304"})
    assert outcome is not None and not outcome.error
    outcome = run("std.http", {"url": f"{base}/status/307"})
    assert outcome is not None and outcome.error


def test_redirects_are_not_followed_unless_asked(base: str) -> None:
    outcome = run("std.http", {"url": f"{base}/redirect"})
    assert outcome is not None and not outcome.error
    assert outcome.result["status"] == 302
    followed = run("std.http", {"url": f"{base}/redirect", "allow_redirects": True})
    assert followed is not None and not followed.error
    assert followed.result["status"] == 200
    assert followed.result["url"] == f"{base}/echo"
    assert followed.result["history"] == [{"status": 302, "url": f"{base}/redirect"}]


def test_text_content_and_requests_encoding(base: str) -> None:
    latin = run("std.http", {"url": f"{base}/text"})
    assert latin is not None
    assert (latin.result["content"], latin.result["encoding"]) == ("h\u00e9llo", "ISO-8859-1")
    utf8 = run("std.http", {"url": f"{base}/utf8"})
    assert utf8 is not None
    assert (utf8.result["content"], utf8.result["encoding"]) == ("h\u00e9llo", "utf-8")


def test_body_and_json_together_cannot_instantiate() -> None:
    outcome = run("std.http", {"url": "http://127.0.0.1:9/", "body": "a", "json": {"b": 1}})
    assert outcome is not None and outcome.error
    assert outcome.message is not None
    assert outcome.message.startswith("Failed to instantiate an action [action_desc=Python action")
    assert outcome.message.endswith("Only one of the parameters 'json' and 'body' may be given.")


def test_unreachable_server_fails_to_send(base: str) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    outcome = run("std.http", {"url": f"http://127.0.0.1:{port}/"})
    assert outcome is not None and outcome.error
    assert outcome.message is not None and "msg='Failed to send HTTP request: " in outcome.message


def test_timeout_fails_the_request(base: str) -> None:
    outcome = run("std.http", {"url": f"{base}/slow", "timeout": 0.05})
    assert outcome is not None and outcome.error
    assert outcome.message is not None and "Failed to send HTTP request: " in outcome.message


def test_bad_auth_text_fails_when_sending(base: str) -> None:
    outcome = run("std.http", {"url": f"{base}/echo", "auth": "no-colon"})
    assert outcome is not None and outcome.error
    assert outcome.message is not None and "'auth' must be 'user:password'" in outcome.message


def test_a_declared_oversized_response_is_refused(base: str) -> None:
    outcome = run("std.http", {"url": f"{base}/big"})
    assert outcome is not None and outcome.error
    assert outcome.message is not None
    assert f"limit={std_http.MAX_RESPONSE_SIZE_BYTES} bytes" in outcome.message


def test_mistral_http_sends_the_mistral_headers_and_completes_later(base: str, server: Any) -> None:
    outcome = run(
        "std.mistral_http",
        {"url": f"{base}/echo", "headers": {"X-Mine": "1"}},
        workflow_name="wf",
        workflow_execution_id="wf-1",
        task_execution_id="task-1",
    )
    assert outcome is None  # asynchronous: the called service PUTs the result later
    headers = server.requests[-1]["headers"]
    assert headers["X-Mine"] == "1"
    assert headers["Mistral-Workflow-Name"] == "wf"
    assert headers["Mistral-Workflow-Execution-Id"] == "wf-1"
    assert headers["Mistral-Task-Id"] == "task-1"
    assert headers["Mistral-Action-Execution-Id"] == "h-1"
    assert headers["Mistral-Callback-URL"] == "/v2/action_executions/h-1"


def test_mistral_http_error_status_fails_now(base: str) -> None:
    outcome = run("std.mistral_http", {"url": f"{base}/status/500"})
    assert outcome is not None and outcome.error
    assert outcome.result["status"] == 500
