"""std.ssh and std.ssh_proxied against a paramiko SSH server started by the test on 127.0.0.1.

The server (``paramiko.ServerInterface``) accepts one password and one public
key and runs no shell: ``exec_command`` understands ``echo TEXT``, ``fail``
(stderr output, exit status 3) and ``nc HOST PORT``, which bridges the channel
to that TCP port, so a second server can act as the target behind a gateway.
Hosts are given as ``127.0.0.1:PORT``.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from sirocco.actions import registry, runner
from tests.waiting import BOUND

REGISTRY = registry.ActionRegistry(load_entry_points=False)
USER, PASSWORD = "alice", "wonderland"
CLIENT_KEY = paramiko.ECDSAKey.generate()
HOST_KEY = paramiko.ECDSAKey.generate()


def _private_key_text(key: paramiko.PKey) -> str:
    buffer = io.StringIO()
    key.write_private_key(buffer)
    return buffer.getvalue()


class FakeSshServer(paramiko.ServerInterface):  # type: ignore[misc]
    def __init__(self, commands: list[str]) -> None:
        self.commands = commands

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_password(self, username: str, password: str) -> Any:
        ok = (username, password) == (USER, PASSWORD)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> Any:
        ok = username == USER and key == CLIENT_KEY
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> Any:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        text = command.decode()
        self.commands.append(text)
        # paramiko answers the request only after this returns, so the command's output may
        # reach the client first; that is harmless, as long as the channel is not closed
        # before the answer (``_execute`` leaves closing to the client).
        threading.Thread(target=_execute, args=(channel, text), daemon=True).start()
        return True


def _execute(channel: paramiko.Channel, command: str) -> None:
    if command.startswith("nc "):
        _, host, port = command.split()
        _bridge(channel, socket.create_connection((host, int(port))))
        return
    if command.startswith("echo "):
        channel.sendall(command[5:].encode() + b"\n")
        status = 0
    else:
        channel.sendall(b"partial\n")
        channel.sendall_stderr(b"it went wrong\n")
        status = 3
    channel.send_exit_status(status)
    # End of output, as sshd sends it; the client closes the channel once it has read it
    # all. Closing it here could overtake paramiko's answer to the exec request, and the
    # client would fail with "Channel closed." (a race a loaded machine loses).
    channel.shutdown_write()


def _bridge(channel: paramiko.Channel, target: socket.socket) -> None:
    def pump(receive: Any, send: Any, done: Any) -> None:
        try:
            while data := receive(65536):
                send(data)
        except OSError:
            pass
        done()

    threading.Thread(
        target=pump, args=(channel.recv, target.sendall, target.close), daemon=True
    ).start()
    pump(target.recv, channel.sendall, channel.close)


class SshServer:
    """Listens on 127.0.0.1; each connection gets a paramiko server transport."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(connection)
            transport.add_server_key(HOST_KEY)
            transport.start_server(server=FakeSshServer(self.commands))
            self.transports.append(transport)

    def close(self) -> None:
        self.listener.close()
        for transport in self.transports:
            transport.close()


@pytest.fixture
def server() -> Iterator[SshServer]:
    ssh_server = SshServer()
    yield ssh_server
    ssh_server.close()


@pytest.fixture
def gateway() -> Iterator[SshServer]:
    ssh_server = SshServer()
    yield ssh_server
    ssh_server.close()


@pytest.fixture(autouse=True)
def no_local_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own keys and agent out of the tests."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    original = paramiko.SSHClient.connect

    def connect(self: paramiko.SSHClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **{**kwargs, "look_for_keys": False, "allow_agent": False})

    monkeypatch.setattr(paramiko.SSHClient, "connect", connect)


