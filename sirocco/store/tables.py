"""The SQL tables, as SQLAlchemy Core metadata (the Alembic migrations follow them).

JSON values are stored as text (``JSONText``) so that SQLite and PostgreSQL
hold the same bytes. Times are naive UTC.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from sirocco.store import json_text

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class JSONText(sa.types.TypeDecorator[Any]):
    """Any JSON value, stored as compact text."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if type(value) is Encoded:
            return value.text
        if not value and isinstance(value, (dict, list, tuple)):
            return "{}" if isinstance(value, dict) else "[]"
        return json_text.dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


class Encoded:
    """A field's JSON text, made already (``sirocco.store.blobs``): written as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), primary_key=True)


def _times() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    ]


def _secure() -> list[sa.Column[Any]]:
    return [
        sa.Column("scope", sa.String(16), nullable=False, server_default="private"),
        sa.Column("project_id", sa.String(80), nullable=False, server_default="<default-project>"),
    ]


workbooks = sa.Table(
    "workbooks",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("namespace", sa.String(255), nullable=False, server_default=""),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("tags", JSONText, nullable=True),
    *_secure(),
    *_times(),
    sa.UniqueConstraint("name", "namespace", "project_id"),
)

workflow_definitions = sa.Table(
    "workflow_definitions",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("namespace", sa.String(255), nullable=False, server_default=""),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("workbook_name", sa.String(255), nullable=True),
    sa.Column("input", sa.Text, nullable=True),
    sa.Column("interface", JSONText, nullable=True),
    sa.Column("checksum", sa.String(32), nullable=True),
    sa.Column("tags", JSONText, nullable=True),
    *_secure(),
    *_times(),
    sa.UniqueConstraint("name", "namespace", "project_id"),
)

action_definitions = sa.Table(
    "action_definitions",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("namespace", sa.String(255), nullable=False, server_default=""),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("workbook_name", sa.String(255), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("input", sa.Text, nullable=True),
    sa.Column("tags", JSONText, nullable=True),
    *_secure(),
    *_times(),
    sa.UniqueConstraint("name", "namespace", "project_id"),
)

environments = sa.Table(
    "environments",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("variables", JSONText, nullable=True),
    *_secure(),
    *_times(),
    sa.UniqueConstraint("name", "project_id"),
)

workflow_executions = sa.Table(
    "workflow_executions",
    metadata,
    _id(),
    sa.Column("workflow_name", sa.String(255), nullable=False),
    sa.Column("workflow_id", sa.String(36), nullable=True),
    sa.Column("namespace", sa.String(255), nullable=False, server_default=""),
    sa.Column("workbook_name", sa.String(255), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("state_info", sa.Text, nullable=True),
    sa.Column("input", JSONText, nullable=True),
    sa.Column("params", JSONText, nullable=True),
    sa.Column("context", JSONText, nullable=True),
    sa.Column("output", JSONText, nullable=True),
    sa.Column("task_execution_id", sa.String(36), nullable=True, index=True),
    sa.Column("root_execution_id", sa.String(36), nullable=True, index=True),
    sa.Column("tags", JSONText, nullable=True),
    sa.Column("runtime", JSONText, nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("project_id", sa.String(80), nullable=False, server_default="<default-project>"),
    *_times(),
    sa.Index("ix_workflow_executions_state", "state"),
    sa.Index("ix_workflow_executions_created_at", "created_at"),
    # The web view's list of one state, newest first, reads a page without sorting.
    sa.Index("ix_workflow_executions_state_created_at", "state", "created_at"),
)

task_executions = sa.Table(
    "task_executions",
    metadata,
    _id(),
    sa.Column(
        "workflow_execution_id",
        sa.String(36),
        sa.ForeignKey("workflow_executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("type", sa.String(10), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("state_info", sa.Text, nullable=True),
    sa.Column("triggered_by", JSONText, nullable=True),
    sa.Column("published", JSONText, nullable=True),
    sa.Column("result", JSONText, nullable=True),
    sa.Column("has_result", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("next_tasks", JSONText, nullable=True),
    sa.Column("processed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("error_handled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("runtime", JSONText, nullable=True),
    sa.Column("tags", JSONText, nullable=True),
    *_times(),
    sa.Column("started_at", sa.DateTime, nullable=True),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Index("ix_task_executions_workflow_execution_id_seq", "workflow_execution_id", "seq"),
)

action_executions = sa.Table(
    "action_executions",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column(
        "task_execution_id",
        sa.String(36),
        sa.ForeignKey("task_executions.id", ondelete="CASCADE"),
        nullable=True,
    ),
    sa.Column("workflow_execution_id", sa.String(36), nullable=True, index=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("state_info", sa.Text, nullable=True),
    sa.Column("input", JSONText, nullable=True),
    sa.Column("output", JSONText, nullable=True),
    sa.Column("accepted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("index", sa.Integer, nullable=False, server_default="0"),
    sa.Column("is_sync", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("params", JSONText, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("tags", JSONText, nullable=True),
    sa.Column("project_id", sa.String(80), nullable=False, server_default="<default-project>"),
    *_times(),
    sa.Index("ix_action_executions_task_execution_id_index", "task_execution_id", "index"),
)

# Commands written by a step, sent after its commit, deleted once delivered.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("workflow_execution_id", sa.String(36), nullable=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("payload", JSONText, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # Set while a process delivers the row itself; others take it over once it passed.
    sa.Column("claimed_until", sa.DateTime, nullable=True),
    # The executor a RunAction is for (Mistral's `target`); None: any executor.
    sa.Column("target", sa.String(255), nullable=True),
    # The process that holds a RunAction row (an executor's name, see
    # ``store.leases.process_name``) and since when; None while it is queued.
    sa.Column("holder", sa.String(255), nullable=True),
    sa.Column("held_since", sa.DateTime, nullable=True),
    sa.Index("ix_outbox_created_at", "created_at"),
    sa.Index("ix_outbox_kind_claimed_until", "kind", "claimed_until"),
)

# Durable timers: an event to deliver at `due`.
timers = sa.Table(
    "timers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("due", sa.DateTime, nullable=False, index=True),
    sa.Column("workflow_execution_id", sa.String(36), nullable=True),
    sa.Column("payload", JSONText, nullable=False),
    sa.Column("claimed_until", sa.DateTime, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

cron_triggers = sa.Table(
    "cron_triggers",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("pattern", sa.String(100), nullable=True),
    sa.Column("first_execution_time", sa.DateTime, nullable=True),
    sa.Column("next_execution_time", sa.DateTime, nullable=False, index=True),
    sa.Column("remaining_executions", sa.Integer, nullable=True),
    sa.Column("workflow_name", sa.String(255), nullable=False),
    sa.Column("workflow_id", sa.String(36), nullable=True),
    sa.Column("workflow_namespace", sa.String(255), nullable=False, server_default=""),
    sa.Column("workflow_input", JSONText, nullable=True),
    sa.Column("workflow_params", JSONText, nullable=True),
    *_secure(),
    *_times(),
    sa.UniqueConstraint("name", "project_id"),
)

event_triggers = sa.Table(
    "event_triggers",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("workflow_id", sa.String(36), nullable=False),
    sa.Column("workflow_input", JSONText, nullable=True),
    sa.Column("workflow_params", JSONText, nullable=True),
    sa.Column("exchange", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("event", sa.String(255), nullable=False),
    *_secure(),
    *_times(),
    sa.UniqueConstraint("exchange", "topic", "event", "workflow_id", "project_id"),
)

#: One row per (event trigger, notification) that started the trigger's workflow: a
#: notification delivered again (a listener died before acknowledging it, or two
#: listeners got it) finds its row and starts nothing (``sirocco.store.event_deliveries``).
event_deliveries = sa.Table(
    "event_deliveries",
    metadata,
    sa.Column("trigger_id", sa.String(36), primary_key=True),
    sa.Column("message_id", sa.String(255), primary_key=True),
    sa.Column("execution_id", sa.String(36), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
)

auth_tokens = sa.Table(
    "auth_tokens",
    metadata,
    _id(),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("project_id", sa.String(80), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("expires_at", sa.DateTime, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

resource_members = sa.Table(
    "resource_members",
    metadata,
    _id(),
    sa.Column("resource_id", sa.String(80), nullable=False),
    sa.Column("resource_type", sa.String(50), nullable=False),
    sa.Column("project_id", sa.String(80), nullable=False),
    sa.Column("member_id", sa.String(80), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    *_times(),
    sa.UniqueConstraint("resource_id", "resource_type", "member_id"),
)

# Maintenance mode (Mistral's ``mistral_metrics`` row ``maintenance_status``): one row.
maintenance = sa.Table(
    "maintenance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)

# The executions maintenance mode paused: the ones it resumes when it ends.
maintenance_paused = sa.Table(
    "maintenance_paused",
    metadata,
    sa.Column("workflow_execution_id", sa.String(36), primary_key=True),
    sa.Column("paused_at", sa.DateTime, nullable=False),
)

# Python code uploaded through the API (Mistral's ``code_sources``).
code_sources = sa.Table(
    "code_sources",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("namespace", sa.String(255), nullable=False, server_default=""),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("tags", JSONText, nullable=True),
    *_secure(),
    *_times(),
    sa.UniqueConstraint("name", "namespace", "project_id"),
)

# Actions defined by a class of a code source (Mistral's ``dynamic_action_definitions``).
dynamic_action_definitions = sa.Table(
    "dynamic_action_definitions",
    metadata,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("namespace", sa.String(255), nullable=False, server_default=""),
    sa.Column("class_name", sa.String(255), nullable=False),
    sa.Column(
        "code_source_id",
        sa.String(36),
        sa.ForeignKey("code_sources.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("code_source_name", sa.String(255), nullable=False),
    *_secure(),
    *_times(),
    sa.UniqueConstraint("name", "namespace", "project_id"),
)

# Large values stored once, by the SHA-256 of their JSON text (``sirocco.store.blobs``);
# rows hold a reference (``sirocco.references``).
blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)

# The text of a blob longer than ``sirocco.store.blobs.CHUNK_CHARS``, in pieces of that
# many characters (its ``blobs.data`` is empty): written and read a piece at a time, so
# no statement carries the whole value.
blob_chunks = sa.Table(
    "blob_chunks",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.Text, nullable=False),
)

# Which execution refers to which blob: a blob goes once no execution refers to it.
# ``owner_id`` is the workflow execution of the row (an action run alone: its own id).
blob_refs = sa.Table(
    "blob_refs",
    metadata,
    sa.Column("owner_id", sa.String(36), primary_key=True),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Index("ix_blob_refs_digest", "digest"),
)
