"""A real embedded Sirocco (engine, executor, API) behind a test client, for Mistral comparisons."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.cli.embedded import open_embedded


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: pathlib.Path = tmp_path_factory.mktemp("compat")
    embedded = open_embedded(f"sqlite:///{folder / 'sirocco.sqlite'}")
    try:
        with TestClient(create_app(embedded.service), base_url="http://sirocco.test") as found:
            yield found
    finally:
        embedded.close()