@pytest.fixture(autouse=True)
def patient_transports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Client and server transports wait the tests' bound for the banner, the key exchange
    and the authentication (paramiko's 15-30 s are short for a loaded machine, where both
    ends share one process's GIL)."""
    original = paramiko.Transport.__init__

    def init(self: paramiko.Transport, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.banner_timeout = self.handshake_timeout = self.auth_timeout = BOUND

    monkeypatch.setattr(paramiko.Transport, "__init__", init)


def run(name: str, action_input: dict[str, Any]) -> runner.ActionOutcome | None:
    descriptor = REGISTRY.get(name)
    assert descriptor is not None
    return runner.run_action(descriptor, action_input, execution={"action_execution_id": "s-1"})


def test_command_with_password_returns_stdout(server: SshServer) -> None:
    outcome = run(
        "std.ssh",
        {"cmd": "echo hello", "host": server.host, "username": USER, "password": PASSWORD},
    )
    assert outcome == runner.ActionOutcome(result="hello\n")
    assert server.commands == ["echo hello"]


def test_command_with_private_key_text(server: SshServer) -> None:
    outcome = run(
        "std.ssh",
        {
            "cmd": "echo key",
            "host": server.host,
            "username": USER,
            "private_key": _private_key_text(CLIENT_KEY),
        },
    )
    assert outcome == runner.ActionOutcome(result="key\n")


def test_command_with_private_key_file(server: SshServer, tmp_path: Path) -> None:
    key_file = tmp_path / "id_test"
    CLIENT_KEY.write_private_key_file(str(key_file))
    outcome = run(
        "std.ssh",
        {
            "cmd": "echo file",
            "host": server.host,
            "username": USER,
            "private_key_filename": str(key_file),
        },
    )
    assert outcome == runner.ActionOutcome(result="file\n")


def test_several_hosts_give_a_list(server: SshServer) -> None:
    outcome = run(
        "std.ssh",
        {
            "cmd": "echo x",
            "host": [server.host, server.host],
            "username": USER,
            "password": PASSWORD,
        },
    )
    assert outcome == runner.ActionOutcome(result=["x\n", "x\n"])


def test_a_list_of_one_host_gives_one_value_as_in_mistral(server: SshServer) -> None:
    outcome = run(
        "std.ssh", {"cmd": "echo x", "host": [server.host], "username": USER, "password": PASSWORD}
    )
    assert outcome == runner.ActionOutcome(result="x\n")


def test_non_zero_exit_fails_with_a_generic_message(server: SshServer) -> None:
    outcome = run(
        "std.ssh", {"cmd": "fail", "host": server.host, "username": USER, "password": PASSWORD}
    )
    assert outcome is not None and outcome.error
    assert outcome.message is not None
    assert outcome.message.endswith(f"msg='Failed to execute ssh cmd 'fail' on ['{server.host}']']")


def test_return_result_on_error_gives_stdout_stderr_and_status(server: SshServer) -> None:
    outcome = run(
        "std.ssh",
        {
            "cmd": "fail",
            "host": server.host,
            "username": USER,
            "password": PASSWORD,
            "return_result_on_error": True,
        },
    )
    assert outcome == runner.ActionOutcome(
        result={"stdout": "partial\n", "stderr": "it went wrong\n", "exit_code": 3}
    )


def test_wrong_password_fails_without_saying_why(server: SshServer) -> None:
    outcome = run(
        "std.ssh", {"cmd": "echo x", "host": server.host, "username": USER, "password": "nope"}
    )
    assert outcome is not None and outcome.error
    assert outcome.message is not None
    assert "Failed to execute ssh cmd 'echo x'" in outcome.message
    assert "nope" not in outcome.message
    assert server.commands == []


def test_key_file_outside_may_not_climb_directories() -> None:
    outcome = run(
        "std.ssh",
        {
            "cmd": "echo x",
            "host": "127.0.0.1:1",
            "username": USER,
            "private_key_filename": "../../etc/key",
        },
    )
    assert outcome is not None and outcome.error
    assert outcome.message is not None and "Failed to execute ssh cmd 'echo x'" in outcome.message


def test_proxied_through_a_gateway(server: SshServer, gateway: SshServer, tmp_path: Path) -> None:
    key_file = tmp_path / "id_gateway"
    CLIENT_KEY.write_private_key_file(str(key_file))
    outcome = run(
        "std.ssh_proxied",
        {
            "cmd": "echo behind",
            "host": server.host,
            "username": USER,
            "private_key_filename": str(key_file),
            "gateway_host": gateway.host,
        },
    )
    assert outcome == runner.ActionOutcome(result="behind\n")
    assert gateway.commands == [f"nc 127.0.0.1 {server.port}"]
    assert server.commands == ["echo behind"]


def test_proxied_non_zero_exit_fails(server: SshServer, gateway: SshServer) -> None:
    outcome = run(
        "std.ssh_proxied",
        {
            "cmd": "fail",
            "host": server.host,
            "username": USER,
            "private_key_filename": None,
            "private_key": _private_key_text(CLIENT_KEY),
            "gateway_host": gateway.host,
        },
    )
    assert outcome is not None and outcome.error
    assert outcome.message is not None and "Failed to execute ssh cmd 'fail'" in outcome.message
