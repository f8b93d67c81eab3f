"""Who may do what: Mistral's policy defaults in one table, overridable by a policy file.

Each API operation has a rule name, as in Mistral (``workflows:list``,
``executions:delete``, ``workflows:list:all_projects``...). A rule is a small
expression: ``@`` (anyone), ``!`` (no one), ``is_admin:True``, ``role:NAME``,
``project_id:%(project_id)s`` (the caller owns the target), ``rule:NAME`` (another
rule, e.g. ``rule:admin_only``), joined with ``or`` / ``and`` (``and`` binds
tighter). A policy file (``SIROCCO_POLICY_FILE``, JSON or YAML, as oslo.policy
reads them) maps rule names to expressions and replaces those defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from sirocco import errors
from sirocco.api.errors import ApiError
from sirocco.api.identity import Caller

ADMIN_ONLY = "is_admin:True"
ADMIN_OR_OWNER = "is_admin:True or project_id:%(project_id)s"

_OWNER = "rule:admin_or_owner"
_ADMIN = "rule:admin_only"


def _crud(resource: str, *operations: str) -> dict[str, str]:
    return {f"{resource}:{operation}": _OWNER for operation in operations}


_CODE_OPERATIONS = ("create", "delete", "get", "list", "publicize", "update")

#: Mistral's defaults (``mistral/policies/*.py``).
DEFAULTS: Mapping[str, str] = {
    "admin_only": ADMIN_ONLY,
    "admin_or_owner": ADMIN_OR_OWNER,
    **_crud("action_executions", "create", "delete", "get", "list", "update"),
    "action_executions:list:all_projects": _ADMIN,
    **_crud("actions", "create", "delete", "get", "list", "publicize", "update"),
    "actions:list:all_projects": _ADMIN,
    **_crud("cron_triggers", "create", "delete", "get", "list", "publicize"),
    "cron_triggers:list:all_projects": _ADMIN,
    **_crud("environments", "create", "delete", "get", "list", "update"),
    **_crud("event_triggers", "create", "delete", "get", "list", "update"),
    "event_triggers:create:public": _ADMIN,
    "event_triggers:fire": _OWNER,  # Sirocco's POST /v2/event_triggers/{id}/events
    "event_triggers:list:all_projects": _ADMIN,
    **_crud("executions", "create", "delete", "get", "list", "update"),
    "executions:list:all_projects": _ADMIN,
    **_crud("members", "create", "delete", "get", "list", "update"),
    **_crud("tasks", "get", "list", "update"),
    "tasks:list:all_projects": _ADMIN,
    **_crud("workbooks", "create", "delete", "get", "list", "publicize", "update"),
    "workbooks:list:all_projects": _ADMIN,
    **_crud("workflows", "create", "delete", "get", "list", "publicize", "update"),
    "workflows:list:all_projects": _ADMIN,
    # Uploaded code runs on the executors: administrators only, as in Mistral.
    **{f"code_sources:{operation}": _ADMIN for operation in _CODE_OPERATIONS},
    **{f"dynamic_actions:{operation}": _ADMIN for operation in _CODE_OPERATIONS},
    # Sirocco's own rule: Mistral lets any authenticated caller switch maintenance mode.
    "maintenance:update": _ADMIN,
}


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules in force: Mistral's defaults, with a policy file's rules over them."""

    rules: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    #: Decisions already taken, by (rule, caller, owner): the rules never change, and a
    #: caller is a frozen value, so each request's check is one dictionary look-up.
    _decisions: dict[tuple[str, Caller, str], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def defaults(cls) -> Policy:
        return cls()

    @classmethod
    def from_file(cls, path: str | None) -> Policy:
        """The defaults with the rules of ``path`` (JSON or YAML) over them."""
        if not path:
            return cls()
        try:
            text = Path(path).read_text(encoding="utf-8")
            given = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise errors.ConfigurationError(f"Can't read the policy file {path}: {exc}") from exc
        if not isinstance(given, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in given.items()
        ):
            raise errors.ConfigurationError(
                f"The policy file {path} must map rule names to rule strings."
            )
        policy = cls({**DEFAULTS, **given})
        for name in given:
            policy.check(name, Caller(project_id="check"), owner="check")  # parse every rule
        return policy

    def allows(self, name: str, caller: Caller, *, owner: str | None = None) -> bool:
        """Whether rule ``name`` lets ``caller`` act on a target of project ``owner``
        (the caller's own project when None). An unknown rule allows nothing."""
        key = (name, caller, owner or caller.project_id)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self.check(name, caller, owner=key[2])
            if len(self._decisions) >= 10_000:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def enforce(self, name: str, caller: Caller, *, owner: str | None = None) -> None:
        """403 in Mistral's (oslo.policy's) words when the rule does not allow it."""
        if not caller.authenticated:
            return  # no authentication: Mistral enforces no policy either
        if not self.allows(name, caller, owner=owner):
            raise ApiError(f"Policy doesn't allow {name} to be performed.", 403)

    def check(self, name: str, caller: Caller, *, owner: str, depth: int = 0) -> bool:
        rule = self.rules.get(name)
        if rule is None or depth > 10:
            return False
        return any(
            all(self._term(term, caller, owner, depth) for term in part) for part in _parsed(rule)
        )

    def _term(self, term: str, caller: Caller, owner: str, depth: int) -> bool:
        if term in ("@", ""):
            return True
        if term == "!":
            return False
        kind, _, value = term.partition(":")
        if kind == "rule":
            return self.check(value, caller, owner=owner, depth=depth + 1)
        if kind == "is_admin":
            return caller.is_admin == (value.lower() == "true")
        if kind == "role":
            return value in caller.roles
        if kind == "project_id":
            return caller.project_id == (owner if value == "%(project_id)s" else value)
        raise errors.ConfigurationError(f"Unknown policy term: {term}")


@lru_cache(maxsize=1024)
def _parsed(rule: str) -> tuple[tuple[str, ...], ...]:
    """A rule's ``or`` parts, each a tuple of its ``and`` terms (split once per rule text,
    not on every request)."""
    return tuple(tuple(term.strip() for term in part.split(" and ")) for part in rule.split(" or "))
