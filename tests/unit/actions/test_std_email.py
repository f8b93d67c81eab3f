"""std.email against a minimal SMTP responder started by the test on 127.0.0.1.

The responder (socketserver, no aiosmtpd) speaks just enough SMTP: EHLO/HELO,
STARTTLS with a throw-away self-signed certificate (smtplib does not verify it
by default), AUTH PLAIN, MAIL, RCPT, DATA, QUIT. It records what it received.
"""

from __future__ import annotations

import base64
import datetime
import email
import socketserver
import ssl
import threading
from collections.abc import Iterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sirocco.actions import registry, runner

REGISTRY = registry.ActionRegistry(load_entry_points=False)


class SmtpHandler(socketserver.BaseRequestHandler):
    server: Any

    def handle(self) -> None:
        self.connection = self.request
        try:
            self.converse()
        finally:
            self.connection.close()

    def converse(self) -> None:
        connection = self.connection
        reader = connection.makefile("rb")
        session: dict[str, Any] = {"tls": False, "login": None, "from": None, "to": []}

        def reply(line: str) -> None:
            connection.sendall(line.encode() + b"\r\n")

        reply("220 test ESMTP ready")
        while True:
            raw = reader.readline()
            if not raw:
                return
            command = raw.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                extensions = []
                if self.server.offer_tls and not session["tls"]:
                    extensions.append("STARTTLS")
                if session["tls"]:
                    extensions.append("AUTH PLAIN")
                lines = ["test", *extensions]
                for line in lines[:-1]:
                    reply(f"250-{line}")
                reply(f"250 {lines[-1]}")
            elif verb == "HELO":
                reply("250 test")
            elif verb == "STARTTLS":
                reply("220 go ahead")
                connection = self.server.tls.wrap_socket(connection, server_side=True)
                self.connection = connection
                reader = connection.makefile("rb")
                session["tls"] = True
            elif verb == "AUTH":
                _, mechanism, token = command.split(" ", 2)
                _, user, password = base64.b64decode(token).decode().split("\0")
                session["login"] = (mechanism, user, password)
                reply("235 accepted")
            elif verb == "MAIL":
                session["from"] = command.split(":", 1)[1].strip().strip("<>")
                reply("250 ok")
            elif verb == "RCPT":
                session["to"].append(command.split(":", 1)[1].strip().strip("<>"))
                reply("250 ok")
            elif verb == "DATA":
                reply("354 end with .")
                data = []
                while (line := reader.readline()) not in (b".\r\n", b""):
                    data.append(line)
                session["message"] = b"".join(data).decode()
                self.server.sessions.append(dict(session))
                reply("250 queued")
            elif verb == "QUIT":
                reply("221 bye")
                return
            else:
                reply("502 not implemented")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls: ssl.SSLContext, offer_tls: bool) -> None:
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.tls = tls
        self.offer_tls = offer_tls
        self.sessions: list[dict[str, Any]] = []


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    folder: Path = tmp_path_factory.mktemp("smtp-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def _serve(tls_context: ssl.SSLContext, offer_tls: bool) -> Iterator[SmtpServer]:
    server = SmtpServer(tls_context, offer_tls)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp(tls_context: ssl.SSLContext) -> Iterator[SmtpServer]:
    yield from _serve(tls_context, offer_tls=True)


@pytest.fixture
def smtp_without_tls(tls_context: ssl.SSLContext) -> Iterator[SmtpServer]:
    yield from _serve(tls_context, offer_tls=False)


def run(action_input: dict[str, Any]) -> runner.ActionOutcome | None:
    descriptor = REGISTRY.get("std.email")
    assert descriptor is not None
    return runner.run_action(descriptor, action_input, execution={"action_execution_id": "m-1"})


def _address(server: SmtpServer) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


def test_plain_message_to_all_recipients(smtp: SmtpServer) -> None:
    outcome = run(
        {
            "from_addr": "robot@example.org",
            "to_addrs": ["ann@example.org", "bob@example.org"],
            "cc_addrs": ["cat@example.org"],
            "bcc_addrs": ["dan@example.org"],
            "reply_to": ["ops@example.org"],
            "smtp_server": _address(smtp),
            "subject": "Caf\u00e9 report",
            "body": "All good.",
        }
    )
    assert outcome == runner.ActionOutcome(result=None)
    [session] = smtp.sessions
    assert session["tls"] is False and session["login"] is None
    assert session["from"] == "robot@example.org"
    # Mistral's order: cc, then bcc, then to.
    assert session["to"] == [
        "cat@example.org",
        "dan@example.org",
        "ann@example.org",
        "bob@example.org",
    ]
    message = email.message_from_string(session["message"])
    assert str(make_header(decode_header(message["Subject"]))) == "Caf\u00e9 report"
    assert message["From"] == "robot@example.org"
    assert message["To"] == "ann@example.org, bob@example.org"
    assert message["Cc"] == "cat@example.org"
    assert message["Reply-To"] == "ops@example.org"
    assert "Bcc" not in message
    assert message.get_payload(decode=True) == b"All good."


def test_defaults_and_html_alternative(smtp: SmtpServer) -> None:
    outcome = run(
        {
            "from_addr": "robot@example.org",
            "to_addrs": "ann@example.org",
            "smtp_server": _address(smtp),
            "html_body": "<b>hi</b>",
        }
    )
    assert outcome == runner.ActionOutcome(result=None)
    message = email.message_from_string(smtp.sessions[0]["message"])
    assert str(make_header(decode_header(message["Subject"]))) == "<No subject>"
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_payload(decode=True) for part in message.walk()}
    assert parts == {
        "multipart/alternative": None,
        "text/plain": b"<No body>",
        "text/html": b"<b>hi</b>",
    }


def test_password_means_starttls_then_login(smtp: SmtpServer) -> None:
    outcome = run(
        {
            "from_addr": "robot@example.org",
            "to_addrs": ["ann@example.org"],
            "smtp_server": _address(smtp),
            "smtp_password": "pa55",
        }
    )
    assert outcome == runner.ActionOutcome(result=None)
    [session] = smtp.sessions
    assert session["tls"] is True
    assert session["login"] == ("PLAIN", "robot@example.org", "pa55")


def test_password_without_starttls_fails(smtp_without_tls: SmtpServer) -> None:
    outcome = run(
        {
            "from_addr": "robot@example.org",
            "to_addrs": ["ann@example.org"],
            "smtp_server": _address(smtp_without_tls),
            "smtp_password": "pa55",
        }
    )
    assert outcome is not None and outcome.error
    assert outcome.message is not None
    assert "msg='Failed to send an email message: STARTTLS extension not supported" in (
        outcome.message
    )
    assert smtp_without_tls.sessions == []


def test_unreachable_server_fails() -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    outcome = run({"from_addr": "a@b.c", "to_addrs": ["d@e.f"], "smtp_server": f"127.0.0.1:{port}"})
    assert outcome is not None and outcome.error
    assert outcome.message is not None and "Failed to send an email message: " in outcome.message
