"""The API tests' fake service stands in for the runtime's ``Service``, the one definition
of the engine operations the API calls (``deps.EngineService``): same methods, same
parameters, so a change of a signature cannot pass the API tests unnoticed."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from api_fakes import FakeService

from sirocco.api import deps
from sirocco.runtime.service import Service


def _shape(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    return [
        (parameter.name, parameter.kind, parameter.default)
        for parameter in inspect.signature(function).parameters.values()
    ]


def test_the_api_types_the_service_as_the_runtime_defines_it() -> None:
    assert deps.EngineService is Service


def test_the_fake_has_the_services_signatures() -> None:
    public = [name for name in vars(FakeService) if not name.startswith("_")]
    assert "start_workflow" in public and "run_action" in public
    for name in public:
        fake = getattr(FakeService, name)
        assert hasattr(Service, name), f"Service has no {name}: the fake answers a call it lacks"
        parameters = inspect.signature(fake).parameters.values()
        if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
            continue  # forwards whatever it is given (request_start -> start_workflow)
        assert _shape(fake) == _shape(getattr(Service, name)), name
