"""The warm-up a server sends itself before serving: answered, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sirocco.api.app import create_app
from sirocco.api.warmup import REQUESTS, warm_up
from sirocco.cli.embedded import open_embedded
from sirocco.store import tables


def test_warm_up_is_answered_and_changes_nothing(tmp_path: Path) -> None:
    app = open_embedded(f"sqlite:///{tmp_path / 'warm.sqlite'}", start=False)
    try:
        statuses = warm_up(create_app(app.service))
        assert len(statuses) == len(REQUESTS)
        # Reads succeed; the lookups of things that do not exist answer 404, the
        # refused start too: no request may fail inside the server.
        for (method, path, _, _), status in zip(REQUESTS, statuses, strict=True):
            assert status in (200, 404), (method, path, status)
        assert statuses[-1] == 404  # POST /v2/executions of a missing workflow
        with app.parts.database.read() as connection:
            for table in (tables.workflow_executions, tables.outbox, tables.workflow_definitions):
                count = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                assert count == 0, table.name
    finally:
        app.close()
