"""Mistral's standard actions (``std.*``), each a ``mistral_lib.actions.Action`` subclass.

``std.wait_ssh`` is not here: in Mistral it is an ad-hoc action built on
``std.ssh``, and ad-hoc actions are defined elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sirocco.actions.std import basic, http, javascript, mail, ssh

#: Every standard action by its name.
STANDARD_ACTIONS: Mapping[str, type] = MappingProxyType(
    {
        "std.async_noop": basic.AsyncNoopAction,
        "std.echo": basic.EchoAction,
        "std.email": mail.EmailAction,
        "std.fail": basic.FailAction,
        "std.http": http.HttpAction,
        "std.javascript": javascript.JavaScriptAction,
        "std.js": javascript.JavaScriptAction,
        "std.mistral_http": http.MistralHttpAction,
        "std.noop": basic.NoopAction,
        "std.sleep": basic.SleepAction,
        "std.ssh": ssh.SshAction,
        "std.ssh_proxied": ssh.SshProxiedAction,
        "std.test_dict": basic.TestDictAction,
    }
)
