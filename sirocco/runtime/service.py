"""What the API and the CLI ask of the engine: start, pause, resume, stop, rerun, actions."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from sirocco import clock, errors, ids
from sirocco.actions import runner
from sirocco.engine import commands, events
from sirocco.engine.states import INCOMPLETE, TERMINAL, State
from sirocco.runtime import codec, direct_actions, notifications, result_routing
from sirocco.runtime.admission import Admission, InFlightLimits
from sirocco.runtime.loop import Runtime
from sirocco.runtime.work import Started, StartItem
from sirocco.store import blobs, event_deliveries, executions, lookups, outbox, rows, sources
from sirocco.store.database import Database

log = logging.getLogger("sirocco.service")

#: How long a change (pause, resume, stop, rerun...) waits for the engine to apply it.
CHANGE_TIMEOUT = 120.0


class Service:
    """Engine operations for one process; reads go straight to the store."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.database: Database = runtime.database
        self._submit_action: Any = None
        self.admission = Admission(self.database, InFlightLimits())
        #: What event triggers make of an event (Mistral's event definitions file).
        self.event_definitions = notifications.NO_DEFINITIONS

    def limit_in_flight(self, limits: InFlightLimits) -> None:
        """Refuse new executions (OverloadedError) while this much work is in flight."""
        self.admission = Admission(self.database, limits)

    def attach_executor(self, submit: Any) -> None:
        """Where standalone actions run (the same executor as workflow actions)."""
        self._submit_action = submit

    # ------------------------------------------------------------ workflows

    def start_workflow(
        self,
        *,
        workflow: str,
        namespace: str = "",
        input: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        description: str = "",
        execution_id: str | None = None,
        project_id: str | None = None,
    ) -> str:
        """Start an execution; its id once its row is committed (RUNNING, or already ended).

        The wait has no time limit: a start queued behind a long batch is slow, not
        failed (it would run anyway). Only a stopped engine answers with
        UnavailableError.

        ``project_id``: the project the execution belongs to (the default project when None).
        """
        return (
            self.request_start(
                workflow=workflow,
                namespace=namespace,
                input=input,
                params=params,
                description=description,
                execution_id=execution_id,
                project_id=project_id,
            )
            .result()
            .execution_id
        )

    def request_start(
        self,
        *,
        workflow: str,
        namespace: str = "",
        input: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        description: str = "",
        execution_id: str | None = None,
        project_id: str | None = None,
    ) -> Future[Started]:
        """Ask for a start (as ``start_workflow``) without waiting: the future gives the
        execution's id once its row is committed (with the record the start wrote, None
        when the execution existed already), or the error that refused it.

        Errors found before the engine is asked (unknown workflow, environment, too much
        in flight) are raised here.
        """
        if execution_id is not None and self._execution_row(execution_id, required=False):
            done: Future[Started] = Future()
            done.set_result(Started(execution_id))
            return done
        self.admission.check()
        found = sources.find_workflow(
            self.database, workflow, namespace=namespace, project_id=project_id
        )
        start_params = dict(params or {})
        env = start_params.get("env")
        if isinstance(env, str):
            start_params["env"] = self._environment(env, project_id)
        elif env is not None and not isinstance(env, Mapping):
            raise errors.InputError("Parameter 'env' must be a dictionary or an environment name.")
        if namespace or found.namespace:
            start_params.setdefault("namespace", found.namespace)
        item = StartItem(
            spec_name=found.name,
            definition=found.definition,
            workbook=found.workbook,
            workflow_id=found.id,
            execution_id=execution_id or ids.new_id(),
            input=dict(input or {}),
            params=start_params,
            description=description,
            namespace=found.namespace,
            project_id=project_id,
            fresh=execution_id is None,
        )
        return self.runtime.request_start(item)

    def fire_event_trigger(
        self,
        trigger_id: str,
        *,
        event_type: str | None,
        payload: Any,
        publisher_id: str | None,
        timestamp: Any,
        message_id: str | None,
        context: Mapping[str, Any],
    ) -> tuple[str, bool]:
        """Start an event trigger's workflow for one event, as a notification would; return
        the execution id and whether it started now (False: this ``message_id`` started it
        before). Without a ``message_id`` every call is a new event."""
        from sirocco.runtime import event_triggers  # kombu: not for `sirocco run`

        trigger = event_deliveries.find_trigger(self.database, trigger_id)
        if trigger is None:
            raise errors.NotFoundError(f"Event trigger not found [id={trigger_id}].")
        if event_type is not None and event_type != trigger.event:
            raise errors.InputError(
                f"'event_type' of the event is '{event_type}', but event trigger {trigger_id} "
                f"fires on '{trigger.event}'."
            )
        notification = notifications.of(
            event_type=trigger.event,
            payload=payload,
            publisher_id=publisher_id,
            timestamp=timestamp,
            message_id=message_id or ids.new_id(),
            context=context,
            where="the event",
        )
        self.admission.check()
        now = clock.utcnow()
        [recorded] = event_triggers.fire(
            self.database,
            [trigger],
            notification,
            now=now,
            claimed_until=now + outbox.CLAIM_FOR,
            definitions=self.event_definitions,
        )
        if recorded.outbox_id is None:
            return recorded.execution_id, False
        try:
            self.runtime.intake.start_from_outbox(recorded.outbox_id, recorded.payload).result()
        except errors.UnavailableError:
            raise  # the outbox row stays: the start happens when an engine takes it
        except errors.SiroccoError:
            # Refused (bad input, workflow gone): its outbox row is gone, and the same
            # message id may be posted again once the trigger is fixed.
            event_deliveries.forget(self.database, trigger.id, notification.message_id)
            raise
        return recorded.execution_id, True

    def pause_workflow(self, execution_id: str) -> None:
        row = self._execution_row(execution_id)
        if row.state == State.PAUSED:
            return
        if row.state != State.RUNNING:
            raise errors.InvalidStateError(
                f"Can't pause the workflow execution {execution_id}: it is {row.state}."
            )
        self._apply(events.PauseWorkflow(workflow_execution_id=execution_id))

    def resume_workflow(self, execution_id: str, env: Mapping[str, Any] | None = None) -> None:
        row = self._execution_row(execution_id)
        if row.state == State.RUNNING and not env:
            return
        if row.state not in (State.PAUSED, State.IDLE):
            raise errors.InvalidStateError(
                f"Can't resume the workflow execution {execution_id}: it is {row.state}."
            )
        self._apply(events.ResumeWorkflow(workflow_execution_id=execution_id, env=env))

    def stop_workflow(self, execution_id: str, state: str, message: str | None = None) -> None:
        row = self._execution_row(execution_id)
        target = State(state)
        if target not in TERMINAL:
            raise errors.InvalidStateError(f"Can't stop a workflow execution with state {state}.")
        if row.state in TERMINAL:
            if row.state == target:
                return
            raise errors.InvalidStateError(
                f"Can't change the state of the workflow execution {execution_id} from "
                f"{row.state} to {target}."
            )
        self.runtime.problems.pop(execution_id, None)
        self._apply(
            events.StopWorkflow(workflow_execution_id=execution_id, state=target, message=message)
        )
        refused = self.runtime.problems.pop(execution_id, None)
        if refused is not None and self._execution_row(execution_id).state not in TERMINAL:
            raise errors.InputError(refused)
        if target == State.CANCELLED:
            self._cancel_descendants(execution_id, row.root_execution_id, message)

    def _cancel_descendants(
        self, execution_id: str, root_execution_id: str | None, message: str | None
    ) -> None:
        """Cancel every running execution below a cancelled one (a root or not) at once.

        Each parent also cancels its children, level by level; this reaches
        the whole branch in one batch, and no child starts once its parent or
        its root has ended (the start checks both), so a recursion stops spawning.
        """
        with self.runtime.database.read() as connection:
            ids = lookups.unfinished_below(connection, execution_id, root_execution_id)
        for child_id in ids:
            self.runtime.intake.event(
                events.StopWorkflow(
                    workflow_execution_id=child_id, state=State.CANCELLED, message=message
                )
            )

    def rerun_task(
        self, task_execution_id: str, *, reset: bool = True, env: Mapping[str, Any] | None = None
    ) -> None:
        task = self._task_row(task_execution_id)
        if task.state not in (State.ERROR, State.CANCELLED):
            raise errors.InvalidStateError(
                f"Task execution {task_execution_id} is in {task.state} state; only tasks in "
                "ERROR or CANCELLED state can be rerun."
            )
        workflow = self._execution_row(task.workflow_execution_id)
        if workflow.state == State.PAUSED:
            raise errors.InvalidStateError(
                f"Can't rerun a task of the paused workflow execution {workflow.id}."
            )
        self._apply(
            events.RerunTask(
                workflow_execution_id=task.workflow_execution_id,
                task_execution_id=task_execution_id,
                reset=reset,
                env=env,
            )
        )

    def skip_task(self, task_execution_id: str) -> None:
        task = self._task_row(task_execution_id)
        if task.state != State.ERROR:
            raise errors.InvalidStateError(
                f"Task execution {task_execution_id} is in {task.state} state; only tasks in "
                "ERROR state can be skipped."
            )
        self._apply(
            events.SkipTask(
                workflow_execution_id=task.workflow_execution_id,
                task_execution_id=task_execution_id,
            )
        )

    def update_env(self, execution_id: str, env: Mapping[str, Any]) -> None:
        row = self._execution_row(execution_id)
        if row.state not in (State.IDLE, State.PAUSED, State.ERROR):
            raise errors.InvalidStateError(
                "The environment can only be updated when the workflow execution is IDLE, "
                f"PAUSED or ERROR; {execution_id} is {row.state}."
            )
        params = dict(row.params or {})
        params["env"] = _deep_merge(params.get("env") or {}, env)
        rows.set_params(self.database, execution_id, params, now=clock.utcnow())

    def delete_execution(self, execution_id: str, *, force: bool = False) -> None:
        row = self._execution_row(execution_id)
        if row.state not in TERMINAL and not force:
            raise errors.InvalidStateError(
                f"Only completed executions can be deleted; {execution_id} is {row.state}. "
                "Use force to delete it anyway."
            )
        with self.database.transaction() as connection:
            executions.delete_execution_tree(connection, execution_id)

    def wait(self, execution_id: str, timeout: float) -> str:
        """The state once the execution is terminal or paused (or at timeout)."""
        deadline = clock.monotonic() + timeout
        while True:
            state = self._execution_row(execution_id).state
            if state in TERMINAL or state == State.PAUSED or clock.monotonic() >= deadline:
                return str(state)
            time.sleep(0.02)

    # ------------------------------------------------------------ actions

    def list_actions(self) -> list[Mapping[str, Any]]:
        """The registry's actions, then the dynamic actions (their code loaded to describe them)."""
        actions: list[Mapping[str, Any]] = [
            {
                "name": descriptor.name,
                "input": descriptor.input_text,
                "description": descriptor.description,
                "is_system": descriptor.is_system,
            }
            for descriptor in self.runtime.registry.list()
        ]
        actions.extend(self.runtime.dynamic.listed())
        return actions

    def run_action(
        self,
        *,
        name: str,
        input: Mapping[str, Any],
        namespace: str = "",
        description: str = "",
        save_result: bool = False,
        run_sync: bool = False,
        target: str | None = None,
        timeout: float | None = None,
        project_id: str | None = None,
    ) -> Mapping[str, Any]:
        """Run one action outside a workflow (Mistral's run-action), for ``project_id``."""
        descriptor = self.runtime.registry.get(name)
        base_input: Mapping[str, Any] = input
        recorded_input: Mapping[str, Any] = input
        transforms: tuple[Any, ...] = ()
        if descriptor is None:
            adhoc = direct_actions.expand(
                self.database,
                self.runtime.registry,
                self.runtime.specs,
                name,
                namespace,
                input,
                project_id,
            )
            if adhoc is not None:
                descriptor, base_input, transforms = adhoc.base, adhoc.base_input, adhoc.transforms
                recorded_input = adhoc.input  # Mistral records it with the defaults filled in
        run_name = descriptor.name if descriptor is not None else name
        if descriptor is None:
            descriptor = self.runtime.dynamic.find_by_name(name, namespace, project_id)
            if descriptor is None:
                raise errors.ActionNotFoundError(f"Failed to find action [action_name={name}]")
            # The executor builds it by its run name; messages name it as the user does.
            run_name, descriptor = descriptor.name, dataclasses.replace(descriptor, name=name)
        runner.check_input(descriptor, base_input)
        if run_sync and not descriptor.is_sync:
            raise errors.InputError("Action does not support synchronous execution.")
        now = clock.utcnow()
        record = executions.ActionExecution(
            id=ids.new_id(),
            name=name,
            state=State.RUNNING,
            input=dict(recorded_input),
            accepted=False,  # Mistral: not accepted until its result arrives
            is_sync=descriptor.is_sync,
            params={
                "save_result": save_result,
                "run_sync": run_sync,
                "target": target,
                # Where its ad-hoc action is found again when its result is PUT.
                **({"namespace": namespace} if namespace else {}),
            },
            description=description,
            created_at=now,
        )
        if project_id is not None:
            record = dataclasses.replace(record, project_id=project_id)
        if descriptor.is_sync and not save_result:
            outcome = runner.run_action(
                descriptor, base_input, execution={"action_execution_id": None}, timeout=timeout
            )
            state = State.SUCCESS
            if outcome is not None and outcome.error:
                state = State.ERROR
            elif outcome is not None and outcome.cancelled:
                state = State.CANCELLED
            return {
                **executions.action_row(record),
                "id": None,
                "accepted": None,  # Mistral 23: never stored, so never accepted either
                "state": str(state),
                "state_info": outcome.message if outcome is not None else None,
                "output": outcome.result if outcome is not None else None,
            }
        rows.insert_action(self.database, record)
        execution: dict[str, Any] = {"action_execution_id": record.id}
        if transforms:
            execution["output_transforms"] = list(transforms)
        command = commands.RunAction(
            action_execution_id=record.id,
            workflow_execution_id=None,
            task_execution_id=None,
            action_name=run_name,
            input=dict(base_input),
            target=target,
            timeout=timeout,
            execution=execution,
        )
        if run_sync:
            # Mistral 23 answers a synchronous run with the base action's result.
            outcome = runner.run_action(
                descriptor,
                base_input,
                execution={"action_execution_id": record.id},
                timeout=timeout,
            )
            if outcome is not None:
                state = State.ERROR if outcome.error else State.SUCCESS
                self._finish_standalone(
                    record.id, state, outcome.result, outcome.message, as_created=True
                )
        elif self._submit_action is not None:
            self._submit_action(command)
        else:
            # Executors run in other processes: they take it from the outbox. The row has
            # the action's id, as a workflow action's row has (its executor deletes it).
            outbox.put(
                self.database,
                outbox.Kind.RUN_ACTION,
                codec.encode(command),
                now=clock.utcnow(),
                row_id=record.id,
            )
        return self._action_dict(record.id)

    def complete_action(self, action_execution_id: str, *, state: str, output: Any) -> None:
        """Deliver an action's result (async actions, or a manual completion)."""
        row = rows.action_execution(self.database, action_execution_id)
        if row is None:
            raise errors.NotFoundError(f"Action execution not found [id={action_execution_id}]")
        target = State(state)
        message = None
        if target == State.ERROR:
            message = str(output) if output is not None else "Unknown error"
        if row.workflow_execution_id is None:
            if target == State.SUCCESS:
                try:
                    output = self._standalone_transform(row, output)
                except errors.SiroccoError as exc:
                    target, output, message = State.ERROR, None, exc.message
            self._finish_standalone(action_execution_id, target, output, message)
            return
        if row.state not in INCOMPLETE:
            raise errors.InvalidStateError(
                f"Action execution {action_execution_id} is already {row.state}."
            )
        self._apply(
            events.ActionCompleted(
                workflow_execution_id=row.workflow_execution_id,
                action_execution_id=action_execution_id,
                state=target,
                result=output,
                message=message,
            )
        )

    def _standalone_transform(self, row: Any, output: Any) -> Any:
        """The result of an ad-hoc action run alone, sent by PUT: its chain's ``output``
        expressions applied, as the executor applies them (Mistral 23 does so too)."""
        if row.state not in INCOMPLETE or self.runtime.registry.get(row.name) is not None:
            return output
        params = row.params if isinstance(row.params, Mapping) else {}
        given = row.input if isinstance(row.input, dict) else {}
        with self.database.read() as connection:  # values stored by reference, as values
            given = blobs.Reader(connection).values(given)
        adhoc = direct_actions.expand(
            self.database,
            self.runtime.registry,
            self.runtime.specs,
            row.name,
            str(params.get("namespace") or ""),
            given,
            row.project_id,
        )
        if adhoc is None or not adhoc.transforms:
            return output
        return direct_actions.transform(adhoc.transforms, output)

    def _finish_standalone(
        self,
        action_execution_id: str,
        state: State,
        result: Any,
        message: str | None,
        *,
        as_created: bool = False,
    ) -> None:
        result_routing.finish_standalone(
            self.database,
            action_execution_id,
            state,
            result,
            message,
            now=clock.utcnow(),
            as_created=as_created,
        )

    def _action_dict(self, action_execution_id: str) -> Mapping[str, Any]:
        row = rows.action_execution(self.database, action_execution_id)
        return executions.action_row(executions.action_record(row))

    # ------------------------------------------------------------ helpers

    def _apply(self, event: events.Event) -> None:
        self.runtime.intake.event(event)
        self.runtime.intake.barrier().result(CHANGE_TIMEOUT)

    def _execution_row(self, execution_id: str, *, required: bool = True) -> Any:
        row = rows.workflow_execution(self.database, execution_id)
        if row is None and required:
            raise errors.NotFoundError(f"Workflow execution not found [id={execution_id}]")
        return row

    def _task_row(self, task_execution_id: str) -> Any:
        row = rows.task_execution(self.database, task_execution_id)
        if row is None:
            raise errors.NotFoundError(f"Task execution not found [id={task_execution_id}]")
        return row

    def _environment(self, name: str, project_id: str | None) -> Mapping[str, Any]:
        row = rows.environment(self.database, name, project_id)
        if row is None:
            raise errors.NotFoundError(f"Environment not found [name={name}]")
        return dict(row.variables or {})


def _deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
