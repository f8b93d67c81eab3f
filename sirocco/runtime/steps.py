"""One engine step: events for one execution in, one transaction, commands out.

Read top to bottom: delete the durable rows that carried the events, lock
the execution row, load (or reuse) its snapshot, decide, write the changed
records, the commands (outbox rows) and the timers, commit, then hand the
commands to the dispatcher.

Actions without side effects that take no time (``std.noop``, ``std.echo``
without delay, ...) are run inside the step: their results are decided on in
the same transaction, so a chain of such tasks costs one commit, not one per
task. A bounded number of rounds keeps a loop of them from holding the
transaction forever; what is left goes back to the queue.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sirocco import clock, engine, errors, expressions, ids
from sirocco.engine import commands, events
from sirocco.engine.states import TERMINAL
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime import metrics, snapshots, tracing
from sirocco.runtime.lookup import StepLookup, StoreLookup
from sirocco.runtime.pending import Pending
from sirocco.runtime.pending import write as _write_pending
from sirocco.runtime.snapshots import SnapshotCache
from sirocco.runtime.specs import SpecCache
from sirocco.runtime.work import BatchResult, Envelope, InlineRunner, Outgoing, StartItem
from sirocco.store import executions, lookups, outbox, timers, writer
from sirocco.store.database import Connection, Database

log = logging.getLogger("sirocco.engine")

#: Decide rounds per transaction when actions run inside the step.
MAX_ROUNDS = 256


def _execution_id(item: StartItem) -> str:
    return item.execution_id


class Stepper:
    """Runs steps against the database; used by one engine thread at a time."""

    def __init__(
        self,
        database: Database,
        lookup: StoreLookup,
        spec_cache: SpecCache,
        clock: Callable[[], datetime],
        *,
        limits: Limits = DEFAULT_LIMITS,
        monotonic: Callable[[], float] = clock.monotonic,
    ) -> None:
        self.database = database
        self.lookup = lookup
        self.specs = spec_cache
        self.clock = clock
        self.limits = limits
        #: The clock of the expressions' time limits (seconds, never set back).
        self.monotonic = monotonic
        self.snapshots = SnapshotCache()
        #: The steps' write transactions, on a connection kept between them.
        self.connection = database.kept()
        self.run_inline: InlineRunner | None = None
        #: The channel to wake when a step leaves actions for executor processes.
        self.wake: str | None = None
        #: This process's name when its own executor runs the actions steps make: their
        #: rows are written handed to it (``pending.write``).
        self.holder: str | None = None
        #: Tells a broker of the actions a committed batch left (``Dispatcher.announce``),
        #: when one carries them: a batch of starts alone then commits before its flush,
        #: announces, and waits for the flush (executors lease through durable commits).
        self.announce: Callable[[Outgoing], None] | None = None

    # ------------------------------------------------------------ one transaction, many items

    def run_batch(
        self,
        starts: Sequence[StartItem],
        groups: Mapping[str, Sequence[Envelope]],
        *,
        again: bool = False,
    ) -> BatchResult:
        """Starts and event groups of several executions in one transaction (group commit).

        A start whose input is wrong is reported in ``failed_starts`` and writes
        nothing; any other error rolls the whole batch back and is raised (the
        caller then retries item by item).

        ``again``: an earlier attempt at these items failed, perhaps after its commit
        (a connection lost while committing): every start looks for its row, fresh or not.
        """
        result = BatchResult()
        touched: list[tuple[str, int, engine.Snapshot]] = []
        writes = writer.Writes()
        began = time.perf_counter()
        tally = metrics.Tally()
        spans: list[tracing.SpanRecord] = []
        try:
            with self.connection.transaction() as connection:
                lookup = self.lookup.bound(connection)
                for item in sorted(starts, key=_execution_id):
                    try:
                        started = self._start_in(
                            connection, lookup, item, writes, result.outgoing, again=again
                        )
                    except errors.SiroccoError as exc:
                        result.failed_starts.append((item, exc))
                        continue
                    result.started.append(item)
                    if started is not None:
                        touched.append((item.execution_id, 0, started))
                        result.created[item.execution_id] = started.workflow
                # Flushed before the steps: an event may be for an execution started just now.
                metrics.tally(writes, tally)
                if tracing.enabled():
                    spans.extend(tracing.collect(writes, _roots(touched)))
                # Starts alone: executors may lease their actions before the commit's flush
                # (a lease is a durable commit, which flushes the start's WAL with its own);
                # the caller is answered after it. With a broker, it is told first.
                announce = self.announce if not groups else None
                committed = writes.flush(
                    connection, last=not groups, early=not groups, flushed=announce is None
                )
                if announce is not None and committed:
                    announce(result.outgoing)
                    self.database.wait_for_disk(connection)  # a crash since fails it
                # Rows are locked in one order (by id) in every batch of every engine, so
                # that two engines never wait for each other's locks (a deadlock).
                for execution_id in sorted(groups):
                    envelopes = groups[execution_id]
                    stepped = self._step_in(
                        connection, lookup, execution_id, envelopes, writes, result.outgoing
                    )
                    if stepped is not None:
                        touched.append((execution_id, stepped[0], stepped[1]))
                metrics.tally(writes, tally)
                if tracing.enabled():
                    spans.extend(tracing.collect(writes, _roots(touched)))
                writes.flush(connection, last=True)
        except BaseException:
            for execution_id, _, _ in touched:
                self.snapshots.drop(execution_id)  # they hold changes that were rolled back
            for execution_id in groups:
                self.snapshots.drop(execution_id)
            raise
        for execution_id, version, snapshot in touched:
            self.snapshots.keep(execution_id, version, snapshot)
        metrics.METRICS.record_step(time.perf_counter() - began, tally, result.outgoing.changed)
        if spans:
            tracing.export(spans)
        return result

    def step(self, execution_id: str, envelopes: Sequence[Envelope]) -> Outgoing:
        """Apply a batch of events to one execution in its own transaction."""
        return self.run_batch([], {execution_id: envelopes}).outgoing

    def start(self, item: StartItem) -> Outgoing:
        """Create and start one workflow execution in its own transaction.

        Raises InputError (nothing written) when the input does not fit.
        """
        result = self.run_batch([item], {})
        if result.failed_starts:
            raise result.failed_starts[0][1]
        return result.outgoing

    def _step_in(
        self,
        connection: Connection,
        lookup: StepLookup,
        execution_id: str,
        envelopes: Sequence[Envelope],
        writes: writer.Writes,
        outgoing: Outgoing,
    ) -> tuple[int, engine.Snapshot] | None:
        # The execution row first, then the rows that carried its events: the same order
        # in every engine, whatever rows a duplicate delivery shares.
        outbox_ids = [item.outbox_id for item in envelopes if item.outbox_id is not None]
        row, consumed = executions.lock_workflow_consuming(connection, execution_id, outbox_ids)
        envelopes = self._consume(connection, envelopes, consumed)
        if row is None or not envelopes:
            return None
        wanted = [
            envelope.event.action_execution_id
            for envelope in envelopes
            if isinstance(envelope.event, events.ActionCompleted)
        ]
        # A snapshot read from the store comes with the wanted actions (one round trip).
        snapshot = snapshots.load(connection, lookup, row, self.specs, self.snapshots, wanted)
        missing = [item for item in wanted if item not in snapshot.actions]
        if missing:
            snapshot.add_actions(executions.load_actions(connection, missing))
        pending = Pending(previous_state=str(snapshot.workflow.state))
        budget = self.budget()  # one for the step and its rounds
        try:
            # The decision is not kept once absorbed (see ``_absorb``).
            self._absorb(
                engine.decide(
                    snapshot,
                    [item.event for item in envelopes],
                    now=self.clock(),
                    new_id=ids.new_id,
                    budget=budget,
                    in_place=True,  # applied by ``_absorb``, or the snapshot dropped
                ),
                snapshot,
                pending,
                lookup,
            )
            self._rounds(snapshot, pending, budget, lookup)
        except BaseException:
            self.snapshots.drop(execution_id)
            raise
        self._write(
            writes, pending, outgoing, bump=execution_id, root=tracing.root_of(snapshot.workflow)
        )
        return row.version + 1, snapshot

    def _start_in(
        self,
        connection: Connection,
        lookup: StepLookup,
        item: StartItem,
        writes: writer.Writes,
        outgoing: Outgoing,
        *,
        again: bool = False,
    ) -> engine.Snapshot | None:
        if not item.definition:
            raise errors.NotFoundError(
                f"Failed to find workflow [name={item.spec_name}] [namespace={item.namespace}]"
            )
        spec = self.specs.workflow(item.spec_name, item.definition, item.workbook)
        if item.outbox_id is not None:
            outbox.delete(connection, [item.outbox_id])
        # A fresh id (made for this start) has no row yet: no statement asks. Otherwise the
        # start may have come before (a redelivered request, an id a caller chose, a
        # commit whose answer was lost).
        looks = again or not item.fresh
        if looks and executions.lock_workflow(connection, item.execution_id) is not None:
            return None  # started already
        if item.parent_execution_id is not None and lookups.stopped_above(
            connection,
            parent_execution_id=item.parent_execution_id,
            root_execution_id=item.root_execution_id,
        ):
            # The parent ended, or the root was cancelled, before this start came
            # through (also when it comes again after a restart): a child never
            # starts then, so a cancelled recursion stops spawning.
            log.info(
                "sub-workflow not started: its parent or root ended",
                extra={"execution_id": item.execution_id, "parent": item.parent_execution_id},
            )
            return None
        project_id = item.project_id or lookups.project_of(connection, item.root_execution_id)
        lookup = lookup.for_project(project_id)  # names resolve in the execution's project
        item_values: dict[str, tuple[int, dict[str, list[Any]]]] = {}
        decision = engine.start_workflow(
            spec=spec,
            execution_id=item.execution_id,
            input=item.input,
            params=item.params,
            now=self.clock(),
            new_id=ids.new_id,
            lookup=lookup,
            description=item.description,
            namespace=item.namespace,
            workflow_id=item.workflow_id,
            task_execution_id=item.task_execution_id,
            root_execution_id=item.root_execution_id,
            parent_execution_id=item.parent_execution_id,
            budget=self.budget(),
            item_values=item_values,
        )
        if project_id is not None:
            decision = _owned_by(decision, item.execution_id, project_id)
        workflow = next(record for record in decision.workflows if record.id == item.execution_id)
        snapshot = engine.Snapshot(workflow, [], [], lookup)
        snapshot.item_values.update(item_values)  # evaluated once (a list may be huge)
        pending = Pending(workflow_is_new=True)
        self._absorb(decision, snapshot, pending, lookup)
        del decision  # not kept once absorbed (see ``_absorb``)
        # No inline rounds here: the caller waits for the start (POST /v2/executions);
        # the results of inline actions are decided in the next batch.
        self._write(writes, pending, outgoing, root=tracing.root_of(workflow))
        return snapshot

    def _consume(
        self,
        connection: Connection,
        envelopes: Sequence[Envelope],
        consumed: set[str] | None = None,
    ) -> list[Envelope]:
        """Delete the rows that carried the events; keep only events whose row was still
        there (a row already gone means its event was applied before: a duplicate).

        ``consumed``: the outbox rows already deleted with the execution row's lock
        (``executions.lock_workflow_consuming``); None: delete them here.
        """
        outbox_ids = [item.outbox_id for item in envelopes if item.outbox_id is not None]
        timer_ids = [item.timer_id for item in envelopes if item.timer_id is not None]
        gone: set[str] = set()
        if outbox_ids:
            deleted = outbox.delete(connection, outbox_ids) if consumed is None else consumed
            gone.update(item for item in outbox_ids if item not in deleted)
        if timer_ids:
            deleted = timers.delete(connection, timer_ids)
            gone.update(item for item in timer_ids if item not in deleted)
        # An action completed through the API: its RunAction row (id = action id) is done.
        completed_elsewhere = [
            item.event.action_execution_id
            for item in envelopes
            if isinstance(item.event, events.ActionCompleted) and item.outbox_id is None
        ]
        if completed_elsewhere:
            outbox.delete(connection, completed_elsewhere)
        if not gone:
            return list(envelopes)
        return [
            item for item in envelopes if item.outbox_id not in gone and item.timer_id not in gone
        ]

    def notify_parent(self, event: events.Event, outbox_id: str | None) -> Outgoing:
        """A sub-workflow could not start: tell its parent through a durable outbox row."""
        outgoing = Outgoing()
        with self.database.transaction() as connection:
            if outbox_id is not None:
                outbox.delete(connection, [outbox_id])
            pending = Pending(commands=[commands.SendEvent(event=event)])
            writes = writer.Writes()
            self._write(writes, pending, outgoing)
            writes.flush(connection, last=True)
        return outgoing

    # ------------------------------------------------------------ deciding

    def _absorb(
        self,
        decision: engine.Decision,
        snapshot: engine.Snapshot,
        pending: Pending,
        lookup: StepLookup,
    ) -> None:
        """Fold one round's decision into the snapshot and the pending writes.

        Callers drop the decision once absorbed: what is left to write is in
        ``pending``, and the commands run inline (one per item of a with-items
        task, each with its input) need not outlive this call.
        """
        for workflow in decision.workflows:
            pending.workflow = workflow
        # A record is new if it is neither known from an earlier round nor stored. A
        # decision made in place says which tasks the snapshot did not hold before it.
        created = decision.created if decision.indexed is snapshot.index else None
        for task in decision.tasks:
            if task.id in pending.new_tasks or (
                task.id not in pending.task_updates
                and (
                    task.id in created
                    if created is not None
                    else snapshot.tasks.get(task.id) is None
                )
            ):
                pending.new_tasks[task.id] = task
            else:
                pending.task_updates[task.id] = task
        stored = lookup.loaded
        for action in decision.actions:
            if action.id in pending.new_actions or (
                action.id not in pending.action_updates
                and action.id not in snapshot.actions
                and action.id not in stored
            ):
                pending.new_actions[action.id] = action
            else:
                pending.action_updates[action.id] = action
        pending.problems.extend(decision.problems)
        snapshot.apply(decision)
        for command in decision.commands:
            if isinstance(command, commands.RunAction) and self.run_inline is not None:
                completed = self.run_inline(command)
                if completed is not None:
                    pending.inline.append(completed)
                    continue
            pending.commands.append(command)

    def budget(self) -> expressions.Budget:
        """What the expressions of one step may spend."""
        return expressions.Budget(self.limits, self.monotonic)

    def _rounds(
        self,
        snapshot: engine.Snapshot,
        pending: Pending,
        budget: expressions.Budget,
        lookup: StepLookup,
    ) -> None:
        """Decide on the results of actions run inside the step, round after round."""
        rounds = 0
        while pending.inline and rounds < MAX_ROUNDS:
            if snapshot.workflow.state in TERMINAL:
                break
            batch, pending.inline = pending.inline, []
            self._absorb(
                engine.decide(
                    snapshot,
                    batch,
                    now=self.clock(),
                    new_id=ids.new_id,
                    budget=budget,
                    in_place=True,  # applied by ``_absorb``, or the snapshot dropped
                ),
                snapshot,
                pending,
                lookup,
            )
            rounds += 1

    # ------------------------------------------------------------ writing

    def _write(
        self,
        writes: writer.Writes,
        pending: Pending,
        outgoing: Outgoing,
        *,
        bump: str | None = None,
        root: str | None = None,
    ) -> None:
        """Add one execution's changes to the batch's writes (``pending.py``)."""
        _write_pending(
            writes,
            pending,
            outgoing,
            now=self.clock(),
            wake=self.wake,
            bump=bump,
            root=root,
            holder=self.holder,
        )


def _roots(touched: Sequence[tuple[str, int, engine.Snapshot]]) -> dict[str, str]:
    """The root execution id of each execution a batch touched (for its spans)."""
    return {execution_id: tracing.root_of(snapshot.workflow)
            for execution_id, _, snapshot in touched}  # fmt: skip


def _owned_by(decision: engine.Decision, execution_id: str, project_id: str) -> engine.Decision:
    """``decision`` with the new execution given to ``project_id``."""
    workflows = tuple(
        dataclasses.replace(record, project_id=project_id) if record.id == execution_id else record
        for record in decision.workflows
    )
    return dataclasses.replace(decision, workflows=workflows)
