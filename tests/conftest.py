"""Shared fixtures: service availability checks and fresh databases."""

from __future__ import annotations

import os
import signal
import socket
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.fixture_failures import pytest_runtest_makereport  # noqa: F401 - the hook

# Property tests judge results, never speed: a loaded machine must not fail them.
settings.register_profile("sirocco", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sirocco")

PG_URL = os.environ.get("SIROCCO_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("SIROCCO_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_reaches_children() -> Iterator[None]:
    """Ctrl-C as a terminal gives it. A shell without job control starts a background job
    (``make test &`` in a script) with SIGINT ignored, and every process it starts
    inherits that: the commands the Ctrl-C tests interrupt would never see the signal.
    A handler of this process's own is reset to the default in the children it starts."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/sirocco.sqlite"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    yield from fresh_postgres("sirocco_test")


def fresh_postgres(prefix: str) -> Iterator[str]:
    """Yield the URL of a new PostgreSQL database named ``<prefix>_<random>``, dropped
    when the generator closes (skips the test when PostgreSQL is not running)."""
    if not port_open(5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/sirocco.sqlite"
    return str(request.getfixturevalue("postgres_url"))
