"""Who may see the pages: the one dependency every page of the web view goes through.

The web view applies the API's own rules. The API has no caller identity yet,
so :func:`viewer` lets every request through; when the API gains one, this is
the one place that takes it on, and every page follows.
"""

from __future__ import annotations

from fastapi import Request


async def viewer(request: Request) -> None:
    """Let the request see the pages (the API itself is open to every caller today)."""
    return None
