"""Settings of a Sirocco process, from command-line options over ``SIROCCO_*`` variables.

A frozen dataclass checked on creation (types, bounds, choices), not a pydantic
model: every command reads its settings first, and importing pydantic and
building the model cost ``sirocco run`` a tenth of its start-up.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from sirocco import errors
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime.admission import InFlightLimits
from sirocco.store import outbox


def Field(
    *,
    default: Any,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A setting's default and bounds (``ge``: at least, ``gt``: more than, ``le``: at most)."""
    bounds = {
        key: value for key, value in (("ge", ge), ("gt", gt), ("le", le)) if value is not None
    }
    return dataclasses.field(default=default, metadata=bounds)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a process needs to know about its surroundings.

    Environment variables: ``SIROCCO_DB`` (database URL or SQLite file),
    ``SIROCCO_TRANSPORT`` (``memory://`` or an AMQP URL), ``SIROCCO_EXECUTOR_WORKERS``
    (threads running actions), ``SIROCCO_EXECUTOR_TARGET`` (the name this executor
    serves, Mistral's ``target``), and one ``SIROCCO_<NAME>`` for each limit of
    :class:`sirocco.limits.Limits` (``SIROCCO_EXPRESSION_MAX_ITEMS``,
    ``SIROCCO_FIELD_SIZE_LIMIT_KB``, ...; ``-1`` lifts a limit).

    Heartbeats (Mistral's ``[action_heartbeat]``): an executor in its own process renews
    the lease of every action it holds each ``SIROCCO_HEARTBEAT_INTERVAL`` seconds
    (Mistral's ``check_interval``); an engine fails (or, for ``safe-rerun`` tasks, offers
    again) an action whose executor missed ``SIROCCO_HEARTBEAT_MAX_MISSED`` heartbeats in a
    row (``max_missed_heartbeats``); ``SIROCCO_HEARTBEAT_FIRST_TIMEOUT`` is the lease an
    action gets when it is taken (``first_heartbeat_timeout``; default: the same lease);
    an action no executor takes fails ``SIROCCO_HEARTBEAT_UNTAKEN_TIMEOUT`` seconds plus
    one lease after it was queued, as Mistral fails one that never sent a heartbeat
    (``first_heartbeat_timeout``, 3600 as in Mistral).

    Authentication: ``SIROCCO_AUTH`` (``none``, ``tokens``,
    ``keystone`` or ``oidc``; unset: ``none`` on a loopback address, ``tokens``
    elsewhere), ``SIROCCO_KEYSTONE_URL``, ``SIROCCO_OIDC_ISSUER``,
    ``SIROCCO_OIDC_JWKS_URL``, ``SIROCCO_OIDC_AUDIENCE``, ``SIROCCO_OIDC_PROJECT_CLAIM``,
    ``SIROCCO_POLICY_FILE`` (JSON or YAML rules over Mistral's defaults) and
    ``SIROCCO_SECRET_KEYS`` (comma-separated key parts whose values are masked).
    """

    db: str | None = None
    transport: str = "memory://"
    #: Where event triggers hear notifications: an AMQP URL (``SIROCCO_EVENTS_BROKER``);
    #: unset: the ``transport`` when it is AMQP, else event triggers fire only through
    #: ``POST /v2/event_triggers/{id}/events`` (docs/event-triggers.md).
    events_broker: str | None = None
    #: Mistral's ``event_definitions_cfg_file``: a YAML file saying, per event type, what
    #: ``event_params`` an event trigger's workflow gets (``SIROCCO_EVENT_DEFINITIONS``).
    event_definitions: str | None = None
    executor_workers: int = Field(default=32, ge=1, le=1024)
    executor_target: str | None = None
    heartbeat_interval: float = Field(default=5.0, gt=0, le=3600)
    heartbeat_max_missed: int = Field(default=3, ge=1, le=1000)
    heartbeat_first_timeout: float | None = Field(default=None, gt=0)
    heartbeat_untaken_timeout: float = Field(default=3600.0, ge=0)
    #: Port of the ``/health`` and ``/ready`` listener of ``engine``, ``executor`` and
    #: ``scheduler`` (``SIROCCO_HEALTH_PORT``; none by default).
    health_port: int | None = Field(default=None, ge=1, le=65535)
    health_host: str = "127.0.0.1"
    #: Seconds a process holds the event rows and timers it claimed: after its death,
    #: others take them over after this long (``SIROCCO_CLAIM_SECONDS``).
    claim_seconds: float = Field(default=outbox.DEFAULT_CLAIM_SECONDS, gt=0, le=3600)
    #: Back-pressure: ``POST /v2/executions`` answers 429 with Retry-After while this many
    #: executions are RUNNING (``SIROCCO_MAX_EXECUTIONS_IN_FLIGHT``), or this many actions
    #: wait for or run on an executor (``SIROCCO_MAX_ACTIONS_IN_FLIGHT``); none by default.
    max_executions_in_flight: int | None = Field(default=None, ge=1)
    max_actions_in_flight: int | None = Field(default=None, ge=1)
    #: JSON bytes above which an action result, a published value, a workflow input or
    #: output is stored once, by reference (``SIROCCO_BLOB_THRESHOLD``, ``[blob]
    #: threshold``; docs/limits.md); -1: never.
    blob_threshold: int = Field(default=64 * 1024, ge=-1)

    def events_broker_url(self) -> str | None:
        """The broker event triggers listen on (None: no listening)."""
        if self.events_broker:
            return self.events_broker
        if self.transport.startswith(("amqp://", "amqps://", "pyamqp://")):
            return self.transport
        return None

    # The limits (sirocco.limits.Limits, docs/limits.md); -1 means no limit.
    expression_max_items: int = Field(default=DEFAULT_LIMITS.expression_max_items, ge=-1)
    expression_max_bytes: int = Field(default=DEFAULT_LIMITS.expression_max_bytes, ge=-1)
    expression_timeout: float = Field(default=DEFAULT_LIMITS.expression_timeout, ge=-1)
    step_expression_timeout: float = Field(default=DEFAULT_LIMITS.step_expression_timeout, ge=-1)
    with_items_max_items: int = Field(default=DEFAULT_LIMITS.with_items_max_items, ge=-1)
    subworkflow_max_depth: int = Field(default=DEFAULT_LIMITS.subworkflow_max_depth, ge=-1)
    field_size_limit_kb: int = Field(default=DEFAULT_LIMITS.field_size_limit_kb, ge=-1)
    request_max_bytes: int = Field(default=DEFAULT_LIMITS.request_max_bytes, ge=-1)
    javascript_timeout: float = Field(default=DEFAULT_LIMITS.javascript_timeout, ge=-1)
    javascript_max_memory_mb: int = Field(default=DEFAULT_LIMITS.javascript_max_memory_mb, ge=-1)

    def in_flight(self) -> InFlightLimits:
        """The back-pressure limits of ``POST /v2/executions``."""
        return InFlightLimits(
            executions=self.max_executions_in_flight, actions=self.max_actions_in_flight
        )

    def expiration_policy(self) -> Any:
        """The execution expiration policy (``sirocco.store.expiration.Policy``)."""
        from datetime import timedelta

        from sirocco.store import expiration

        older = self.expiration_older_than
        return expiration.Policy(
            older_than=timedelta(minutes=older) if older is not None else None,
            max_finished_executions=self.expiration_max_finished_executions,
            batch_size=self.expiration_batch_size,
            ignored_states=tuple(
                state.strip()
                for state in self.expiration_ignored_states.split(",")
                if state.strip()
            ),
            rules=tuple(
                expiration.Rule(
                    workflow=rule.workflow,
                    state=rule.state,
                    older_than=timedelta(minutes=rule.older_than),
                )
                for rule in expiration_rules(self.expiration_rules)
            ),
        )

    def limits(self) -> Limits:
        """The limits these settings give (:mod:`sirocco.limits`)."""
        return Limits(
            **{field.name: getattr(self, field.name) for field in dataclasses.fields(Limits)}
        )

    auth: Literal["none", "tokens", "keystone", "oidc"] | None = None
    keystone_url: str | None = None
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_project_claim: str = "project_id"
    policy_file: str | None = None
    secret_keys: str = "password,token,secret,auth"
    # Mistral's [execution_expiration_policy]: minutes, counts, comma-separated states.
    expiration_older_than: float | None = Field(default=None, ge=0)
    expiration_max_finished_executions: int | None = Field(default=None, ge=0)
    expiration_batch_size: int = Field(default=0, ge=0)
    expiration_ignored_states: str = ""
    expiration_interval: float = Field(default=60.0, gt=0)
    #: Mistral's ``[api] enable_info_endpoint`` and ``info_json_file_path``: ``GET /info``
    #: answers the JSON file's content when enabled, 400 otherwise (Mistral's default).
    enable_info_endpoint: bool = False
    info_json_file_path: str = "info.json"
    #: Seconds between integrity checks of ``server`` and ``engine`` (0: none).
    integrity_interval: float = Field(default=60.0, ge=0)
    #: Rules over ``expiration_older_than`` for some workflows or states (``;``-separated
    #: rules of ``key=value,...`` with the keys of :data:`RULE_KEYS`).
    expiration_rules: str = ""
    #: A file to which each expired execution is appended as one JSON line before deletion.
    expiration_export: str | None = None
    #: Log level of every command (``--log-level`` wins); unset: WARNING for the short
    #: commands, INFO for the long-running roles.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None
    #: ``text`` (one line per record) or ``json`` (one JSON object per record).
    log_format: Literal["text", "json"] = "text"
    #: Distinct workflow (and action) names used as metric labels; further ones are ``other``.
    metrics_max_label_values: int = Field(default=100, ge=1)
    #: OpenTelemetry traces (``sirocco.runtime.tracing``): off, on standard error, or OTLP.
    tracing: Literal["none", "console", "otlp"] = "none"

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, self.check(field.name, getattr(self, field.name)))

    @classmethod
    def check(cls, name: str, value: object) -> object:
        """``value`` as the setting ``name`` holds it (text converted).

        Raises:
            ConfigurationError: the wrong type, out of bounds, or (rules) malformed.
        """
        field = cls.__dataclass_fields__[name]
        checked = _checked(name, value, _hints()[name])
        _check_bounds(name, checked, field.metadata)
        if name == "expiration_rules":
            expiration_rules(str(checked))
        return checked

    @classmethod
    def names(cls) -> list[str]:
        """The name of every setting (``SIROCCO_<NAME>`` is its variable)."""
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def load(
        cls, overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from ``environ`` (default: the process environment), then ``overrides``.

        Raises:
            ConfigurationError: a value of the wrong type or out of bounds, or an unknown name.
        """
        environ = os.environ if environ is None else environ
        names = cls.names()
        values: dict[str, object] = {}
        for name in names:
            variable = f"SIROCCO_{name.upper()}"
            if environ.get(variable):
                values[name] = environ[variable]
        values.update({key: value for key, value in (overrides or {}).items() if value is not None})
        for name in values:
            if name not in names:
                raise errors.ConfigurationError(f"Invalid setting {name}: no such setting")
        return cls(**values)  # type: ignore[arg-type]


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


def hint(name: str) -> Any:
    """The type of the setting ``name``."""
    return _hints()[name]


#: The keys of one expiration rule: which executions (a workflow name, ``*`` matching
#: any characters, and/or a finished state) and after how many minutes they expire.
RULE_KEYS = ("workflow", "state", "older_than")
_FINISHED = ("SUCCESS", "ERROR", "CANCELLED")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExpirationRule:
    """One rule of ``expiration_rules``: None matches any workflow or any state."""

    workflow: str | None
    state: str | None
    older_than: float


def expiration_rules(text: str) -> tuple[ExpirationRule, ...]:
    """The rules of ``SIROCCO_EXPIRATION_RULES``: ``;`` between rules, ``,`` between the
    ``key=value`` of one (``state=ERROR,older_than=10080;workflow=nightly_*,older_than=60``).

    Raises:
        ConfigurationError: a rule without ``older_than``, with neither ``workflow`` nor
            ``state``, or with an unknown key, a state that is not finished, a bad number.
    """
    rules = []
    for number, part in enumerate((p for p in text.split(";") if p.strip()), start=1):
        where = f"Invalid setting expiration_rules: rule {number} ({part.strip()})"
        fields: dict[str, str] = {}
        for item in part.split(","):
            key, equals, value = item.partition("=")
            key = key.strip()
            if not equals or key not in RULE_KEYS or not value.strip():
                raise errors.ConfigurationError(
                    f"{where}: expected {'=..., '.join(RULE_KEYS)}=..., not {item.strip()!r}"
                )
            fields[key] = value.strip()
        state = fields.get("state", "").upper() or None
        if state is not None and state not in _FINISHED:
            raise errors.ConfigurationError(
                f"{where}: state should be one of {', '.join(_FINISHED)}"
            )
        if "older_than" not in fields or not (state or fields.get("workflow")):
            raise errors.ConfigurationError(
                f"{where}: a rule needs older_than and a workflow, a state or both"
            )
        try:
            older_than = float(fields["older_than"])
        except ValueError:
            older_than = -1
        if older_than < 0:
            raise errors.ConfigurationError(
                f"{where}: older_than should be minutes (a number, 0 or more)"
            )
        rules.append(
            ExpirationRule(workflow=fields.get("workflow"), state=state, older_than=older_than)
        )
    return tuple(rules)


def _checked(name: str, value: object, hint: Any) -> object:
    """``value`` as the type ``hint`` names (text from a variable converted), else an error."""
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    if value is None and type(None) in options:
        return None
    problems = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _as(option, value)
        except (TypeError, ValueError) as problem:
            problems.append(str(problem))
    raise errors.ConfigurationError(f"Invalid setting {name}: {'; '.join(problems)}")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _as(kind: Any, value: object) -> object:
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        for choice in choices:  # any case: SIROCCO_LOG_LEVEL=info is INFO, as --log-level
            if isinstance(value, str) and value.lower() == str(choice).lower():
                return choice
        raise ValueError(f"Input should be one of {', '.join(map(repr, choices))}")
    if kind is bool:
        return _as_bool(value)
    if kind is str:
        if not isinstance(value, str):
            raise TypeError("Input should be a valid string")
        return value
    if isinstance(value, bool):
        raise TypeError(f"Input should be a valid {'integer' if kind is int else 'number'}")
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int | str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ValueError(f"Input should be a valid integer, not {value!r}")
    if kind is float:
        if isinstance(value, int | float | str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"Input should be a valid number, not {value!r}")
    raise TypeError(f"unsupported setting type {kind!r}")


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _as_bool(value: object) -> bool:
    """A yes/no setting: a bool, or its text (``true``/``false``, ``1``/``0``, ``yes``/``no``,
    ``on``/``off``, any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"Input should be true or false, not {value!r}")


def _check_bounds(name: str, value: object, bounds: Mapping[str, float]) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    rules = {
        "ge": (value >= bounds.get("ge", value), "greater than or equal to"),
        "gt": (value > bounds["gt"] if "gt" in bounds else True, "greater than"),
        "le": (value <= bounds.get("le", value), "less than or equal to"),
    }
    for key, (holds, words) in rules.items():
        if not holds:
            raise errors.ConfigurationError(
                f"Invalid setting {name}: Input should be {words} {bounds[key]:g}"
            )
