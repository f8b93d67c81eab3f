"""The config file ``sirocco.toml``: every setting in sections, below variables and flags.

Which file: ``--config PATH``, else ``SIROCCO_CONFIG``, else ``./sirocco.toml`` when
there is one (none: the defaults). A named file that is missing is an error; the
implicit ``./sirocco.toml`` is only read when present.

Each setting ``NAME`` of :class:`sirocco.settings.Settings` has one place in the file,
``[section] key`` (:func:`place`): ``db`` is ``[database] url``, ``heartbeat_interval``
is ``[heartbeat] interval``, the limits are ``[limits]`` under their own names... The
file fills in the ``SIROCCO_*`` variables that are not set (:func:`apply`), so the
precedence is flags > environment > file > defaults, for this process and every
process it starts, and for the few readers below the settings (the database's
default URL, masking, metrics) as much as for :class:`Settings`.

Parsing is the standard library's ``tomllib``; the values are then checked against
the settings' types strictly (``workers = "8"`` is a string, not a number) and
against their bounds, and an unknown section or key is an error naming the file and
the key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, Literal

from sirocco import errors

FILE_NAME = "sirocco.toml"
CONFIG_ENV = "SIROCCO_CONFIG"

#: Settings whose place is not ``[first word] rest of the name``.
_PLACES: dict[str, tuple[str, str]] = {
    "db": ("database", "url"),
    "transport": ("transport", "url"),
    "auth": ("auth", "mode"),
    "keystone_url": ("auth", "keystone_url"),
    "oidc_issuer": ("auth", "oidc_issuer"),
    "oidc_jwks_url": ("auth", "oidc_jwks_url"),
    "oidc_audience": ("auth", "oidc_audience"),
    "oidc_project_claim": ("auth", "oidc_project_claim"),
    "policy_file": ("auth", "policy_file"),
    "secret_keys": ("logging", "secret_keys"),
    "claim_seconds": ("engine", "claim_seconds"),
    "max_executions_in_flight": ("limits", "max_executions_in_flight"),
    "max_actions_in_flight": ("limits", "max_actions_in_flight"),
    "log_level": ("logging", "level"),
    "log_format": ("logging", "format"),
    "enable_info_endpoint": ("api", "enable_info_endpoint"),
    "info_json_file_path": ("api", "info_json_file_path"),
    "tracing": ("tracing", "mode"),
    "event_definitions": ("events", "definitions"),
}

#: Comma-separated settings that the file may also give as an array of strings.
_LISTS = frozenset({"expiration_ignored_states", "secret_keys"})
#: Settings the file gives as an array of tables (``[[expiration.rules]]``).
_RULES = frozenset({"expiration_rules"})


def place(name: str) -> tuple[str, str]:
    """The ``[section]`` and key of the setting ``name`` in the file."""
    from sirocco.limits import Limits

    if name in _PLACES:
        return _PLACES[name]
    if name in Limits.__dataclass_fields__:
        return "limits", name
    section, _, key = name.partition("_")
    return section, key or name


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigFile:
    """A config file read and checked: its path and each setting's value, as text."""

    path: Path
    values: Mapping[str, str]


