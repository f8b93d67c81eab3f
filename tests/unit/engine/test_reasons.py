"""Mistral's failure texts condensed for people: each message once, no ids, short."""

from __future__ import annotations

from sirocco.engine import reasons

TASK_ID = "01a24f47-b587-7000-863e-bec195a23ca3"
ACTION_ID = "01a24f47-b588-7000-b192-d0633f24049a"


def _failure(message: str, *item_messages: str) -> str:
    text = f"Failure caused by error in tasks: get\n\n  get [task_ex_id={TASK_ID}] -> {message}\n"
    for index, item in enumerate(item_messages or (message,)):
        text += f"    [action_ex_id={ACTION_ID}, idx={index}]: {item}\n"
    return text


def test_a_message_repeated_for_the_action_is_said_once_and_ids_are_left_out() -> None:
    lines = reasons.condensed(_failure("it broke"))
    assert lines == ["Failure caused by error in tasks: get", "  get: it broke"]


def test_different_messages_of_items_or_attempts_are_all_kept() -> None:
    lines = reasons.condensed(_failure("third", "first", "second", "third"))
    assert lines == [
        "Failure caused by error in tasks: get",
        "  get: third",
        "    #0: first",
        "    #1: second",
    ]


def test_an_http_response_is_shown_as_its_status_and_the_start_of_its_content() -> None:
    body = "x" * 400
    response = (
        f"{{'content': '{body}', 'status': 500, 'headers': {{'Server': 'test'}}, "
        "'url': 'http://127.0.0.1:9/api?token=secret', 'history': [], 'encoding': 'utf-8', "
        "'reason': 'Internal Server Error', 'cookies': {}, 'elapsed': 0.01}"
    )
    lines = reasons.condensed(_failure(response), limit=100)
    assert lines[1].startswith("  get: HTTP 500 Internal Server Error from http://127.0.0.1:9/api:")
    assert "secret" not in lines[1]  # the query string is left out
    assert lines[1].endswith("more characters)")
    assert len(lines) == 2
    logged = reasons.one_line(_failure(response))
    assert logged == (
        "Failure caused by error in tasks: get; "
        "get: HTTP 500 Internal Server Error from http://127.0.0.1:9/api"
    )


def test_long_messages_are_cut_with_a_count() -> None:
    assert reasons.cut("a" * 20, 10) == "aaaaaaaaaa… (10 more characters)"
    assert reasons.cut("short  and\nflat", 100) == "short and flat"


def test_other_texts_pass_through() -> None:
    text = "Failed to run task [error=Invalid input [name=std.http, missing=['url']], task=t]"
    assert reasons.condensed(text) == [text]
    assert reasons.condensed(None) == []
    assert reasons.one_line("") == ""
    assert reasons.readable("{'status': 1") == "{'status': 1"  # not a dict: left as it is


def test_a_failed_sub_workflow_quoted_again_is_said_once() -> None:
    inner = (
        "Failure caused by error in tasks: boom\n\n"
        f"  boom [task_ex_id={TASK_ID}] -> One or more actions had failed.\n"
        f"    [action_ex_id={ACTION_ID}, idx=0]: item 1 broke\n"
        f"    [action_ex_id={ACTION_ID}, idx=1]: item 2 broke\n"
    )
    outer = (
        "Failure caused by error in tasks: call\n\n"
        f"  call [task_ex_id={TASK_ID}] -> {inner}\n"
        f"    [wf_ex_id={ACTION_ID}, idx=0]: {inner}"
    )
    assert reasons.condensed(outer) == [
        "Failure caused by error in tasks: call",
        "  call: Failure caused by error in tasks: boom",
        "  boom: One or more actions had failed.",
        "    #0: item 1 broke",
        "    #1: item 2 broke",
    ]
