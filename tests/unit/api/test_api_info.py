"""``GET /info`` answered as Mistral 23 answers it (each answer read from the oracle).

Mistral 23 serves it at the root (``/info``; ``/v2/info`` is a 404 there too),
without a token, off by default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_fakes import FakeService
from fastapi.testclient import TestClient

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.api.info import InfoSettings
from sirocco.settings import Settings

INFO = {"build": {"version": "23.0.0", "commit": "abc"}, "list": [1, 2]}


def _client(service: FakeService, settings: InfoSettings | None, **options: object) -> TestClient:
    return TestClient(create_app(service, info_settings=settings, **options))  # type: ignore[arg-type]


def test_disabled_by_default_as_in_mistral(client: TestClient) -> None:
    # Mistral 23, default configuration: 400 {"faultstring": "Info endpoint disabled."}
    answer = client.get("/info")
    assert answer.status_code == 400
    assert answer.json() == {"faultstring": "Info endpoint disabled."}
    # Mistral 23: GET /v2/info is 404 (the route lives at the root only).
    assert client.get("/v2/info").status_code == 404


def test_enabled_serves_the_file_as_it_is(service: FakeService, tmp_path: Path) -> None:
    path = tmp_path / "info.json"
    path.write_text(json.dumps(INFO))
    with _client(service, InfoSettings(enabled=True, path=str(path))) as client:
        # Mistral 23 with enable_info_endpoint = True: 200 and the file's JSON.
        answer = client.get("/info")
        assert answer.status_code == 200
        assert answer.json() == INFO
        path.write_text(json.dumps({"changed": True}))  # read at each request
        assert client.get("/info").json() == {"changed": True}
        path.unlink()
        # Mistral 23, the file gone: 400 {"faultstring": "Incorrect path to info json file."}
        answer = client.get("/info")
        assert (answer.status_code, answer.json()) == (
            400,
            {"faultstring": "Incorrect path to info json file."},
        )
        # Mistral 23 answers a file that is not JSON with an empty 500; Sirocco names the file.
        path.write_text("{bad")
        answer = client.get("/info")
        assert answer.status_code == 500
        assert answer.json()["faultstring"].startswith(f"The info json file {path} can't be read")


def test_needs_no_token(service: FakeService, tmp_path: Path) -> None:
    path = tmp_path / "info.json"
    path.write_text(json.dumps(INFO))
    gate = authentication.gate_for("tokens", Settings(), service.database)
    with _client(service, InfoSettings(enabled=True, path=str(path)), gate=gate) as client:
        assert client.get("/info").json() == INFO
        assert client.get("/v2/workflows").status_code == 401


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("FALSE", False), ("1", True), ("off", False)]
)
def test_the_settings_read_mistrals_options(text: str, expected: bool) -> None:
    settings = Settings.load(
        environ={"SIROCCO_ENABLE_INFO_ENDPOINT": text, "SIROCCO_INFO_JSON_FILE_PATH": "/etc/i.json"}
    )
    assert settings.enable_info_endpoint is expected
    assert settings.info_json_file_path == "/etc/i.json"


def test_a_setting_that_is_not_yes_or_no_is_refused() -> None:
    from sirocco import errors

    with pytest.raises(errors.ConfigurationError, match="enable_info_endpoint"):
        Settings.load(environ={"SIROCCO_ENABLE_INFO_ENDPOINT": "maybe"})