def locate(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: ``explicit``, else ``SIROCCO_CONFIG``, else
    ``./sirocco.toml`` when it exists, else None.

    Raises:
        ConfigurationError: the named file does not exist.
    """
    environ = os.environ if environ is None else environ
    named = explicit or environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise errors.ConfigurationError(f"config file {named} not found")
        return path
    default = Path(FILE_NAME)
    return default if default.is_file() else None


def read(path: Path) -> ConfigFile:
    """The settings ``path`` gives, checked.

    Raises:
        ConfigurationError: the file can't be read or parsed, or a section, key or
            value is wrong (the message names the file and ``[section] key``).
    """
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise errors.ConfigurationError(f"can't read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise errors.ConfigurationError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise errors.ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    return ConfigFile(path, _values(path, data))


def _values(path: Path, data: Mapping[str, Any]) -> dict[str, str]:
    from sirocco.settings import Settings

    names = {place(name): name for name in Settings.names()}
    sections = sorted({section for section, _ in names})
    values: dict[str, str] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise errors.ConfigurationError(
                f"{path}: '{section}' must be a [section] (one of {', '.join(sections)})"
            )
        if section not in sections:
            raise errors.ConfigurationError(
                f"{path}: unknown section [{section}] (known: {', '.join(sections)})"
            )
        for key, value in table.items():
            name = names.get((section, key))
            if name is None:
                known = ", ".join(sorted(k for s, k in names if s == section))
                raise errors.ConfigurationError(
                    f"{path}: unknown key '{key}' in [{section}] (known: {known})"
                )
            values[name] = _text(path, f"[{section}] {key}", name, value)
    return values


def _text(path: Path, where: str, name: str, value: Any) -> str:
    """``value`` checked strictly against the setting's type, then as the text of its
    ``SIROCCO_*`` variable (checked again, with the bounds, by the settings)."""
    from sirocco import settings

    if name in _RULES:
        text = _rules_text(path, where, value)
    elif name in _LISTS and isinstance(value, list):
        if not all(isinstance(item, str) and "," not in item for item in value):
            raise errors.ConfigurationError(
                f"{path}: {where}: Input should be a list of names (or one comma-separated text)"
            )
        text = ",".join(value)
    else:
        text = _scalar_text(path, where, settings.hint(name), value)
    try:
        settings.Settings.check(name, text)
    except errors.ConfigurationError as exc:
        detail = exc.message.split(": ", 1)[-1]
        raise errors.ConfigurationError(f"{path}: {where}: {detail}") from None
    return text


def _scalar_text(path: Path, where: str, hint: Any, value: Any) -> str:
    import types
    import typing

    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    kinds = [kind for kind in options if kind is not type(None)]
    for kind in kinds:
        if typing.get_origin(kind) is Literal:
            for choice in typing.get_args(kind):  # "info" is INFO, as on the command line
                if isinstance(value, str) and value.lower() == str(choice).lower():
                    return str(choice)
            continue
        if kind is str and isinstance(value, str):
            return value
        if kind is bool and isinstance(value, bool):
            return "true" if value else "false"
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return repr(float(value))
    wanted = " or ".join(_kind_name(kind) for kind in kinds)
    raise errors.ConfigurationError(
        f"{path}: {where}: Input should be {wanted}, not {type(value).__name__} {value!r}"
    )


def _kind_name(kind: Any) -> str:
    import typing

    if typing.get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(choice) for choice in typing.get_args(kind))
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return names.get(kind, str(kind))


def _rules_text(path: Path, where: str, value: Any) -> str:
    """``[[expiration.rules]]`` tables as the text of ``SIROCCO_EXPIRATION_RULES``."""
    from sirocco import settings

    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise errors.ConfigurationError(
            f"{path}: {where}: Input should be tables ([[expiration.rules]]) or a text"
        )
    rules = []
    for number, table in enumerate(value, start=1):
        fields = []
        for key, item in table.items():
            if key not in settings.RULE_KEYS:
                raise errors.ConfigurationError(
                    f"{path}: {where} #{number}: unknown key '{key}' "
                    f"(known: {', '.join(settings.RULE_KEYS)})"
                )
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise errors.ConfigurationError(
                    f"{path}: {where} #{number}: {key} should be a text or a number"
                )
            if isinstance(item, str) and any(mark in item for mark in ",;="):
                raise errors.ConfigurationError(
                    f"{path}: {where} #{number}: {key} may not contain ',', ';' or '='"
                )
            fields.append(f"{key}={item}")
        rules.append(",".join(fields))
    return ";".join(rules)


def apply(found: ConfigFile, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set the ``SIROCCO_*`` variable of each setting the file gives, unless it is set
    already (the environment wins); the names of the variables set."""
    environ = os.environ if environ is None else environ
    applied = []
    for name, text in found.values.items():
        variable = f"SIROCCO_{name.upper()}"
        if not environ.get(variable):
            environ[variable] = text
            applied.append(variable)
    return applied


@dataclasses.dataclass(frozen=True, slots=True)
class Effective:
    """One setting's value and where it came from."""

    name: str
    value: object
    origin: str


def effective(
    found: ConfigFile | None,
    environ: Mapping[str, str],
    flags: Mapping[str, object] | None = None,
) -> list[Effective]:
    """Every setting's effective value and its origin: a flag, ``SIROCCO_NAME``, the
    file's ``[section] key`` or the default. ``environ`` is the environment without the
    file's values.

    Raises:
        ConfigurationError: the values make no valid settings.
    """
    from sirocco.settings import Settings

    flags = {key: value for key, value in (flags or {}).items() if value is not None}
    merged = dict(environ)
    if found is not None:
        apply(found, merged)
    settings = Settings.load(flags, merged)
    rows = []
    for name in Settings.names():
        variable = f"SIROCCO_{name.upper()}"
        if name in flags:
            origin = "flag"
        elif environ.get(variable):
            origin = f"environment {variable}"
        elif found is not None and name in found.values:
            section, key = place(name)
            origin = f"{found.path} [{section}] {key}"
        else:
            origin = "default"
        rows.append(Effective(name, getattr(settings, name), origin))
    return rows
