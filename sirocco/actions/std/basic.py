"""The small std actions: noop, async_noop, echo, fail, sleep and test_dict."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mistral_lib import actions

from sirocco import errors
from sirocco.actions import cancellation
from sirocco.actions.std.standard import StandardAction


class NoopAction(StandardAction):
    """Does nothing and returns null."""

    names = ("std.noop",)
    mistral_class = "NoOpAction"
    side_effects = False
    safe_rerun = True
    reads_context = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return not timeout

    def run(self, context: Any) -> None:
        return None


class AsyncNoopAction(NoopAction):
    """Does nothing and never reports: the result must be sent through the API."""

    names = ("std.async_noop",)
    mistral_class = "AsyncNoOpAction"
    side_effects = False
    # Its result comes through the API: running it again would not bring one.
    safe_rerun = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return False  # its result comes later, through the API

    def is_sync(self) -> bool:
        return False


class EchoAction(StandardAction):
    """Returns ``output``, after waiting ``delay`` seconds."""

    names = ("std.echo",)
    mistral_class = "EchoAction"
    side_effects = False
    safe_rerun = True
    reads_context = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        # Inline only when it takes no time: a delay holds an executor thread, not the engine's.
        return not given.get("delay") and not timeout

    def __init__(self, output: Any, delay: Any = 0) -> None:
        super().__init__()
        self.output = output
        try:
            self.delay = max(float(delay), 0.0)
        except ValueError:
            self.delay = 0.0

    def run(self, context: Any) -> Any:
        if self.delay:
            time.sleep(self.delay)
        return self.output


class FailAction(StandardAction):
    """Always fails; with ``error_data`` that data is the error result."""

    names = ("std.fail",)
    mistral_class = "FailAction"
    side_effects = False
    safe_rerun = True

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return not timeout

    def __init__(self, error_data: Any = None) -> None:
        super().__init__()
        self.error_data = error_data

    def __repr__(self) -> str:
        return "Fail action"

    def run(self, context: Any) -> Any:
        if self.error_data:
            return actions.Result(error=self.error_data)
        raise errors.ActionError("Fail action expected exception.")


class SleepAction(StandardAction):
    """Sleeps ``seconds`` whole seconds (negative or not a number: no sleep)."""

    names = ("std.sleep",)
    mistral_class = "SleepAction"
    side_effects = False
    # As in Mistral: a sleep cut short fails rather than starting its wait over.
    safe_rerun = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return False  # it takes time

    def __init__(self, seconds: Any = 1) -> None:
        super().__init__()
        try:
            self.seconds = max(int(seconds), 0)
        except ValueError:
            self.seconds = 0

    def run(self, context: Any) -> Any:
        # Woken early when its workflow execution is cancelled (sirocco.actions.cancellation).
        if self.seconds and cancellation.sleep(self.seconds):
            return actions.Result(error=cancellation.CANCELLED_MESSAGE, cancel=True)
        return None


class TestDictAction(StandardAction):
    """Builds ``{key_prefix + i: val}`` for i in 0..size-1 (a test helper)."""

    __test__ = False  # not a pytest test class, despite the name
    names = ("std.test_dict",)
    mistral_class = "TestDictAction"
    side_effects = False
    safe_rerun = True

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return not timeout

    def __init__(self, size: int = 0, key_prefix: str = "", val: Any = "") -> None:
        super().__init__()
        self.size = size
        self.key_prefix = key_prefix
        self.val = val

    def run(self, context: Any) -> dict[str, Any]:
        return {f"{self.key_prefix}{index}": self.val for index in range(self.size)}
