"""std.ssh and std.ssh_proxied: run a command on one or more hosts over SSH (paramiko).

The result is the command's standard output (a list when several hosts are
given); a non-zero exit status fails the action unless
``return_result_on_error`` is true, then each result is
``{stdout, stderr, exit_code}``. Failures carry one generic message, without
the underlying error, as in Mistral (it may hold secrets). paramiko is imported
only when the action runs.

Beyond Mistral: a host may be written ``host:port`` (or ``[v6-address]:port``);
Mistral always connects to port 22.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping
from typing import Any

from sirocco import errors
from sirocco.actions.std.standard import StandardAction

logger = logging.getLogger(__name__)

#: Where a relative ``private_key_filename`` is looked for.
KEY_DIRECTORY = os.path.expanduser("~/.ssh/")

#: Seconds allowed to open the TCP connection (Mistral waits as long as the OS does).
CONNECT_TIMEOUT_SECONDS = 60.0

DEFAULT_PORT = 22


class SshAction(StandardAction):
    """Runs a shell command over SSH on one host or a list of hosts; returns its output."""

    names = ("std.ssh",)
    mistral_class = "SSHAction"
    side_effects = True
    # It acts on the world: it runs again only if its task says safe-rerun.
    safe_rerun = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return False

    def __init__(
        self,
        cmd: str,
        host: Any,
        username: str,
        password: str | None = "",
        private_key_filename: str | None = None,
        private_key: str | None = None,
        return_result_on_error: bool = False,
    ) -> None:
        super().__init__()
        self.cmd = cmd
        self.host = host
        self.username = username
        self.password = password
        self.private_key_filename = private_key_filename
        self.private_key = private_key
        self.return_result_on_error = return_result_on_error

    def run(self, context: Any) -> Any:
        hosts = self.host if isinstance(self.host, list) else [self.host]
        results: list[Any] = []
        try:
            for host in hosts:
                exit_code, stdout, stderr = self.execute(str(host))
                if self.return_result_on_error:
                    results.append({"stdout": stdout, "stderr": stderr, "exit_code": exit_code})
                elif exit_code:
                    raise _CommandFailedError(exit_code)
                else:
                    results.append(stdout)
            if not results:
                raise _CommandFailedError(None)
        except Exception as error:
            logger.warning(
                "SSH command failed",
                extra={"action": type(self).__name__, "error_type": type(error).__name__},
            )
            raise errors.ActionError(
                f"Failed to execute ssh cmd '{self.cmd}' on {hosts!r}"
            ) from None
        return results if len(results) > 1 else results[0]

    def execute(self, host: str) -> tuple[int, str, str]:
        """Run the command on one host: (exit status, stdout, stderr)."""
        key = load_private_key(self.private_key_filename, self.private_key, self.password)
        client = connect(host, self.username, password=self.password, key=key)
        try:
            return run_command(client, self.cmd)
        finally:
            client.close()


class SshProxiedAction(SshAction):
    """Runs a shell command over SSH through a gateway host (``nc`` on the gateway)."""

    names = ("std.ssh_proxied",)
    mistral_class = "SSHProxiedAction"
    side_effects = True
    # It acts on the world: it runs again only if its task says safe-rerun.
    safe_rerun = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return False

    def __init__(
        self,
        cmd: str,
        host: Any,
        username: str,
        private_key_filename: str | None,
        gateway_host: str,
        gateway_username: str | None = None,
        password: str | None = None,
        proxy_command: str | None = None,
        private_key: str | None = None,
    ) -> None:
        super().__init__(cmd, host, username, password, private_key_filename, private_key)
        self.gateway_host = gateway_host
        self.gateway_username = gateway_username
        self.proxy_command = proxy_command

    def execute(self, host: str) -> tuple[int, str, str]:
        """Run the command on one host, reached from the gateway."""
        import paramiko

        key = load_private_key(self.private_key_filename, self.private_key, self.password)
        proxy = paramiko.ProxyCommand(self.proxy_command) if self.proxy_command else None
        gateway = connect(
            self.gateway_host, self.gateway_username or self.username, key=key, sock=proxy
        )
        try:
            target_host, target_port = split_host(host)
            tunnel = gateway.get_transport().open_session()
            tunnel.exec_command(f"nc {target_host} {target_port}")
            client = connect(host, self.username, key=key, sock=tunnel)
            try:
                return run_command(client, self.cmd)
            finally:
                client.close()
        finally:
            gateway.close()


class _CommandFailedError(Exception):
    """The command exited with a non-zero status."""


def split_host(host: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port)."""
    if host.startswith("[") and "]" in host:
        address, _, rest = host[1:].partition("]")
        return address, int(rest[1:]) if rest.startswith(":") else DEFAULT_PORT
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, int(port)
    return host, DEFAULT_PORT


def load_private_key(filename: str | None, text: str | None, password: str | None) -> Any:
    """A paramiko key from text or a file (RSA, ECDSA or Ed25519), or None if neither is given."""
    import paramiko

    if not filename and not text:
        return None
    path = ""
    if filename:
        if "../" in filename or "..\\" in filename:
            raise errors.ActionError("The private key filename must not contain '..'.")
        path = filename if filename.startswith("/") else KEY_DIRECTORY + filename
    last_error: Exception | None = None
    for key_class in (paramiko.RSAKey, paramiko.ECDSAKey, paramiko.Ed25519Key):
        try:
            if text:
                return key_class.from_private_key(io.StringIO(text), password=password or None)
            return key_class.from_private_key_file(path, password=password or None)
        except (OSError, paramiko.SSHException) as error:
            last_error = error
    assert last_error is not None
    raise last_error


def connect(
    host: str, username: str, *, password: str | None = None, key: Any = None, sock: Any = None
) -> Any:
    """An open ``paramiko.SSHClient`` (unknown host keys are accepted, as in Mistral)."""
    import paramiko

    address, port = split_host(host)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        address,
        port=port,
        username=username,
        password=password,
        pkey=key,
        sock=sock,
        timeout=CONNECT_TIMEOUT_SECONDS,
    )
    return client


def run_command(client: Any, command: str) -> tuple[int, str, str]:
    """Run ``command`` on an open client: (exit status, stdout, stderr)."""
    channel = client.get_transport().open_session()
    channel.exec_command(command)
    stdout = _read_all(channel.recv)
    stderr = _read_all(channel.recv_stderr)
    return int(channel.recv_exit_status()), stdout, stderr


def _read_all(receive: Any) -> str:
    chunks: list[bytes] = []
    while chunk := receive(65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")
