"""The ``sirocco`` command: validate, run, resume, server roles and database upgrade."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from sirocco import errors, masking
from sirocco.cli import config, inspect, timeline, tokens

if TYPE_CHECKING:
    from sirocco.config import ConfigFile
    from sirocco.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PAUSED = 0, 1, 2, 3


#: The live view on the terminal, if any: closed (and cleared) before an error line.
_views: list[Any] = []


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One readable line on stderr and a non-zero exit; never a traceback."""
    _close_views()
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    click.echo(f"sirocco: {line}", err=True)
    sys.exit(code)


def _stopped_following(stopped: Any) -> NoReturn:
    """Say why the command stopped following the execution. After Ctrl-C, leave at once:
    the actions still running in this process's threads are abandoned (the message says
    what becomes of them), where a normal exit would wait for each to finish."""
    if not stopped.interrupted:
        fail(stopped.message, stopped.exit_code)
    try:
        fail(stopped.message, stopped.exit_code)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(stopped.exit_code)


@contextlib.contextmanager
def _quiet_execution_log(context: click.Context) -> Iterator[None]:
    """``run`` and ``resume`` print how the execution ended; unless a log level was asked
    for, the log line of the same failure would only say it twice."""
    logger = logging.getLogger("sirocco.executions")
    level = logger.level
    if _asked_log_level(context) is None:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _live_view(source: str, as_json: bool) -> Any:
    """The live view, on at once when stdout is a terminal and no JSON is asked for."""
    if as_json or not sys.stdout.isatty():
        return None
    from sirocco.cli.live import LiveView

    view = LiveView(source)
    _views.append(view)
    return view


def _close_views() -> None:
    """Close the live view without leaving its frame (a finished run closed it already,
    keeping its last frame)."""
    while _views:
        _views.pop().close(keep=False)


@dataclass(frozen=True, slots=True)
class Invocation:
    """What the ``sirocco`` group found before its command runs: the config file (None:
    none), the environment before the file filled it in, and the log level asked for
    (None: the command's default)."""

    config: ConfigFile | None
    environ: dict[str, str]
    log_level: str | None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sirocco")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Settings file (TOML); default SIROCCO_CONFIG, else ./sirocco.toml if present.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Log level (default SIROCCO_LOG_LEVEL, else WARNING; INFO for the server roles).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="Log one text line or one JSON object per record (default SIROCCO_LOG_FORMAT, text).",
)
@click.pass_context
def main(
    context: click.Context, config_path: str | None, log_level: str | None, log_format: str | None
) -> None:
    """Sirocco: run Mistral v2 workflows, embedded or as a Mistral-compatible service."""
    from sirocco import config as config_file
    from sirocco.cli import logformat

    environ = dict(os.environ)
    try:
        found = config_file.locate(config_path)
        loaded = config_file.read(found) if found is not None else None
    except errors.SiroccoError as exc:
        fail(exc.message)
    if loaded is not None:
        applied = config_file.apply(loaded)
        context.call_on_close(lambda: [os.environ.pop(name, None) for name in applied])
    level = log_level or _checked_setting("log_level", os.environ.get("SIROCCO_LOG_LEVEL"))
    form = log_format or _checked_setting("log_format", os.environ.get("SIROCCO_LOG_FORMAT"))
    context.obj = Invocation(loaded, environ, level.upper() if level else None)
    logformat.configure(level or "WARNING", form or "text")
    masking.install(masking.configured_parts())


def _checked_setting(name: str, value: str | None) -> str | None:
    """A setting's variable checked as the settings would (one line if wrong)."""
    if not value:
        return None
    from sirocco.settings import Settings

    try:
        return str(Settings.check(name, value))
    except errors.SiroccoError as exc:
        fail(exc.message)


