"""``GET /info``: a JSON file describing this deployment, served as Mistral serves it.

Off by default, as in Mistral (``[api] enable_info_endpoint = False``): the route
then answers 400 ``Info endpoint disabled.``. Enabled
(``SIROCCO_ENABLE_INFO_ENDPOINT=true``), it answers the content of
``SIROCCO_INFO_JSON_FILE_PATH`` (``info.json`` in the working directory by default),
read at each request so that a deployment can change it without a restart.
Like Mistral's, the route needs no token: it says only what an operator put in the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from sirocco.api import deps
from sirocco.api.render import MistralJSONResponse

router = APIRouter(route_class=deps.StrictRoute, tags=["info"])


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoSettings:
    """Whether ``GET /info`` answers, and the file it serves."""

    enabled: bool = False
    path: str = "info.json"


def _refusal(message: str) -> Response:
    # Mistral's info controller answers its own short error body, not the usual one.
    return MistralJSONResponse({"faultstring": message}, status_code=400)


@router.get("/info")
def info(request: Request) -> Response:
    """The deployment's info JSON file, when the operator enabled it."""
    settings: InfoSettings = getattr(request.app.state, "info", None) or InfoSettings()
    if not settings.enabled:
        return _refusal("Info endpoint disabled.")
    path = Path(settings.path)
    if not path.is_file():
        return _refusal("Incorrect path to info json file.")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # The operator's file is broken: a server error that names it (Mistral: a traceback).
        return MistralJSONResponse(
            {"faultstring": f"The info json file {settings.path} can't be read as JSON: {exc}"},
            status_code=500,
        )
    return MistralJSONResponse(content)
