"""Settings of a Sirocco process, from command-line options over ``SIROCCO_*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sirocco import errors


class Settings(BaseModel):
    """Everything a process needs to know about its surroundings.

    Environment variables: ``SIROCCO_DB`` (database URL or SQLite file),
    ``SIROCCO_TRANSPORT`` (``memory://`` or an AMQP URL), ``SIROCCO_EXECUTOR_WORKERS``
    (threads running actions), ``SIROCCO_EXECUTOR_TARGET`` (the name this executor
    serves, Mistral's ``target``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    db: str | None = None
    transport: str = "memory://"
    executor_workers: int = Field(default=32, ge=1, le=1024)
    executor_target: str | None = None

    @classmethod
    def load(
        cls, overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from ``environ`` (default: the process environment), then ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            variable = f"SIROCCO_{name.upper()}"
            if environ.get(variable):
                values[name] = environ[variable]
        values.update({key: value for key, value in (overrides or {}).items() if value is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise errors.ConfigurationError(f"Invalid setting {where}: {problem['msg']}") from exc
