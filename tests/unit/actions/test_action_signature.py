"""Input texts as Mistral's API shows them, and reading them back."""

from __future__ import annotations

from typing import Any

import pytest
from mistral_lib import actions

from sirocco.actions import registry, signature
from sirocco.actions.std import STANDARD_ACTIONS

# Mistral 23's std actions: the class its messages name (mistral.actions.std_actions.X)
# and the `input` its API shows. A new std action is its class and its row here.
MISTRAL_STD_CLASSES = {
    "std.async_noop": "AsyncNoOpAction",
    "std.echo": "EchoAction",
    "std.email": "SendEmailAction",
    "std.fail": "FailAction",
    "std.http": "HTTPAction",
    "std.javascript": "JavaScriptAction",
    "std.js": "JavaScriptAction",
    "std.mistral_http": "MistralHTTPAction",
    "std.noop": "NoOpAction",
    "std.sleep": "SleepAction",
    "std.ssh": "SSHAction",
    "std.ssh_proxied": "SSHProxiedAction",
    "std.test_dict": "TestDictAction",
}
MISTRAL_INPUT_TEXTS = {
    "std.async_noop": "",
    "std.echo": "output, delay=0",
    "std.email": (
        "from_addr, to_addrs, smtp_server, reply_to=null, cc_addrs=null, bcc_addrs=null, "
        "smtp_password=null, subject=null, body=null, html_body=null"
    ),
    "std.fail": "error_data=null",
    "std.http": (
        'url, method="GET", params=null, body=null, json=null, headers=null, cookies=null, '
        "auth=null, timeout=null, allow_redirects=null, proxies=null, verify=null"
    ),
    "std.javascript": "script, context=null",
    "std.js": "script, context=null",
    "std.mistral_http": (
        'url, method="GET", params=null, body=null, json=null, headers=null, cookies=null, '
        "auth=null, timeout=null, allow_redirects=null, proxies=null, verify=null"
    ),
    "std.noop": "",
    "std.sleep": "seconds=1",
    "std.ssh": (
        'cmd, host, username, password="", private_key_filename=null, private_key=null, '
        "return_result_on_error=false"
    ),
    "std.ssh_proxied": (
        "cmd, host, username, private_key_filename, gateway_host, gateway_username=null, "
        "password=null, proxy_command=null, private_key=null"
    ),
    "std.test_dict": 'size=0, key_prefix="", val=""',
}


@pytest.mark.parametrize("name", sorted(MISTRAL_INPUT_TEXTS))
def test_std_input_text_is_mistrals(name: str) -> None:
    assert signature.input_text(STANDARD_ACTIONS[name]) == MISTRAL_INPUT_TEXTS[name]


def test_the_std_table_is_exactly_mistrals_names() -> None:
    assert set(STANDARD_ACTIONS) == set(MISTRAL_INPUT_TEXTS) == set(MISTRAL_STD_CLASSES)


@pytest.mark.parametrize("name", sorted(MISTRAL_STD_CLASSES))
def test_std_action_names_mistrals_class(name: str) -> None:
    assert STANDARD_ACTIONS[name].mistral_class == MISTRAL_STD_CLASSES[name]
    descriptor = registry.ActionRegistry(load_entry_points=False).get(name)
    assert descriptor is not None
    assert descriptor.class_path == f"mistral.actions.std_actions.{MISTRAL_STD_CLASSES[name]}"


class WithKeywords(actions.Action):  # type: ignore[misc]
    def __init__(self, first: Any, second: Any = ("a", 1), *rest: Any, **options: Any) -> None:
        super().__init__()

    def run(self, context: Any) -> None:
        return None


class WithOddDefaults(actions.Action):  # type: ignore[misc]
    def __init__(self, name: str, marker: object = object(), *, flag: bool = False) -> None:
        super().__init__()

    def run(self, context: Any) -> None:
        return None


class NoConstructor(actions.Action):  # type: ignore[misc]
    def run(self, context: Any) -> None:
        return None


class Declared(actions.Action):  # type: ignore[misc]
    def __init__(self, **anything: Any) -> None:
        super().__init__()

    __init__.__arguments__ = "a, b=2"  # type: ignore[attr-defined]

    def run(self, context: Any) -> None:
        return None


def test_varkw_is_shown_and_varargs_are_not() -> None:
    assert signature.input_text(WithKeywords) == 'first, second=["a", 1], **options'


def test_non_json_defaults_and_keyword_only_parameters_are_left_out_as_in_mistral() -> None:
    assert signature.input_text(WithOddDefaults) == "name"


def test_a_class_without_constructor_takes_nothing() -> None:
    assert signature.input_text(NoConstructor) == ""


def test_plain_object_class_takes_any_keyword() -> None:
    class Plain:
        def run(self) -> None:
            return None

    assert signature.input_text(Plain) == "**kwargs"


def test_arguments_attribute_overrides_introspection() -> None:
    assert signature.input_text(Declared) == "a, b=2"


def test_parse_reads_required_optional_and_varkw() -> None:
    spec = signature.parse_input_text('url, method="GET", headers=null, **kwargs')
    assert spec.required == ("url",)
    assert dict(spec.optional) == {"method": "GET", "headers": None}
    assert spec.accepts_any is True
    assert spec.names == ("url", "method", "headers")


def test_parse_keeps_commas_inside_json_defaults() -> None:
    spec = signature.parse_input_text('a, sep=", ", items=[1, {"k": "x,y"}], quote="\\",", z')
    assert spec.required == ("a", "z")
    assert dict(spec.optional) == {"sep": ", ", "items": [1, {"k": "x,y"}], "quote": '",'}
    assert spec.accepts_any is False


def test_parse_of_empty_text_has_no_parameters() -> None:
    spec = signature.parse_input_text("")
    assert spec.names == ()
    assert spec.accepts_any is False


def test_parse_keeps_a_default_that_is_not_json_as_text() -> None:
    assert dict(signature.parse_input_text("mode=fast").optional) == {"mode": "fast"}