def _asked_log_level(context: click.Context) -> str | None:
    """The log level given to the ``sirocco`` group (flag, variable or file), if any."""
    root = context.find_root()
    return root.obj.log_level if isinstance(root.obj, Invocation) else None


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check workflow, action and workbook files; exit 0 only if all are valid."""
    from sirocco.cli.validate import validate_command

    sys.exit(validate_command(list(files)))


def _json_argument(value: str | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            fail(f"can't read {what} file {value[1:]}: {exc.strerror}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    if not isinstance(data, dict):
        fail(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--workflow", "workflow_name", help="Workflow to run when the file has several.")
@click.option("--input", "input_text", help="Workflow input: JSON, or @file.json.")
@click.option("--env", "env_text", help="Environment (env()): JSON, or @file.json.")
@click.option("--param", "params", multiple=True, help="Start parameter NAME=VALUE (task_name=X).")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the result.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait for the end.")
@click.pass_context
def run(
    context: click.Context,
    file: str,
    workflow_name: str | None,
    input_text: str | None,
    env_text: str | None,
    params: tuple[str, ...],
    db_url: str | None,
    as_json: bool,
    timeout: float,
) -> None:
    """Run a workflow from FILE to its end and print its output.

    Reverse workflows need --param task_name=NAME, the task to reach.
    """
    view = _live_view(file, as_json)
    try:
        with _quiet_execution_log(context):
            code = _run(
                file,
                workflow_name=workflow_name,
                input_text=input_text,
                env_text=env_text,
                params=params,
                db_url=db_url,
                as_json=as_json,
                timeout=timeout,
                view=view,
            )
    finally:
        _close_views()
    sys.exit(code)


def _run(
    file: str,
    *,
    workflow_name: str | None,
    input_text: str | None,
    env_text: str | None,
    params: tuple[str, ...],
    db_url: str | None,
    as_json: bool,
    timeout: float,
    view: Any,
) -> int:
    from sirocco.cli import running

    workflow_input = _json_argument(input_text, "--input")
    start_params: dict[str, Any] = {}
    if env_text is not None:
        start_params["env"] = _json_argument(env_text, "--env")
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--param must look like NAME=VALUE, not {item!r}")
        start_params[name] = value
    try:
        text = Path(file).read_text()
    except OSError as exc:
        fail(f"can't read {file}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{file} is not a text file")
    try:
        code = running.run_file(
            text,
            source=file,
            workflow_name=workflow_name,
            workflow_input=workflow_input,
            params=start_params,
            db_url=db_url,
            as_json=as_json,
            timeout=timeout,
            view=view,
        )
    except running.StoppedFollowing as exc:
        _stopped_following(exc)
    except errors.SiroccoError as exc:
        fail(exc.message)
    return code


@main.command()
@click.argument("execution_id")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
@click.option("--env", "env_text", help="Environment to merge on resume: JSON, or @file.json.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the result.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait for the end.")
@click.pass_context
def resume(
    context: click.Context,
    execution_id: str,
    db_url: str | None,
    env_text: str | None,
    as_json: bool,
    timeout: float,
) -> None:
    """Resume a paused execution (or take over one that a dead process left RUNNING) and
    follow it to its end."""
    env = _json_argument(env_text, "--env") if env_text is not None else None
    _live_view(execution_id, as_json)
    try:
        with _quiet_execution_log(context):
            code = _resume(execution_id, db_url=db_url, env=env, as_json=as_json, timeout=timeout)
    finally:
        _close_views()
    sys.exit(code)


def _resume(
    execution_id: str,
    *,
    db_url: str | None,
    env: dict[str, Any] | None,
    as_json: bool,
    timeout: float,
) -> int:
    from sirocco.cli import running

    try:
        return running.resume_execution(
            execution_id,
            db_url=db_url,
            env=env,
            as_json=as_json,
            timeout=timeout,
            view=_views[-1] if _views else None,
        )
    except running.StoppedFollowing as exc:
        _stopped_following(exc)
    except errors.SiroccoError as exc:
        fail(exc.message)


_limit_option = click.option(
    "--limit",
    "limit_values",
    multiple=True,
    metavar="NAME=VALUE",
    help="A limit of docs/limits.md over its SIROCCO_<NAME> (expression_timeout=5); repeatable.",
)


def _limits(values: tuple[str, ...]) -> dict[str, object]:
    """``--limit NAME=VALUE`` options as settings overrides (checked by the settings)."""
    from sirocco import limits

    known = limits.Limits.__dataclass_fields__
    found: dict[str, object] = {}
    for value in values:
        name, equals, given = value.partition("=")
        name = name.strip().lower().removeprefix("sirocco_")
        if not equals or name not in known:
            fail(f"--limit {value}: expected NAME=VALUE, NAME one of {', '.join(known)}")
        found[name] = given.strip()
    return found


def _role_settings(db_url: str | None, **overrides: object) -> Settings:
    from sirocco.settings import Settings

    try:
        return Settings.load({"db": db_url, **overrides})
    except errors.SiroccoError as exc:
        fail(exc.message)


def _server_log_level(context: click.Context) -> str:
    """The level of a long-running role: its own --log-level, else the group's (flag,
    ``SIROCCO_LOG_LEVEL`` or the config file), else INFO (a line per request and per
    state change)."""
    level = str(context.params.get("role_log_level") or _asked_log_level(context) or "INFO")
    logging.getLogger().setLevel(level.upper())
    return level


_role_log_level = click.option(
    "--log-level",
    "role_log_level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Log level of this process (default INFO).",
)


_health_port = click.option(
    "--health-port",
    type=click.IntRange(1, 65535),
    envvar="SIROCCO_HEALTH_PORT",
    help="Serve GET /live, GET /health and GET /ready on this port (127.0.0.1).",
)


_transport = click.option(
    "--transport",
    help="How roles hand work over: amqp://user:pass@host:5672// (RabbitMQ), or the "
    "database alone (default; PostgreSQL wakes the roles with LISTEN/NOTIFY). "
    "Also SIROCCO_TRANSPORT.",
)


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """What ``sirocco server`` and ``sirocco api`` are told about serving HTTP."""

    host: str
    port: int
    db_url: str | None
    access_log: bool
    auth: str | None = None
    insecure_no_auth: bool = False
    limit_values: tuple[str, ...] = ()

    def settings(self, **more: object) -> Settings:
        """The process settings, with ``--db``, ``--auth``, ``--limit`` (and ``more``, where
        given) over ``SIROCCO_*``."""
        return _role_settings(self.db_url, auth=self.auth, **_limits(self.limit_values), **more)


def _http_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add --host, --port, --db, --access-log, --auth and --insecure-no-auth, given to
    ``command`` as ``http``."""

    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8989, show_default=True, type=int)
    @click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
    @click.option(
        "--access-log/--no-access-log",
        default=False,
        show_default=True,
        help="Log one line per HTTP request.",
    )
    @click.option(
        "--auth",
        type=click.Choice(["none", "tokens", "keystone", "oidc"]),
        envvar="SIROCCO_AUTH",
        help="How callers authenticate (default: none on 127.0.0.1/::1, tokens elsewhere).",
    )
    @click.option(
        "--insecure-no-auth",
        is_flag=True,
        help="Allow --auth none on an address other machines can reach.",
    )
    @_limit_option
    @functools.wraps(command)
    def with_http(
        *args: Any,
        host: str,
        port: int,
        db_url: str | None,
        access_log: bool,
        auth: str | None,
        insecure_no_auth: bool,
        limit_values: tuple[str, ...],
        **kwargs: Any,
    ) -> None:
        http = HttpOptions(host, port, db_url, access_log, auth, insecure_no_auth, limit_values)
        command(*args, http=http, **kwargs)

    return with_http


