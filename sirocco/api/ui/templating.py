"""The Jinja2 environment of the pages, their filters, and page responses."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import jinja2
from fastapi import Request
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import JsonLexer, YamlLexer
from starlette.responses import HTMLResponse

from sirocco.api.ui import svg

_FORMATTER = HtmlFormatter(cssclass="highlight")


def pretty_json(value: Any) -> str:
    """A value as indented JSON (text that is not JSON stays as it is)."""
    if value is None:
        return "null"
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def highlight_yaml(text: str) -> str:
    """YAML text as highlighted HTML (pygments escapes it)."""
    return str(highlight(text or "", YamlLexer(), _FORMATTER))


def highlight_json(value: Any) -> str:
    """A value as highlighted, indented JSON HTML."""
    return str(highlight(pretty_json(value), JsonLexer(), _FORMATTER))


def when(value: datetime | str | None) -> str:
    """A stored (naive UTC) time as ``2026-12-07 06:55:46`` (whole seconds)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:19]
    return value.strftime("%Y-%m-%d %H:%M:%S")


@functools.cache
def highlight_css() -> str:
    """The style sheet of the highlighted definitions."""
    return str(_FORMATTER.get_style_defs(".highlight"))


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment (templates are package data of ``sirocco.api.ui``)."""
    loaded = jinja2.Environment(
        loader=jinja2.PackageLoader("sirocco.api.ui", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    loaded.filters["pretty_json"] = pretty_json
    loaded.filters["when"] = when
    loaded.filters["svg"] = lambda drawn, statuses, workflow_view: svg.draw(
        drawn, statuses, workflow_view=workflow_view
    )
    loaded.filters["yaml_html"] = lambda text: Markup(highlight_yaml(text))
    loaded.filters["json_html"] = lambda value: Markup(highlight_json(value))
    return loaded


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page (its header names the caller's project: ``viewer``, when known)."""
    context.setdefault("viewer", getattr(request.state, "viewer", None))
    html = environment().get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def error_page(request: Request, message: str, status: int) -> HTMLResponse:
    """A page that says what went wrong, with its HTTP status."""
    return page(request, "error.html", status=status, message=message, title=f"Error {status}")
