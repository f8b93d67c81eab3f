"""Run one action: check its input, build it, call ``run(context)`` and read what it gave back.

This is what Mistral's executor does with an action, minus the transport:
the outcome is returned as data (:class:`ActionOutcome`), never raised. A
returned ``mistral_lib.actions.Result`` gives data, error or cancellation;
any other value is the result; an exception becomes an error whose text is
Mistral's ("The action raised an exception [action=..., action_ex_id=...,
msg='...']"), the action named by its text or its registered name, never by an
object address. An asynchronous action that did not fail gives no outcome: its
result arrives later through the API.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mistral_lib import actions
from mistral_lib.actions import context as action_context_module

from sirocco import errors, references
from sirocco.actions import signature, tracecontext
from sirocco.actions.registry import ActionDescriptor

logger = logging.getLogger(__name__)

# ``task_id`` is the deprecated spelling of ``task_execution_id`` (it warns).
_EXECUTION_FIELDS = frozenset(
    inspect.signature(action_context_module.ExecutionContext).parameters
) - {"task_id"}
_SECURITY_FIELDS = frozenset(inspect.signature(action_context_module.SecurityContext).parameters)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionOutcome:
    """What running an action produced, as Mistral stores it.

    Attributes:
        result: the data on success, the error data on failure or cancellation.
        error: True when the action failed.
        cancelled: True when the action cancelled itself (``Result(cancel=True)``).
        message: the text form of the error (Mistral's ``state_info``); None on success.
    """

    result: Any = None
    error: bool = False
    cancelled: bool = False
    message: str | None = None


def check_input(descriptor: ActionDescriptor, action_input: Mapping[str, Any]) -> None:
    """Check that the input fits the action's parameters (its ``input_text``).

    Raises:
        ActionInputError: ``"Invalid input [name=std.echo, class=..., missing=[...],
            unexpected=[...]]"`` when a required parameter is missing or an unknown
            one is given, unless the action accepts any keyword (``**kwargs``).
    """
    accepts_any, known, required = _parameters(descriptor.input_text)
    if accepts_any:
        return
    missing = [name for name in required if name not in action_input]
    unexpected = [str(name) for name in action_input if name not in known]
    if not missing and not unexpected:
        return
    text = f"Invalid input [name={descriptor.name}, class={descriptor.class_path}"
    if missing:
        text += f", missing={missing}"
    if unexpected:
        text += f", unexpected={unexpected}"
    raise errors.ActionInputError(text + "]")


@functools.lru_cache(maxsize=1024)
def _parameters(input_text: str) -> tuple[bool, frozenset[str], tuple[str, ...]]:
    """Whether an input text accepts any keyword, its names and its required names, read
    once per text (an inline action's input is checked at every run)."""
    spec = signature.parse_input_text(input_text)
    return spec.accepts_any, frozenset(spec.names), spec.required


def action_context(execution: Mapping[str, Any], security: Mapping[str, Any] | None = None) -> Any:
    """The ``mistral_lib`` ActionContext handed to ``run``.

    Args:
        execution: ids and names of the execution (keys of mistral_lib's
            ExecutionContext; others are ignored). ``callback_url`` defaults to
            ``/v2/action_executions/<action_execution_id>``.
        security: keys of mistral_lib's SecurityContext (auth_token, project_id, ...).
    """
    fields = {key: value for key, value in execution.items() if key in _EXECUTION_FIELDS}
    action_execution_id = fields.get("action_execution_id")
    if action_execution_id and not fields.get("callback_url"):
        fields["callback_url"] = f"/v2/action_executions/{action_execution_id}"
    if fields.get("with_items_index") is None:
        fields.pop("with_items_index", None)
    security_fields = {
        key: value for key, value in (security or {}).items() if key in _SECURITY_FIELDS
    }
    return action_context_module.ActionContext(
        security_ctx=action_context_module.SecurityContext(**security_fields),
        execution_ctx=action_context_module.ExecutionContext(**fields),
    )


def run_action(
    descriptor: ActionDescriptor,
    action_input: Mapping[str, Any],
    *,
    execution: Mapping[str, Any],
    timeout: float | None = None,
    security: Mapping[str, Any] | None = None,
) -> ActionOutcome | None:
    """Instantiate the action and run it in the calling thread.

    Args:
        descriptor: the action to run.
        action_input: its parameters.
        execution: ids for the action context (see :func:`action_context`).
        timeout: seconds to wait for ``run``; past it the outcome is an error
            ("Timeout after N seconds") and the action's thread is left to finish
            on its own (a thread cannot be killed). None or <= 0: no limit.
        security: the security context's fields, if any.

    Returns:
        The outcome, or None for an asynchronous action that did not fail (its
        result is delivered later through the API).
    """
    action_execution_id = execution.get("action_execution_id")
    action_input = references.resolve_values(action_input)
    try:
        check_input(descriptor, action_input)
    except errors.ActionInputError as error:
        return _failure(descriptor, action_execution_id, error.message)
    try:
        action = descriptor.action_class(**action_input)
    except Exception as error:
        return _failure(descriptor, action_execution_id, _instantiation_message(descriptor, error))
    context = (
        action_context(execution, security)
        if isinstance(action, actions.Action) and _reads_context(type(action))
        else None
    )
    traced = tracecontext.TRACEPARENT.set(_traceparent(execution))
    try:
        returned = _call_run(action, context, timeout)
    except (Exception, SystemExit) as error:
        message = (
            f"The action raised an exception [action={_text_of(action, descriptor.name)}, "
            f"action_ex_id={action_execution_id}, msg='{error}']"
        )
        return _failure(descriptor, action_execution_id, message, error_type=type(error).__name__)
    finally:
        tracecontext.TRACEPARENT.reset(traced)
    outcome = outcome_of(returned)
    if outcome.error or _instance_is_sync(action):
        return outcome
    return None


def outcome_of(returned: Any) -> ActionOutcome:
    """The outcome for what ``run`` returned: a ``Result`` or a plain value."""
    if not isinstance(returned, actions.Result):
        return ActionOutcome(result=returned)
    if returned.is_cancel():
        return ActionOutcome(
            result=returned.error, cancelled=True, message=_state_info(returned.error)
        )
    if returned.is_error():
        return ActionOutcome(result=returned.error, error=True, message=_state_info(returned.error))
    return ActionOutcome(result=returned.data)


def _call_run(action: Any, context: Any, timeout: float | None) -> Any:
    run: Callable[..., Any] = action.run
    function = getattr(run, "__func__", None)
    takes_context = _takes_context(function, True) if function else _takes_context(run, False)
    call: Callable[[], Any] = (lambda: run(context)) if takes_context else run
    if timeout is None or timeout <= 0:
        return call()
    box: dict[str, Any] = {}
    # The action's thread sees this thread's context variables (its trace context).
    inherited = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = inherited.run(call)
        except BaseException as error:  # handed to the waiting thread
            box["error"] = error

    # The action's thread sees what the caller's context holds (its cancellation token).
    context_copy = contextvars.copy_context()
    thread = threading.Thread(
        target=context_copy.run, args=(target,), name="sirocco-action", daemon=True
    )
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"Timeout after {timeout} seconds")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _traceparent(execution: Mapping[str, Any]) -> str | None:
    value = execution.get("traceparent")
    return value if isinstance(value, str) else None