@main.command()
@_role_log_level
@_http_options
@click.pass_context
def server(context: click.Context, http: HttpOptions, role_log_level: str | None) -> None:
    """Serve Mistral's REST API v2 with the engine, executor and timers in this process."""
    from sirocco.cli.server import serve

    try:
        serve(
            host=http.host,
            port=http.port,
            db_url=http.db_url,
            log_level=_server_log_level(context),
            access_log=http.access_log,
            settings=http.settings(),
            insecure_no_auth=http.insecure_no_auth,
        )
    except errors.SiroccoError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"can't serve on {http.host}:{http.port}: {exc.strerror or exc}")


@main.command()
@_role_log_level
@_transport
@_http_options
@click.pass_context
def api(
    context: click.Context, http: HttpOptions, role_log_level: str | None, transport: str | None
) -> None:
    """The REST API alone (engines, executors and a scheduler run elsewhere)."""
    from sirocco.cli import roles

    settings = http.settings(transport=transport)
    try:
        roles.run_api(
            settings,
            host=http.host,
            port=http.port,
            log_level=_server_log_level(context),
            access_log=http.access_log,
            insecure_no_auth=http.insecure_no_auth,
        )
    except errors.SiroccoError as exc:
        fail(exc.message)


@main.command()
@_role_log_level
@_health_port
@_transport
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
@_limit_option
@click.pass_context
def engine(
    context: click.Context,
    db_url: str | None,
    role_log_level: str | None,
    health_port: int | None,
    limit_values: tuple[str, ...],
    transport: str | None,
) -> None:
    """An engine alone: applies events and starts workflows from the shared database."""
    from sirocco.cli import roles

    _server_log_level(context)
    try:
        roles.run_engine(
            _role_settings(
                db_url, health_port=health_port, transport=transport, **_limits(limit_values)
            )
        )
    except errors.SiroccoError as exc:
        fail(exc.message)


