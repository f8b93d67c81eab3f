"""A start waits for the engine without holding one of the API's worker threads."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

import anyio.to_thread
import httpx
from api_fakes import FakeService

from sirocco.api.app import create_app
from sirocco.runtime.work import Started
from sirocco.store.database import Database
from tests.waiting import BOUND

WORKFLOW = """version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
"""


class SlowEngine(FakeService):
    """Stores the execution at once, but answers the start only when the test says so."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.release = threading.Event()
        self.asked = threading.Event()

    def start_workflow(self, **arguments: Any) -> str:
        # As the real service waits.
        return self.request_start(**arguments).result(BOUND).execution_id

    def request_start(self, **arguments: Any) -> Future[Started]:
        execution_id = super().start_workflow(**arguments)
        answer: Future[Started] = Future()

        def engine_commits() -> None:
            self.release.wait(BOUND)
            answer.set_result(Started(execution_id))

        threading.Thread(target=engine_commits, daemon=True).start()
        self.asked.set()
        return answer


def test_a_waiting_start_leaves_the_thread_pool_to_other_requests(database: Database) -> None:
    service = SlowEngine(database)

    async def scenario() -> None:
        # One worker thread only: a start that held it while waiting for the engine
        # would keep every other (sync) route from answering.
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://sirocco.test") as api:
            upload = await api.post(
                "/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"}
            )
            assert upload.status_code == 201, upload.text
            posting = asyncio.ensure_future(
                api.post("/v2/executions", json={"workflow_name": "wf"})
            )
            with anyio.fail_after(BOUND):
                while not service.asked.is_set():
                    await asyncio.sleep(0.01)
                listed = await api.get("/v2/executions")
            assert listed.status_code == 200
            assert not posting.done()  # still waiting for the engine
            service.release.set()
            with anyio.fail_after(BOUND):
                created = await posting
            assert created.status_code == 201, created.text
            assert created.json()["state"] == "RUNNING"
            assert created.json()["id"] == listed.json()["executions"][0]["id"]

    asyncio.run(scenario())