@functools.lru_cache(maxsize=1024)
def _takes_context(run: Callable[..., Any], bound: bool) -> bool:
    """Whether ``run`` takes the context argument (actions that predate mistral-lib may not).

    For a method, ``run`` is its plain function (cached per class) and ``bound`` is True:
    ``self`` is then not counted.
    """
    try:
        parameters = list(inspect.signature(run).parameters.values())
    except (TypeError, ValueError):
        return True
    if bound:
        parameters = parameters[1:]
    return any(
        parameter.kind
        in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD, parameter.VAR_POSITIONAL)
        for parameter in parameters
    )


def _instance_is_sync(action: Any) -> bool:
    method = getattr(action, "is_sync", None)
    if not callable(method):
        return True
    try:
        return bool(method())
    except Exception:
        return True


def _instantiation_message(descriptor: ActionDescriptor, error: Exception) -> str:
    # Mistral leaves the cause out (an exception may quote the input, secrets
    # included); Sirocco's own actions raise errors whose text is safe to show.
    text = (
        "Failed to instantiate an action [action_desc=Python action "
        f"[name={descriptor.name}, cls={descriptor.action_class!r}]]"
    )
    return f"{text}: {error}" if isinstance(error, errors.SiroccoError) else text


def _failure(
    descriptor: ActionDescriptor,
    action_execution_id: Any,
    message: str,
    *,
    error_type: str = "",
) -> ActionOutcome:
    logger.info(
        "Action failed",
        extra={
            "action": descriptor.name,
            "action_execution_id": action_execution_id,
            "error_type": error_type,
        },
    )
    return ActionOutcome(result=message, error=True, message=message)


def _state_info(value: Any) -> str | None:
    return str(value) if value else None


_TEXTS = ("__str__", "__repr__")


def _text_of(action: Any, name: str) -> str:
    """How the action is named in an error: its own text where its class gives one
    (Mistral's std.fail says "Fail action"), else its registered name. Mistral writes
    ``str(action)`` whatever it is; the default ``<... object at 0x7f...>`` names no
    action a user knows and changes with every run."""
    kind = type(action)
    own_text = any(getattr(kind, method) is not getattr(object, method) for method in _TEXTS)
    if not own_text:
        return name
    try:
        return str(action)
    except Exception:
        return name


def _reads_context(action_class: type) -> bool:
    """Whether an action of this class is given its context: all are, but for a class that
    says ``reads_context = False`` itself (std.noop, std.echo); a subclass of theirs, a
    user's action, may read it and is given it."""
    return bool(vars(action_class).get("reads_context", True))
