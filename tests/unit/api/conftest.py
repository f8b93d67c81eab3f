"""Fixtures for the API tests: a migrated SQLite database, a fake service, a test client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_fakes import FakeService
from fastapi.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.store import migrate
from sirocco.store.database import Database


@pytest.fixture(scope="session")
def migrated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once and copied for each test (migrations take time)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    template = Database(f"sqlite:///{path}")
    migrate.upgrade(template)
    with template.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    template.dispose()
    return path


@pytest.fixture
def database(tmp_path: Path, migrated_file: Path) -> Iterator[Database]:
    path = tmp_path / "api.sqlite"
    shutil.copyfile(migrated_file, path)
    found = Database(f"sqlite:///{path}")
    yield found
    found.dispose()


@pytest.fixture
def service(database: Database) -> FakeService:
    return FakeService(database)


@pytest.fixture
def client(service: FakeService) -> Iterator[TestClient]:
    with TestClient(create_app(service), base_url="http://sirocco.test") as test_client:
        yield test_client
