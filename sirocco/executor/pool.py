"""Runs actions on a thread pool and reports each outcome to the engine."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sirocco import errors
from sirocco.actions import cancellation, dynamic, runner
from sirocco.actions.registry import ActionRegistry
from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.runtime import direct_actions, metrics

log = logging.getLogger("sirocco.executor")

Report = Callable[[commands.RunAction, State, Any, "str | None"], None]


class ExecutorPool:
    """An executor in this process: a pool of threads running actions."""

    def __init__(self, registry: ActionRegistry, report: Report, *, workers: int = 32) -> None:
        self._registry = registry
        self._report = report
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sirocco-action")
        #: Cancellation tokens of the running actions, by workflow execution id.
        self._tokens: dict[str, set[cancellation.Token]] = {}
        self._tokens_lock = threading.Lock()

    def submit(
        self, command: commands.RunAction, on_done: Callable[[], None] | None = None
    ) -> None:
        """Run ``command`` on a pool thread; ``on_done()`` after it, whatever happened.

        Called right after the step that wrote the command committed: the time until a
        pool thread starts it is this executor's hand-off latency."""
        handed = time.monotonic()

        def run_then_signal() -> None:
            metrics.METRICS.handed_off(time.monotonic() - handed)
            try:
                self.run(command)
            finally:
                if on_done is not None:
                    on_done()

        self._pool.submit(run_then_signal)

    def run_inline(self, command: commands.RunAction) -> events.ActionCompleted | None:
        """Run a cheap action without side effects right here and return its completion;
        None when the action is not one of those (it must go to the pool)."""
        if command.workflow_execution_id is None or dynamic.is_run_name(command.action_name):
            return None  # uploaded code never runs inside an engine step
        descriptor = self._registry.get(command.action_name)
        if descriptor is None or not descriptor.runs_inline(command.input, command.timeout):
            return None
        outcome = runner.run_action(descriptor, command.input, execution=command.execution)
        if outcome is None:
            return None
        state = State.SUCCESS
        if outcome.cancelled:
            state = State.CANCELLED
        elif outcome.error:
            state = State.ERROR
        return command.completed(state, outcome.result, outcome.message)

    def spawn(self, job: Callable[[], None]) -> None:
        """Run ``job`` on a pool thread."""
        self._pool.submit(job)

    def run(self, command: commands.RunAction) -> bool:
        """Run one action in the calling thread and report its outcome; False when the
        action is asynchronous (its result arrives through the API, nothing reported)."""
        try:
            descriptor = self._registry.get(command.action_name)
        except errors.ActionError as exc:  # a dynamic action whose code fails to load
            self._report(command, State.ERROR, None, exc.message)
            return True
        if descriptor is None:
            self._report(command, State.ERROR, None, f"Action not found: {command.action_name}")
            return True
        token = self._watch(command.workflow_execution_id)
        try:
            with cancellation.watching(token):
                outcome = runner.run_action(
                    descriptor, command.input, execution=command.execution, timeout=command.timeout
                )
        except Exception as exc:  # a bug in the runner must not kill the pool thread
            log.exception("action runner failed", extra={"action": command.action_name})
            self._report(command, State.ERROR, None, f"{type(exc).__name__}: {exc}")
            return True
        finally:
            self._unwatch(command.workflow_execution_id, token)
        if outcome is None:
            return False
        if outcome.cancelled:
            self._report(command, State.CANCELLED, outcome.result, outcome.message)
        elif outcome.error:
            self._report(command, State.ERROR, outcome.result, outcome.message)
        else:
            self._report_success(command, outcome.result)
        return True

    def cancel(self, workflow_execution_ids: Iterable[str]) -> int:
        """These workflow executions were cancelled: tell their running actions (an action
        that waits stops waiting and reports CANCELLED); returns how many were told."""
        told = 0
        with self._tokens_lock:
            for execution_id in workflow_execution_ids:
                for token in self._tokens.get(execution_id, ()):
                    if not token.cancelled:
                        token.cancel()
                        told += 1
        return told

    def running_in(self) -> set[str]:
        """Ids of the workflow executions that have an action running here."""
        with self._tokens_lock:
            return set(self._tokens)

    def _watch(self, execution_id: str | None) -> cancellation.Token:
        token = cancellation.Token()
        if execution_id is not None:
            with self._tokens_lock:
                self._tokens.setdefault(execution_id, set()).add(token)
        return token

    def _unwatch(self, execution_id: str | None, token: cancellation.Token) -> None:
        if execution_id is None:
            return
        with self._tokens_lock:
            tokens = self._tokens.get(execution_id)
            if tokens is not None:
                tokens.discard(token)
                if not tokens:
                    del self._tokens[execution_id]

    def _report_success(self, command: commands.RunAction, result: Any) -> None:
        """Report a result, after the output transforms of an ad-hoc action run alone."""
        transforms = command.execution.get("output_transforms") or ()
        try:
            result = direct_actions.transform(transforms, result)
        except errors.SiroccoError as exc:
            self._report(command, State.ERROR, None, exc.message)
            return
        self._report(command, State.SUCCESS, result, None)

    def shutdown(self, *, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