@main.command()
@_role_log_level
@_health_port
@_transport
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
@click.option("--target", help="The name this executor serves (a task's `target`).")
@click.option("--workers", type=int, help="Threads running actions.")
@_limit_option
@click.pass_context
def executor(
    context: click.Context,
    db_url: str | None,
    target: str | None,
    workers: int | None,
    role_log_level: str | None,
    health_port: int | None,
    limit_values: tuple[str, ...],
    transport: str | None,
) -> None:
    """An executor alone: runs the actions the engines left for it."""
    from sirocco.cli import roles

    _server_log_level(context)
    settings = _role_settings(
        db_url,
        executor_target=target,
        executor_workers=workers,
        health_port=health_port,
        **_limits(limit_values),
        transport=transport,
    )
    try:
        roles.run_executor(settings)
    except errors.SiroccoError as exc:
        fail(exc.message)


@main.command()
@_role_log_level
@_health_port
@_transport
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
@click.pass_context
def scheduler(
    context: click.Context,
    db_url: str | None,
    role_log_level: str | None,
    health_port: int | None,
    transport: str | None,
) -> None:
    """The scheduler alone: delivers due timers and cron triggers to the engines."""
    from sirocco.cli import roles

    _server_log_level(context)
    try:
        roles.run_scheduler(_role_settings(db_url, health_port=health_port, transport=transport))
    except errors.SiroccoError as exc:
        fail(exc.message)


@main.command("actions")
@click.argument("patterns", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def actions_command(patterns: tuple[str, ...], as_json: bool) -> None:
    """List the Python actions installed here (std.* and mistral.actions entry points),
    optionally only those matching PATTERNS such as 'acme.*'."""
    from sirocco.cli import actions

    found = actions.list_actions(patterns)
    click.echo(actions.as_json(found) if as_json else actions.as_text(found))
    if patterns and not found:
        fail(f"no action matches {' '.join(patterns)}", 1)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
def db_upgrade(db_url: str | None) -> None:
    """Apply the schema migrations the database lacks."""
    from sirocco.store import migrate
    from sirocco.store.database import Database

    def upgrade() -> str:
        database = Database(db_url)
        migrate.upgrade(database)
        return f"database at revision {migrate.current(database)}"

    _echo_database_answer(upgrade, "can't upgrade the database")


@db.command("current")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
def db_current(db_url: str | None) -> None:
    """Tell the database's schema revision and whether `sirocco db upgrade` has work to do."""
    from sirocco.cli import schema

    _echo_database_answer(lambda: schema.current_text(db_url), "can't read the database")


@db.command("history")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Mark the revision of this database.")
def db_history(db_url: str | None) -> None:
    """List the schema revisions this version of Sirocco ships, oldest first."""
    from sirocco.cli import schema

    _echo_database_answer(lambda: schema.history_text(db_url), "can't read the database")


def _echo_database_answer(answer: Callable[[], str], failure: str) -> None:
    """Print what ``answer`` says; a Sirocco error or a driver error is one line, not a
    traceback (``failure`` starts the driver error's line)."""
    try:
        click.echo(answer())
    except errors.SiroccoError as exc:
        fail(exc.message)
    except Exception as exc:  # driver errors: one line, not a traceback
        fail(f"{failure}: {type(exc).__name__}: {exc}")


main.add_command(tokens.token)
main.add_command(config.config_group)
main.add_command(inspect.explain_command)
main.add_command(inspect.executions_command)
main.add_command(inspect.show_command)
main.add_command(timeline.logs_command)


if __name__ == "__main__":  # pragma: no cover
    main()


def entry() -> None:
    """The console script: a bug shows as one line (and the log), never as a traceback."""
    try:
        main()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", EXIT_FAILED)
    except Exception as exc:
        logging.getLogger("sirocco").debug("unexpected error", exc_info=True)
        fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_FAILED)
