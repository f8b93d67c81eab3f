"""The root of Sirocco's error tree; no HTTP codes here.

    SiroccoError
    ├── DefinitionError          a workflow, action or workbook text is invalid (lang)
    ├── ExpressionError
    │   └── ExpressionEvaluationError an expression failed while evaluating
    ├── InputError               workflow or action input does not match its declaration
    │   └── SizeLimitError       a value is larger than the field size limit
    ├── ActionError
    │   ├── ActionNotFoundError  no action with that name
    │   └── ActionInputError     the action's parameters do not match its signature
    ├── NotFoundError            an object asked for by name or id does not exist
    ├── ConflictError            an object with that name already exists / is in use
    ├── InvalidStateError        the requested state change is not allowed
    ├── ConfigurationError       settings or environment are wrong
    └── UnavailableError         the work can't be taken now; the same request may succeed later
        └── OverloadedError      too much work in flight: back-pressure

Only ``sirocco.api.errors`` maps these to HTTP status codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SiroccoError(Exception):
    """Sirocco failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One problem found in a definition: where it is and what is wrong."""

    message: str
    path: str = ""
    line: int | None = None
    source: str = ""

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.path:
            where.append(self.path)
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class DefinitionError(SiroccoError):
    """The definition is invalid."""

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(message=problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "The definition is invalid.")


class ExpressionError(SiroccoError):
    """An expression could not be used."""


class ExpressionEvaluationError(ExpressionError):
    """An expression failed while evaluating."""


class InputError(SiroccoError):
    """The input does not match the declaration."""


class SizeLimitError(InputError):
    """A value is larger than the field size limit."""


class ActionError(SiroccoError):
    """The action could not be run."""


class ActionNotFoundError(ActionError):
    """No action with that name."""


class ActionInputError(ActionError):
    """The action's parameters do not match its signature."""


class NotFoundError(SiroccoError):
    """The object does not exist."""


class ConflictError(SiroccoError):
    """The object already exists or is in use."""


class InvalidStateError(SiroccoError):
    """The requested state change is not allowed."""


class ConfigurationError(SiroccoError):
    """The configuration is wrong."""


class UnavailableError(SiroccoError):
    """The service can't take this request now (its database can't be reached); try again
    later."""

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OverloadedError(UnavailableError):
    """Too much work is in flight; try again later."""
