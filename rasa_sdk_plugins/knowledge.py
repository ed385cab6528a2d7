"""The action server answers with what was last published, without a restart.

Every `HELPDESK_KB_REFRESH_SECONDS` the action server compares the knowledge base's revision
(one row in the helpdesk database, counted up by every publication in the desk or
`helpdesk kb import`) with the one its retriever was built from; when it moved on, the
services build the next retriever in a thread (reusing the vectors of the rows that did not
change, calibrating again) and swap it in (`helpdesk.services.Services.refresh_knowledge`).
A question never waits for the rebuild and never sees a half-built index. Several action
servers (`make run-cluster`) each do the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Callable

import pluggy
from sanic import Sanic

logger = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("rasa_sdk")


async def watch(current: Callable[[], Any], interval: float) -> None:
    """Until cancelled: every `interval` seconds, swap in the retriever of a newer revision."""
    while True:
        await asyncio.sleep(interval)
        services = current()
        try:
            swapped = await asyncio.to_thread(services.refresh_knowledge)
        except Exception as exc:  # the database, a bad entry: the old retriever goes on
            logger.error(
                "knowledge base: could not load revision (%s: %s); still answering with "
                "revision %s",
                type(exc).__name__,
                exc,
                services.retriever_revision,
            )
            continue
        if swapped:
            logger.info(
                "knowledge base: answering with revision %s (%d entries)",
                services.retriever_revision,
                len(services.retriever.index.entries),
            )


def attach(app: Sanic, services: Any = None) -> None:
    """Watch the knowledge base while the action server runs.

    Args:
        app: The action server's Sanic app.
        services: The helpdesk services (default: the process-wide ones).
    """

    def current() -> Any:
        if services is not None:
            return services
        from helpdesk.services import get_services

        return get_services()

    task: list[asyncio.Task] = []

    async def start(app: Sanic, loop: Any) -> None:
        interval = current().settings.kb_refresh_seconds
        if interval > 0:
            task.append(asyncio.get_running_loop().create_task(watch(current, interval)))

    async def stop(app: Sanic, loop: Any) -> None:
        for running in task:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    app.register_listener(start, "after_server_start")
    app.register_listener(stop, "before_server_stop")


@hookimpl
def attach_sanic_app_extensions(app: Any) -> None:
    """rasa-sdk's hook, called once the app exists and before it is served."""
    attach(app)
