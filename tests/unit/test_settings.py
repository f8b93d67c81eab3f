"""Settings from variables and options: converted to their types, checked against their bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sirocco import compose, errors
from sirocco.settings import Settings


def test_variables_are_converted_and_options_win() -> None:
    settings = Settings.load(
        {"executor_workers": 4, "db": None},
        environ={
            "SIROCCO_EXECUTOR_WORKERS": "8",
            "SIROCCO_HEARTBEAT_INTERVAL": "2.5",
            "SIROCCO_HEARTBEAT_FIRST_TIMEOUT": "7",
            "SIROCCO_AUTH": "oidc",
            "SIROCCO_DB": "/tmp/x.sqlite",
            "SIROCCO_EXPRESSION_MAX_ITEMS": "-1",
        },
    )
    assert settings.executor_workers == 4
    assert settings.heartbeat_interval == 2.5
    assert settings.heartbeat_first_timeout == 7.0
    assert isinstance(settings.heartbeat_first_timeout, float)
    assert settings.auth == "oidc"
    assert settings.db == "/tmp/x.sqlite"  # an option given as None leaves the variable
    assert settings.limits().expression_max_items == -1


def test_defaults() -> None:
    settings = Settings.load(environ={})
    assert settings == Settings()
    assert (settings.executor_workers, settings.auth, settings.transport) == (32, None, "memory://")
    timing = compose.heartbeat_timing(settings)
    assert timing.first_lease == timing.lease == timedelta(seconds=15)
    assert settings.heartbeat_untaken_timeout == 3600.0  # Mistral's first_heartbeat_timeout


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SIROCCO_EXECUTOR_WORKERS": "many"}, "executor_workers: Input should be a valid integer"),
        ({"SIROCCO_EXECUTOR_WORKERS": "0"}, "executor_workers: Input should be greater than or"),
        ({"SIROCCO_EXECUTOR_WORKERS": "2000"}, "executor_workers: Input should be less than or"),
        ({"SIROCCO_HEARTBEAT_INTERVAL": "0"}, "heartbeat_interval: Input should be greater than 0"),
        ({"SIROCCO_HEARTBEAT_INTERVAL": "soon"}, "heartbeat_interval: Input should be a valid"),
        (
            {"SIROCCO_HEARTBEAT_UNTAKEN_TIMEOUT": "-1"},
            "heartbeat_untaken_timeout: Input should be greater than or equal to 0",
        ),
        ({"SIROCCO_AUTH": "ldap"}, "auth: Input should be one of 'none', 'tokens'"),
        ({"SIROCCO_EXPRESSION_MAX_ITEMS": "-2"}, "expression_max_items: Input should be greater"),
    ],
)
def test_a_bad_value_names_its_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=f"^Invalid setting {message}"):
        Settings.load(environ=environ)


def test_settings_are_checked_when_made_directly_too() -> None:
    with pytest.raises(errors.ConfigurationError, match="auth"):
        Settings(auth="ldap")  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigurationError, match="executor_workers"):
        Settings(executor_workers=True)
    with pytest.raises(errors.ConfigurationError, match="no such setting"):
        Settings.load({"colour": "blue"}, environ={})


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.db = "elsewhere"  # type: ignore[misc]
